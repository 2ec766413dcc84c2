"""What the OpenAPI schema must say that drf-spectacular leaves out, so that
it describes exactly what the server accepts (schemathesis checks both ways)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class StrictSerializerExtension(OpenApiSerializerExtension):
    """StrictSerializer refuses fields it does not know: additionalProperties
    false on requests; and a list that may not be empty, or has a maximum
    length, says so (minItems, maxItems)."""

    target_class = "core.api.StrictSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            schema["additionalProperties"] = False
        for name, field in self.target.fields.items():
            prop = schema.get("properties", {}).get(name)
            if prop is None or not isinstance(field, serializers.ListSerializer):
                continue
            if not field.allow_empty:
                prop["minItems"] = 1
            # DRF >= 3.14 has max_length on lists; the stubs do not know it.
            max_length = getattr(field, "max_length", None)
            if max_length is not None:
                prop["maxItems"] = max_length
        return schema

from __future__ import annotations

import copy
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from core.errors import ApplicationError, ValidationFailed


def caller_id(request: Request) -> int:
    """The id of the authenticated user making the request.

    Views call this behind IsAuthenticated, so an anonymous caller here is a
    401 rather than a query for user None."""
    user_id: int | None = request.user.pk
    if user_id is None:
        raise ApplicationError(
            _("Authentication credentials were not provided."),
            code="not_authenticated",
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    return user_id


class Pagination(PageNumberPagination):
    """Pages of at most 100; a page or page_size that is not a whole number
    in range is a 400 (DRF would silently use the default page size)."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int | None:
        self._whole_number(request, self.page_query_param, 1, None)
        size = self._whole_number(request, self.page_size_query_param, 1, self.max_page_size)
        return size if size is not None else self.page_size

    def _whole_number(self, request: Request, name: str, low: int, high: int | None) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        if not raw.isascii() or not raw.isdigit() or int(raw) < low or (high and int(raw) > high):
            message = (
                _("Use a whole number from %(low)d to %(high)d.") % {"low": low, "high": high}
                if high
                else _("Use a whole number from %(low)d up.") % {"low": low}
            )
            raise ValidationFailed(fields={name: [message]})
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["maximum"] = self.max_page_size
        return parameters


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field]:
        # Added here, not declared on the class: a "fields" attribute would
        # shadow Serializer.fields.
        fields = super().get_fields()
        fields["fields"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField())
        )
        return fields


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer, description="Error") for code in statuses}


LANG_PARAMETER = OpenApiParameter(
    "lang",
    str,
    enum=["ru", "zh-hans", "en"],
    description="The answer's language (labels, messages), over Accept-Language.",
)

# 1-255 characters, no control character but the tab (core.idempotency refuses
# the rest), neither starting nor ending with a space (HTTP strips those).
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 255,
    "pattern": "^[^\\s\\x00-\\x1f\\x7f]([^\\x00-\\x08\\x0a-\\x1f\\x7f]*[^\\s\\x00-\\x1f\\x7f])?$",
}

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type=IDEMPOTENCY_KEY_SCHEMA,
    location=OpenApiParameter.HEADER,
    required=False,
    description="1-255 characters; the same key and body replay the first response.",
)
IDEMPOTENCY_HEADER_REQUIRED = OpenApiParameter(
    name="Idempotency-Key",
    type=IDEMPOTENCY_KEY_SCHEMA,
    location=OpenApiParameter.HEADER,
    required=True,
    description="1-255 characters; the same key and body replay the first response.",
)


class StrictSerializer(serializers.Serializer):
    """Rejects fields it does not know, so a client cannot believe it set a
    price, status or merchant that was silently ignored."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # DRF deep-copies every declared field for every instance, which runs
        # each field's __init__ again: most of the cost of validating a
        # checkout. A shallow copy of a plain field is enough, as nothing here
        # changes a field's validators, messages or choices in place (binding
        # sets attributes on the copy); nested serializers are still deep-copied.
        return {
            name: copy.deepcopy(field)
            if isinstance(field, serializers.BaseSerializer)
            else copy.copy(field)
            for name, field in self._declared_fields.items()
        }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


class JSONBooleanField(serializers.BooleanField):
    """A JSON body's true or false, nothing else: DRF's own field also takes
    1, "yes" and "on" (form posts), which the schema does not offer and a
    client should not rely on."""

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)
        raise AssertionError("unreachable")


class MoneySerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    currency = serializers.CharField()


# Any operation may answer these through the framework (bad JSON, auth,
# permissions, unknown ids, wrong method or media type, an over-size body,
# throttling).
COMMON_ERROR_STATUSES = ("400", "401", "403", "404", "405", "406", "413", "415", "429")


def schema_add_common_errors(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: document the one error shape for
    every status the framework itself may return."""
    error_ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for status_code in COMMON_ERROR_STATUSES:
                responses.setdefault(
                    status_code,
                    {
                        "content": {"application/json": {"schema": error_ref}},
                        "description": "Error",
                    },
                )
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "Error",
        {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
            "required": ["code", "message", "fields"],
        },
    )
    return result


PDF = {200: OpenApiResponse(OpenApiTypes.BINARY, description="PDF (application/pdf)")}
CSV = {200: OpenApiResponse(OpenApiTypes.STR, description="CSV (text/csv, UTF-8)")}


def pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def csv_response(content: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

"""URL path converters for the ids the API takes in its paths.

A path segment that cannot be one of these ids (a NUL byte, a thousand
characters, letters in a number) matches no route, so it is a 404 before any
view runs: no query with text the database refuses, no Idempotency-Key row for
a path longer than its column. drf-spectacular copies each `regex` into the
schema as the parameter's pattern.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.urls import register_converter
from django.urls.converters import get_converters


class _Text:
    regex: ClassVar[str]

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: Any) -> str:
        return str(value)


class OrderNumberConverter(_Text):
    # orders.services: "AM", the year and month (yymm), ten characters.
    regex = "AM[0-9]{4}[0-9A-Z]{10}"


class FulfilmentOrderNumberConverter(_Text):
    # The order's number, a dash and the part's place in it.
    regex = "AM[0-9]{4}[0-9A-Z]{10}-[0-9]{1,3}"


class TrackingNumberConverter(_Text):
    # UPU S10 (two letters, eight digits, a check digit, the country); the
    # views upper-case it, so lower case is let through.
    regex = "[A-Za-z]{2}[0-9]{9}[A-Za-z]{2}"


class WarehouseCodeConverter(_Text):
    # Warehouse.code is at most 8 characters, e.g. HRB, SFH.
    regex = "[A-Za-z0-9_-]{1,8}"


class LaneCodeConverter(_Text):
    # Lane.code is at most 20 characters, e.g. HRB-SVX-AIR.
    regex = "[A-Za-z0-9_-]{1,20}"


class SandboxReferenceConverter(_Text):
    # payments.providers.sandbox: "sbx_" and 24 hex digits of a digest.
    regex = "sbx_[0-9a-f]{24}"


class IdConverter:
    """A database id: 1 to 18 digits, no leading zero, so always below the
    largest bigint (19 digits) and never 0."""

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


CONVERTERS: dict[str, type] = {
    "order": OrderNumberConverter,
    "part": FulfilmentOrderNumberConverter,
    "s10": TrackingNumberConverter,
    "warehouse": WarehouseCodeConverter,
    "lane": LaneCodeConverter,
    "sandbox_ref": SandboxReferenceConverter,
    "id": IdConverter,
}


def converters_register() -> None:
    """Register the converters under their names; a second call (the URLconf
    imported again) leaves them be, as Django 6 refuses to replace one."""
    registered = get_converters()
    for name, converter in CONVERTERS.items():
        if not isinstance(registered.get(name), converter):
            register_converter(converter, name)

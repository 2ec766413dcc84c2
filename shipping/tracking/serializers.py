from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

from core.api import StrictSerializer
from shipping.lastmile.serializers import PickupPointSerializer
from shipping.tracking.events import COURIER_EVENTS, EVENT_REASONS
from shipping.tracking.models import TrackingEvent

MAX_SCANS_PER_REQUEST = 1000


class LocalDateTimeField(serializers.DateTimeField):
    """Keeps the offset the value carries: DRF's field would move it to the
    current time zone (UTC)."""

    def to_representation(self, value: datetime) -> str:
        return value.isoformat()


class TrackingEventSerializer(serializers.ModelSerializer):
    description = serializers.CharField(help_text="What happened, in the request's language.")
    occurred_at_local = LocalDateTimeField(
        help_text="occurred_at in the delivery region's time zone (time_zone), with its offset."
    )
    place = serializers.CharField(help_text="location by name, in the request's language.")
    reason = serializers.CharField(help_text="Why, where the event has a reason (customs holds).")
    reason_display = serializers.CharField()

    class Meta:
        model = TrackingEvent
        fields = [
            "event",
            "description",
            "status",
            "emsevt",
            "occurred_at",
            "occurred_at_local",
            "location",
            "place",
            "reason",
            "reason_display",
        ]


class PromiseSerializer(serializers.Serializer):
    min_days = serializers.IntegerField()
    max_days = serializers.IntegerField()
    earliest = serializers.DateField()
    latest = serializers.DateField()


class TrackingSerializer(serializers.Serializer):
    tracking_number = serializers.CharField()
    status = serializers.CharField()
    status_display = serializers.CharField()
    final = serializers.BooleanField(
        help_text="Delivered, returned or expired: nothing more is expected."
    )
    delivered_at = serializers.DateTimeField(allow_null=True)
    time_zone = serializers.CharField(help_text="The delivery region's IANA time zone.")
    promised = PromiseSerializer(help_text="The window promised at packing.")
    carrier = serializers.CharField(allow_blank=True)
    carrier_number = serializers.CharField(allow_blank=True)
    pickup_point = PickupPointSerializer(allow_null=True)
    events = TrackingEventSerializer(many=True)


class ScanSerializer(StrictSerializer):
    scan_id = serializers.CharField(max_length=64)
    tracking_number = serializers.CharField(max_length=13)
    event = serializers.ChoiceField(choices=COURIER_EVENTS)
    occurred_at = serializers.DateTimeField()
    location = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        help_text="cash_collected only: the cash taken from the buyer.",
    )
    currency = serializers.ChoiceField(choices=["RUB"], required=False)
    reason = serializers.ChoiceField(
        choices=EVENT_REASONS,
        required=False,
        help_text="Required on customs_held (documents, valuation, prohibited, inspection,"
        " duties) and delivery_failed (refused, absent, wrong_address, damaged, other; a"
        " refused cash-on-delivery order counts against the buyer).",
    )


# Each text field's (allow_blank, max_length), read once from the serializer.
_SCAN_TEXT = {
    name: (field.allow_blank, field.max_length)
    for name, field in ScanSerializer._declared_fields.items()
    if isinstance(field, serializers.CharField)
}


_SCAN_FAST_KEYS = frozenset({"scan_id", "tracking_number", "event", "occurred_at", "location"})


_SCAN_EVENTS = frozenset(COURIER_EVENTS)


def _scan_time(text: str, zone: tzinfo) -> datetime | None:
    """What DateTimeField makes of an ISO 8601 time with an offset (moved to
    the current time zone, `zone`); None for anything else, which the
    serializer then judges. DateTimeField itself, which looks the current
    zone up for every value, spent most of a scan's validation."""
    try:
        parsed = parse_datetime(text)
        if parsed is None or parsed.tzinfo is None:
            return None
        return parsed.astimezone(zone)
    except (ValueError, OverflowError):
        return None


def _scan_text(value: Any, name: str) -> str | None:
    """What ScanSerializer's CharField `name` makes of a string it accepts
    (stripped); None for anything it might refuse or coerce."""
    if type(value) is not str:
        return None
    allow_blank, max_length = _SCAN_TEXT[name]
    text = value.strip()
    if not text:
        return "" if allow_blank else None
    if (max_length is not None and len(text) > max_length) or "\x00" in text:
        return None
    if not text.isascii():
        try:
            text.encode()  # fails on surrogates, which CharField refuses
        except UnicodeEncodeError:
            return None
    return text


def _scan_fast(raw: Mapping[str, Any], zone: tzinfo) -> dict[str, Any] | None:
    """ScanSerializer's validated data for a plain, well-formed scan, or None
    when the serializer itself must look at it."""
    if not raw.keys() <= _SCAN_FAST_KEYS:
        return None  # cash fields, a failure reason, or unknown ones
    scan_id = _scan_text(raw.get("scan_id"), "scan_id")
    number = _scan_text(raw.get("tracking_number"), "tracking_number")
    event, at = raw.get("event"), raw.get("occurred_at")
    if not scan_id or not number or type(event) is not str or event not in _SCAN_EVENTS:
        return None
    if type(at) is not str:
        return None
    occurred_at = _scan_time(at, zone)
    if occurred_at is None:
        return None
    location = _scan_text(raw["location"], "location") if "location" in raw else ""
    if location is None:
        return None
    return {
        "scan_id": scan_id,
        "tracking_number": number,
        "event": event,
        "occurred_at": occurred_at,
        "location": location,
    }


def scan_validate(
    raw: Mapping[str, Any], *, zone: tzinfo | None = None
) -> tuple[dict[str, Any] | None, Any]:
    """`ScanSerializer(data=raw)`: (validated data, None) or (None, errors).

    A batch holds up to 1,000 scans, and building a serializer per scan costs
    more than storing it. A plain, well-formed scan is checked directly, with
    the same rules and the same result; anything else (cash fields, unknown
    fields, wrong types, any error) goes through the serializer, so refusals
    carry exactly its messages."""
    data = _scan_fast(raw, zone or timezone.get_current_timezone())
    if data is not None:
        return data, None
    serializer = ScanSerializer(data=raw)
    if serializer.is_valid():
        return dict(serializer.validated_data), None
    return None, serializer.errors


class _ScanObjectField(serializers.DictField):
    """A scan object as sent: scan_validate checks its fields, one scan at a
    time. DictField would also run a no-op validation per value, a thousand
    scans' worth of copies per batch."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        return data


class _ScanListField(serializers.ListField):
    """The batch's list of scan objects. When every item is an object, the
    list is what each child's validation would make of it; ListField's
    per-item run (an exception frame and validator walk for each of a
    thousand scans) is kept for lists holding anything else, for its errors."""

    def run_child_validation(self, data: list[Any]) -> list[Any]:
        if all(type(item) is dict for item in data):
            return list(data)
        return super().run_child_validation(data)


class ScanBatchSerializer(StrictSerializer):
    scans = _ScanListField(
        child=_ScanObjectField(), allow_empty=False, max_length=MAX_SCANS_PER_REQUEST
    )


class ScanRejectionSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    scan_id = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    message = serializers.CharField()


class ScanResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = ScanRejectionSerializer(many=True)

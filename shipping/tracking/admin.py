from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from core.admin_base import (
    MerchantReadableAdmin,
    OperatorOnlyReadOnlyAdmin,
    ReadOnlyAdmin,
)
from shipping.tracking.models import PendingEvent, TrackingEvent


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdmin, MerchantReadableAdmin):
    merchant_lookup = "parcel__fulfilment_order__merchant"
    list_display = ("parcel", "event", "status", "emsevt", "occurred_at", "source", "location")
    list_filter = ("event", "source")
    search_fields = ("parcel__tracking_number", "scan_id")


@admin.register(PendingEvent)
class PendingEventAdmin(OperatorOnlyReadOnlyAdmin):
    """Courier scans stored but not yet applied to their parcels. A few for a
    second or two is normal; a growing or ageing list means no Celery worker
    is applying them."""

    list_display = ("parcel", "event_name", "occurred_at", "recorded_at")
    list_select_related = ("parcel", "event")
    ordering = ("event_id",)
    search_fields = ("parcel__tracking_number", "event__scan_id")

    @admin.display(description=_("event"), ordering="event__event")
    def event_name(self, obj: PendingEvent) -> str:
        return obj.event.event

    @admin.display(description=_("occurred at"), ordering="event__occurred_at")
    def occurred_at(self, obj: PendingEvent) -> Any:
        return obj.event.occurred_at

    @admin.display(description=_("recorded at"), ordering="event__recorded_at")
    def recorded_at(self, obj: PendingEvent) -> Any:
        return obj.event.recorded_at

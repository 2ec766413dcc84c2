from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin_base import OperatorOnlyAdmin, OperatorOnlyReadOnlyAdmin
from shipping.lastmile.models import CarrierShipment, PickupPoint
from shipping.lastmile.services import pickup_point_save


@admin.register(PickupPoint)
class PickupPointAdmin(OperatorOnlyAdmin):
    """The directory; the nightly sync rewrites what the carriers list."""

    list_display = ("code", "carrier", "kind", "city", "address", "cash_allowed", "is_active")
    list_filter = ("carrier", "kind", "cash_allowed", "is_active", "region")
    search_fields = ("code", "name", "city", "postcode", "address")

    def save_model(self, request: HttpRequest, obj: PickupPoint, form: Any, change: bool) -> None:
        pickup_point_save(point=obj)


@admin.register(CarrierShipment)
class CarrierShipmentAdmin(OperatorOnlyReadOnlyAdmin):
    """Parcels handed to a carrier: a row staying pending means the carrier
    has not answered (see last error and next attempt)."""

    list_display = ("parcel", "carrier", "status", "reference", "attempts", "next_attempt_at")
    list_filter = ("carrier", "status")
    list_select_related = ("parcel",)
    search_fields = ("parcel__tracking_number", "parcel__carrier_number", "reference")
    exclude = ("label_pdf",)

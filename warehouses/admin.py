from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from orders.admin_scoping import MerchantScopedAdmin, ReadOnlyAdmin
from warehouses.models import Reservation, StockLevel, StockMovement, Warehouse


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "city", "country", "is_active")
    list_filter = ("kind", "country")


@admin.register(StockLevel)
class StockLevelAdmin(MerchantScopedAdmin):
    """On hand and reserved change only through movements (services)."""

    merchant_lookup = "product__merchant"
    list_display = ("product", "warehouse", "on_hand", "reserved", "available", "location")
    list_filter = ("warehouse",)
    search_fields = ("product__sku", "product__name_en", "product__name_zh")
    list_select_related = ("product", "warehouse")
    readonly_fields = ("warehouse", "product", "on_hand", "reserved")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "stock__product__merchant"
    list_display = (
        "stock",
        "kind",
        "on_hand_delta",
        "reserved_delta",
        "order",
        "actor",
        "created_at",
    )
    list_filter = ("kind",)
    search_fields = ("stock__product__sku", "order__number", "reason")


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "stock__product__merchant"
    list_display = ("order", "line", "stock", "quantity", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("order__number",)

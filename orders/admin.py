from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.admin_base import MerchantScopedAdmin, ReadOnlyAdmin, ReadOnlyInline
from orders.models import Order, OrderEvent, OrderLine


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("sku", "name", "merchant", "quantity", "unit_price_cny", "line_total_cny")
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("sequence", "from_status", "to_status", "actor", "reason", "created_at")
    readonly_fields = fields


class OrderAdmin(MerchantScopedAdmin):
    """Status is read-only here: it changes only through the services.

    Registered by commands (commands/admin.py) with the fulfilment actions,
    whose services lie above this app."""

    merchant_lookup = "lines__merchant"
    list_display = (
        "number",
        "buyer",
        "status",
        "payment_method",
        "total_rub",
        "region",
        "created_at",
    )
    list_filter = ("status", "payment_method", "region")
    search_fields = ("number", "buyer__user__email", "recipient_name")
    date_hierarchy = "created_at"
    list_select_related = ("buyer__user",)
    inlines = [OrderLineInline, OrderEventInline]
    readonly_fields = [f.name for f in Order._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "order__lines__merchant"
    list_display = ("order", "sequence", "from_status", "to_status", "actor", "created_at")
    list_filter = ("to_status",)
    search_fields = ("order__number",)

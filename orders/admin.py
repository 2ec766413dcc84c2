from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.admin_base import (
    MerchantScopedAdmin,
    OperatorOnlyAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    RegionFilter,
)
from core.identity import mask_phone
from core.tenancy import sees_personal_data
from orders.models import Order, OrderEvent, OrderLine, OrderRecipientIdentity


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = (
        "sku",
        "name",
        "merchant",
        "quantity",
        "unit_price_cny",
        "line_total_cny",
        "product_url",
    )
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("sequence", "from_status", "to_status", "actor", "reason", "created_at")
    readonly_fields = fields


class OrderAdmin(OperatorOnlyAdmin, MerchantScopedAdmin):
    """Status is read-only here: it changes only through the services.
    Operator staff only: an order may hold several merchants' goods, prices
    and totals; merchants' staff see their own fulfilment orders.

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
    list_filter = ("status", "payment_method", RegionFilter)
    search_fields = ("number", "buyer__user__email", "recipient_name")
    date_hierarchy = "created_at"
    list_select_related = ("buyer__user",)
    inlines = [OrderLineInline, OrderEventInline]
    readonly_fields = [
        *(f.name for f in Order._meta.fields),
        "recipient_phone_masked",
        "identity_document",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        """Staff abroad see the phone masked; the identity document is
        always masked here (customs documents carry it in full)."""
        fields = [f.name for f in Order._meta.fields if f.name != "id"]
        if not sees_personal_data(request.user):
            fields[fields.index("recipient_phone")] = "recipient_phone_masked"
        fields.insert(fields.index("street") + 1, "identity_document")
        return tuple(fields)

    @admin.display(description=_("recipient phone"))
    def recipient_phone_masked(self, obj: Order) -> str:
        return mask_phone(obj.recipient_phone)

    @admin.display(description=_("recipient's identity document"))
    def identity_document(self, obj: Order) -> str:
        saved = OrderRecipientIdentity.objects.filter(order=obj).first()
        if saved is None:
            return "—"
        return " · ".join(saved.identity().masked().values())

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "order__lines__merchant"
    list_display = ("order", "sequence", "from_status", "to_status", "actor", "created_at")
    list_filter = ("to_status",)
    search_fields = ("order__number",)

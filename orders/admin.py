from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from orders.admin_scoping import MerchantScopedAdmin, ReadOnlyAdmin, ReadOnlyInline
from orders.models import Buyer, Merchant, MerchantStaff, Order, OrderEvent, OrderLine, Product


class MerchantStaffInline(admin.TabularInline):
    model = MerchantStaff
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Merchant)
class MerchantAdmin(MerchantScopedAdmin):
    merchant_lookup = "id"
    list_display = ("code", "name", "name_zh", "city", "created_at")
    search_fields = ("code", "name", "name_zh")
    inlines = [MerchantStaffInline]


@admin.register(MerchantStaff)
class MerchantStaffAdmin(MerchantScopedAdmin):
    list_display = ("user", "merchant")
    autocomplete_fields = ["user"]


@admin.register(Product)
class ProductAdmin(MerchantScopedAdmin):
    list_display = ("sku", "name_en", "name_zh", "merchant", "price_cny", "weight_g", "is_active")
    list_filter = ("is_active", "merchant", "origin_country")
    search_fields = ("sku", "name_ru", "name_zh", "name_en", "hs_code")
    list_select_related = ("merchant",)


@admin.register(Buyer)
class BuyerAdmin(admin.ModelAdmin):
    list_display = ("user", "phone", "language", "created_at")
    search_fields = ("user__email", "phone")
    list_select_related = ("user",)


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("sku", "name", "merchant", "quantity", "unit_price_cny", "line_total_cny")
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("sequence", "from_status", "to_status", "actor", "reason", "created_at")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(MerchantScopedAdmin):
    """Status is read-only here: it changes only through the services."""

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

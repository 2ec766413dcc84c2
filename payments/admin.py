from __future__ import annotations

from django.contrib import admin

from orders.admin_scoping import MerchantScopedAdmin, ReadOnlyAdmin, ReadOnlyInline
from payments.models import ExchangeRate, Payment, PaymentEvent


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("currency", "date", "rate_to_rub", "source", "fetched_at")
    list_filter = ("currency", "source")
    date_hierarchy = "date"


class PaymentEventInline(ReadOnlyInline):
    model = PaymentEvent
    fields = ("kind", "amount", "currency", "data", "actor", "created_at")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "order__lines__merchant"
    list_display = ("order", "method", "provider", "status", "amount", "currency", "created_at")
    list_filter = ("method", "status", "provider")
    search_fields = ("order__number", "provider_reference")
    inlines = [PaymentEventInline]


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "payment__order__lines__merchant"
    list_display = ("payment", "kind", "amount", "currency", "created_at")
    list_filter = ("kind",)

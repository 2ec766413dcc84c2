from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from orders.admin_scoping import MerchantScopedAdmin, ReadOnlyAdmin, ReadOnlyInline
from orders.selectors import merchant_id_for_user
from payments.models import (
    ExchangeRate,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentEvent,
    ProviderNotification,
    Refund,
    SandboxDispatch,
)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ("currency", "date", "rate_to_rub", "source", "fetched_at")
    list_filter = ("currency", "source")
    date_hierarchy = "date"


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("amount", "currency", "method", "provider_reference", "reason", "actor", "created_at")
    readonly_fields = fields


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
    inlines = [PaymentEventInline, RefundInline]


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "payment__order__lines__merchant"
    list_display = ("payment", "kind", "amount", "currency", "created_at")
    list_filter = ("kind",)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    merchant_lookup = "payment__order__lines__merchant"
    list_display = ("payment", "amount", "currency", "method", "provider_reference", "created_at")
    list_filter = ("method",)
    search_fields = ("payment__order__number", "provider_reference")
    list_select_related = ("payment__order",)


class OperatorOnly(ReadOnlyAdmin):
    """The platform's books: operator staff only, never merchant staff."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if merchant_id_for_user(request.user) is not None:
            return False
        return super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        if merchant_id_for_user(request.user) is not None:
            return False
        return super().has_module_permission(request)


@admin.register(LedgerAccount)
class LedgerAccountAdmin(OperatorOnly):
    list_display = ("code", "name", "kind", "currency", "per_merchant")


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ("account", "merchant", "debit", "credit", "currency")
    readonly_fields = fields


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(OperatorOnly):
    list_display = ("id", "kind", "order", "payment", "memo", "created_at")
    list_filter = ("kind",)
    search_fields = ("order__number", "memo")
    list_select_related = ("order", "payment")
    date_hierarchy = "created_at"
    inlines = [LedgerEntryInline]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    """Merchant staff granted the view permission see their own sub-ledger
    (merchant_payable entries naming their merchant) and nothing else."""

    list_display = ("transaction", "account", "merchant", "debit", "credit", "currency")
    list_filter = ("account", "transaction__kind")
    search_fields = ("transaction__order__number",)
    list_select_related = ("transaction", "account", "merchant")


@admin.register(ProviderNotification)
class ProviderNotificationAdmin(OperatorOnly):
    list_display = ("provider", "event", "payment", "outcome", "received_at")
    list_filter = ("provider", "outcome")
    search_fields = ("key", "payment__provider_reference")
    list_select_related = ("payment",)


@admin.register(SandboxDispatch)
class SandboxDispatchAdmin(OperatorOnly):
    list_display = ("msg_id", "event", "reference", "attempts", "delivered_at", "last_error")
    search_fields = ("reference", "msg_id")

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from core.admin_base import (
    MerchantReadableAdmin,
    MerchantReadableInline,
    MerchantScopedAdmin,
    OperatorOnlyReadOnlyAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
)
from core.api import csv_response, pdf_response
from core.errors import ApplicationError
from core.tenancy import is_operator_staff
from payments.models import (
    SETTLEMENT_LINE_FIELDS,
    ExchangeRate,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentEvent,
    ProviderNotification,
    Refund,
    SandboxDispatch,
    SettlementLine,
    SettlementStatement,
    SettlementStatementEvent,
)
from payments.settlement import statement_build, statement_issue
from payments.statement_documents import statement_csv, statement_filename, statement_pdf


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
class PaymentAdmin(OperatorOnlyReadOnlyAdmin):
    """Operator staff only: a payment is the whole order's money, which no
    merchant of a mixed order may see (their share is on their fulfilment
    orders and statements)."""

    list_display = ("order", "method", "provider", "status", "amount", "currency", "created_at")
    list_filter = ("method", "status", "provider")
    search_fields = ("order__number", "provider_reference")
    inlines = [PaymentEventInline, RefundInline]


@admin.register(PaymentEvent)
class PaymentEventAdmin(OperatorOnlyReadOnlyAdmin):
    list_display = ("payment", "kind", "amount", "currency", "created_at")
    list_filter = ("kind",)


@admin.register(Refund)
class RefundAdmin(OperatorOnlyReadOnlyAdmin):
    list_display = ("payment", "amount", "currency", "method", "provider_reference", "created_at")
    list_filter = ("method",)
    search_fields = ("payment__order__number", "provider_reference")
    list_select_related = ("payment__order",)


@admin.register(LedgerAccount)
class LedgerAccountAdmin(OperatorOnlyReadOnlyAdmin):
    list_display = ("code", "name", "kind", "currency", "per_merchant")


class LedgerEntryInline(ReadOnlyInline):
    model = LedgerEntry
    fields = ("account", "merchant", "debit", "credit", "currency")
    readonly_fields = fields


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(OperatorOnlyReadOnlyAdmin):
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


class SettlementLineInline(MerchantReadableInline):
    model = SettlementLine
    fields = SETTLEMENT_LINE_FIELDS
    readonly_fields = fields


class SettlementStatementEventInline(MerchantReadableInline):
    model = SettlementStatementEvent
    fields = ("from_status", "to_status", "note", "actor", "created_at")
    readonly_fields = fields


@admin.register(SettlementStatement)
class SettlementStatementAdmin(ReadOnlyAdmin, MerchantReadableAdmin):
    """A merchant's staff see and download their own statements; operator
    staff also rebuild drafts from the ledger and issue them."""

    list_display = (
        "merchant",
        "period_start",
        "period_end",
        "status",
        "net_rub",
        "net_cny",
        "built_at",
        "issued_at",
    )
    list_filter = ("status", "period_start")
    search_fields = ("merchant__code", "merchant__name", "lines__order_number")
    list_select_related = ("merchant",)
    date_hierarchy = "period_start"
    inlines = [SettlementLineInline, SettlementStatementEventInline]
    actions = ["download_csv", "download_pdf", "rebuild", "issue"]

    def has_operator_permission(self, request: HttpRequest) -> bool:
        return is_operator_staff(request.user)

    def _one(
        self, request: HttpRequest, queryset: QuerySet[SettlementStatement]
    ) -> SettlementStatement | None:
        statements = list(queryset.select_related("merchant").order_by("id")[:2])
        if len(statements) != 1:
            messages.error(request, _("Select exactly one statement."))
            return None
        return statements[0]

    @admin.action(description=_("Download statement (CSV)"))
    def download_csv(
        self, request: HttpRequest, queryset: QuerySet[SettlementStatement]
    ) -> HttpResponse | None:
        statement = self._one(request, queryset)
        if statement is None:
            return None
        return csv_response(
            statement_csv(statement=statement), statement_filename(statement, "csv")
        )

    @admin.action(description=_("Download statement (PDF)"))
    def download_pdf(
        self, request: HttpRequest, queryset: QuerySet[SettlementStatement]
    ) -> HttpResponse | None:
        statement = self._one(request, queryset)
        if statement is None:
            return None
        return pdf_response(
            statement_pdf(statement=statement), statement_filename(statement, "pdf")
        )

    @admin.action(description=_("Rebuild drafts from the ledger"), permissions=["operator"])
    def rebuild(self, request: HttpRequest, queryset: QuerySet[SettlementStatement]) -> None:
        drafts = queryset.filter(status=SettlementStatement.Status.DRAFT).order_by("id")
        for statement in drafts:
            statement_build(
                merchant_id=statement.merchant_id,
                week_start=statement.period_start,
                actor_id=request.user.pk,
            )
        messages.success(request, _("Rebuilt: %(count)d.") % {"count": len(drafts)})

    @admin.action(description=_("Issue"), permissions=["operator"])
    def issue(self, request: HttpRequest, queryset: QuerySet[SettlementStatement]) -> None:
        for statement in queryset.order_by("id"):
            try:
                statement_issue(statement_id=statement.id, actor_id=request.user.pk)
            except ApplicationError as error:
                messages.error(request, f"{statement}: {error.message}")


@admin.register(ProviderNotification)
class ProviderNotificationAdmin(OperatorOnlyReadOnlyAdmin):
    list_display = ("provider", "event", "payment", "outcome", "received_at")
    list_filter = ("provider", "outcome")
    search_fields = ("key", "payment__provider_reference")
    list_select_related = ("payment",)


@admin.register(SandboxDispatch)
class SandboxDispatchAdmin(OperatorOnlyReadOnlyAdmin):
    list_display = ("msg_id", "event", "reference", "attempts", "delivered_at", "last_error")
    search_fields = ("reference", "msg_id")


# The cash-on-delivery pages.
import payments.cod.admin  # noqa: E402, F401

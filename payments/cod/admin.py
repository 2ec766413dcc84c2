"""The cash-on-delivery pages of the back office: operator staff only
(merchants never see couriers' cash)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.admin_base import OperatorOnlyReadOnlyAdmin
from core.tenancy import is_operator_staff
from payments.cod.models import CashCollection, CodDifference, CodReconciliation, CourierRemittance
from payments.cod.services import cod_reconcile, cod_remittance_record


@admin.register(CashCollection)
class CashCollectionAdmin(OperatorOnlyReadOnlyAdmin):
    list_display = (
        "scan_id",
        "courier",
        "order",
        "amount",
        "currency",
        "due",
        "outcome",
        "collected_at",
    )
    list_filter = ("outcome", "courier")
    search_fields = ("scan_id", "order__number", "parcel__tracking_number")
    list_select_related = ("courier", "order")
    date_hierarchy = "collected_at"


class RemittanceForm(forms.ModelForm):
    class Meta:
        model = CourierRemittance
        fields = ("courier", "amount", "currency", "reference", "day", "received_at")


@admin.register(CourierRemittance)
class CourierRemittanceAdmin(OperatorOnlyReadOnlyAdmin):
    """Operator staff record the cash a courier hands over; the record is
    then fixed (a correction is a new remittance)."""

    form = RemittanceForm
    list_display = ("courier", "day", "amount", "currency", "reference", "received_at")
    list_filter = ("courier", "day")
    search_fields = ("reference",)
    list_select_related = ("courier",)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator_staff(request.user) and request.user.has_perm(
            "payments.add_courierremittance"
        )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        recorded = cod_remittance_record(
            courier_id=obj.courier_id,
            amount=obj.amount,
            currency=obj.currency,
            reference=obj.reference,
            received_at=obj.received_at,
            day=obj.day,
            actor_id=request.user.pk,
        )
        obj.pk = recorded.pk
        obj.ledger_transaction_id = recorded.ledger_transaction_id


@admin.register(CodReconciliation)
class CodReconciliationAdmin(OperatorOnlyReadOnlyAdmin):
    list_display = (
        "day",
        "courier",
        "currency",
        "expected",
        "collected",
        "remitted",
        "collection_difference",
        "remittance_difference",
        "flagged",
        "reason_list",
    )
    list_filter = ("flagged", "day", "courier")
    list_select_related = ("courier",)
    date_hierarchy = "day"
    actions = ["recompute"]

    @admin.display(description=_("Differences"))
    def reason_list(self, obj: CodReconciliation) -> str:
        return ", ".join(str(CodDifference(code).label) for code in obj.reasons)

    @admin.action(description=_("Reconcile the selected days again"), permissions=["view"])
    def recompute(self, request: HttpRequest, queryset: QuerySet[CodReconciliation]) -> None:
        days = sorted(set(queryset.values_list("day", flat=True)))
        flagged = sum(row.flagged for day in days for row in cod_reconcile(day=day))
        messages.info(
            request,
            _("%(days)d day(s) reconciled; %(flagged)d row(s) flagged.")
            % {"days": len(days), "flagged": flagged},
        )

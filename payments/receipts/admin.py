"""Fiscal receipts in the back office: operator staff only, read-only (a
receipt is what was registered; a correction is a new receipt). The action
asks the provider again for receipts still pending."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin_base import OperatorOnlyReadOnlyAdmin
from payments.receipts.models import Receipt
from payments.receipts.services import receipts_after_commit


@admin.register(Receipt)
class ReceiptAdmin(OperatorOnlyReadOnlyAdmin):
    list_display = (
        "id",
        "order",
        "kind",
        "status",
        "amount",
        "currency",
        "provider",
        "provider_id",
        "attempts",
        "last_error",
        "created_at",
        "registered_at",
    )
    list_filter = ("status", "kind", "provider")
    search_fields = ("order__number", "provider_id", "idempotence_key")
    list_select_related = ("order",)
    date_hierarchy = "created_at"
    actions = ["send_again"]

    @admin.action(description=_("Ask the provider again now"))
    def send_again(self, request: HttpRequest, queryset: QuerySet[Receipt]) -> None:
        due = queryset.filter(status=Receipt.Status.PENDING).update(
            next_attempt_at=timezone.now(), locked_until=None
        )
        receipts_after_commit()
        self.message_user(
            request,
            gettext("Receipts due now: %(count)d.") % {"count": due},
            messages.SUCCESS,
        )

"""Operators tune the rules and see held orders here; merchants never do
(a merchant must not clear its own buyers' holds). The approve and reject
actions are added in checkout/admin.py, where the services they call live."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from core.admin_base import OperatorOnlyAdmin
from risk.models import Decision, RiskHold, RiskRule
from risk.rules import trip_describe


@admin.register(RiskRule)
class RiskRuleAdmin(OperatorOnlyAdmin):
    list_display = ("code", "kind", "limit", "account_age_days", "is_active", "note", "updated_at")
    list_editable = ("limit", "is_active")
    list_filter = ("kind", "is_active")


class DecisionFilter(admin.SimpleListFilter):
    """Open holds by default: that is the review queue."""

    title = _("decision")
    parameter_name = "decision"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("all", _("All")),
            *[(value, label) for value, label in Decision.choices if value],
        ]

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": Decision.PENDING.label,
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[RiskHold]) -> QuerySet[RiskHold]:
        value = self.value()
        if value == "all":
            return queryset
        return queryset.filter(decision=value or Decision.PENDING)


class RiskHoldAdmin(OperatorOnlyAdmin):
    """Registered by commands (commands/admin.py) with the review actions,
    whose services lie above this app."""

    list_display = (
        "order",
        "order_status",
        "stage",
        "held_from",
        "order_total",
        "buyer",
        "reasons_text",
        "created_at",
        "decision",
        "decided_by",
        "decided_at",
    )
    list_filter = (DecisionFilter, "stage")
    search_fields = ("order__number", "order__buyer__user__email")
    list_select_related = ("order__buyer__user", "decided_by")
    fields = (*list_display, "note")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("order status"))
    def order_status(self, hold: RiskHold) -> str:
        return hold.order.get_status_display()

    @admin.display(description=_("total, RUB"))
    def order_total(self, hold: RiskHold) -> str:
        return str(hold.order.total_rub)

    @admin.display(description=_("buyer"))
    def buyer(self, hold: RiskHold) -> str:
        return str(hold.order.buyer)

    @admin.display(description=_("reasons"))
    def reasons_text(self, hold: RiskHold) -> SafeString:
        return format_html_join("", "<div>{}</div>", ((trip_describe(r),) for r in hold.reasons))

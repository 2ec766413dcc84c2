"""Review actions on the held orders page (risk/admin.py), added here where
the services they call are in reach."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from checkout.review import order_review_approve, order_review_reject
from core.errors import ApplicationError
from orders.admin_scoping import is_operator_staff
from orders.models import Order
from risk.admin import RiskHoldAdmin
from risk.models import RiskHold

admin.site.unregister(RiskHold)


@admin.register(RiskHold)
class ReviewRiskHoldAdmin(RiskHoldAdmin):
    actions = ["approve", "reject"]

    def has_operator_permission(self, request: HttpRequest) -> bool:
        """Only operator staff clear holds: never the merchant whose sale it is."""
        return is_operator_staff(request)

    def _review(
        self, request: HttpRequest, queryset: QuerySet[RiskHold], service: Callable[..., Order]
    ) -> None:
        for hold in queryset.select_related("order").order_by("id"):
            try:
                order = service(order_id=hold.order_id, actor_id=request.user.pk, note="")
            except ApplicationError as error:
                messages.error(request, f"{hold.order.number}: {error.message}")
            else:
                messages.success(request, f"{order.number}: {order.get_status_display()}")

    @admin.action(description=_("Approve the selected held orders"), permissions=["operator"])
    def approve(self, request: HttpRequest, queryset: QuerySet[RiskHold]) -> None:
        self._review(request, queryset, order_review_approve)

    @admin.action(
        description=_("Reject the selected held orders (cancel, release stock, refund)"),
        permissions=["operator"],
    )
    def reject(self, request: HttpRequest, queryset: QuerySet[RiskHold]) -> None:
        self._review(request, queryset, order_review_reject)

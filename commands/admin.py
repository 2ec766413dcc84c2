"""The admin pages whose actions are cross-domain commands: orders (pack,
print) and held orders (approve, reject). Their base classes live with their
models (orders/admin.py, risk/admin.py); each is registered here, once."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from commands.pack import fulfilment_order_pack, order_pack
from commands.returns import return_decide, return_receive
from commands.review import order_review_approve, order_review_reject
from commands.transfers import transfer_dispatch
from core.api import pdf_response
from core.errors import ApplicationError
from core.tenancy import is_operator_staff, merchant_id_for_user, sees_personal_data
from orders.admin import OrderAdmin
from orders.models import Order
from risk.admin import RiskHoldAdmin
from risk.models import RiskHold
from shipping.fulfilment.admin import FulfilmentOrderBaseAdmin
from shipping.fulfilment.documents import packing_slip_pdf
from shipping.fulfilment.models import FulfilmentOrder
from shipping.linehaul.admin import TransferAdmin, transfer_action
from shipping.linehaul.models import Transfer
from shipping.returns.admin import ReturnAdmin
from shipping.returns.models import Return
from warehouses.models import Warehouse


@admin.register(RiskHold)
class ReviewRiskHoldAdmin(RiskHoldAdmin):
    actions = ["approve", "reject"]

    def has_operator_permission(self, request: HttpRequest) -> bool:
        """Only operator staff clear holds: never the merchant whose sale it is."""
        return is_operator_staff(request.user)

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


@admin.register(FulfilmentOrder)
class FulfilmentOrderAdmin(FulfilmentOrderBaseAdmin):
    actions = ["pack", *FulfilmentOrderBaseAdmin.actions]

    def has_pack_permission(self, request: HttpRequest) -> bool:
        """A merchant's staff pack their own parts (the queryset is theirs);
        operator staff need the right to change orders."""
        if merchant_id_for_user(request.user) is not None:
            return bool(request.user.is_active and request.user.is_staff)
        return request.user.has_perm("orders.change_order")

    @admin.action(description=_("Pack the selected fulfilment orders"), permissions=["pack"])
    def pack(self, request: HttpRequest, queryset: QuerySet[FulfilmentOrder]) -> None:
        merchant_id = merchant_id_for_user(request.user)
        for part in queryset.order_by("id"):
            try:
                parcels = fulfilment_order_pack(
                    fulfilment_order_id=part.id, actor_id=request.user.pk, merchant_id=merchant_id
                )
            except ApplicationError as error:
                messages.error(request, f"{part.number}: {error.message}")
            else:
                numbers = ", ".join(p.tracking_number for p in parcels)
                messages.success(request, f"{part.number}: {numbers}")


@admin.register(Order)
class OrdersAdmin(OrderAdmin):
    """The whole order: operator staff only (OrderAdmin). A merchant works
    on its fulfilment orders."""

    actions = ["pack", "print_packing_slip"]

    @admin.action(description=_("Pack the selected allocated orders"), permissions=["change"])
    def pack(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset.order_by("id"):
            try:
                parcels = order_pack(order_id=order.id, actor_id=request.user.pk)
            except ApplicationError as error:
                messages.error(request, f"{order.number}: {error.message}")
            else:
                numbers = ", ".join(p.tracking_number for p in parcels)
                messages.success(request, f"{order.number}: {numbers}")

    @admin.action(description=_("Print the packing slip"))
    def print_packing_slip(
        self, request: HttpRequest, queryset: QuerySet[Order]
    ) -> HttpResponse | None:
        orders = list(queryset.order_by("id")[:2])
        if len(orders) != 1:
            messages.error(request, _("Select exactly one order."))
            return None
        pdf = packing_slip_pdf(
            order_id=orders[0].id, mask_phone=not sees_personal_data(request.user)
        )
        return pdf_response(pdf, f"{orders[0].number}.pdf")


@admin.register(Transfer)
class StockTransferAdmin(TransferAdmin):
    actions = [
        transfer_action(transfer_dispatch, _("Dispatch (stock leaves the origin)"), "dispatch"),
        *TransferAdmin.actions,
    ]


@admin.register(Return)
class ReturnDecisionAdmin(ReturnAdmin):
    actions = ["approve", "reject", "receive"]

    def has_operator_permission(self, request: HttpRequest) -> bool:
        return is_operator_staff(request.user)

    def has_decide_permission(self, request: HttpRequest) -> bool:
        """Operator staff, or a merchant's staff for returns of their own
        goods (the command refuses any other)."""
        return is_operator_staff(request.user) or merchant_id_for_user(request.user) is not None

    def _decide(self, request: HttpRequest, queryset: QuerySet[Return], approve: bool) -> None:
        for ret in queryset.order_by("id"):
            try:
                ret = return_decide(
                    number=ret.number,
                    approve=approve,
                    actor_id=request.user.pk,
                    merchant_id=merchant_id_for_user(request.user),
                )
            except ApplicationError as error:
                messages.error(request, f"{ret.number}: {error.message}")
            else:
                messages.success(request, f"{ret.number}: {ret.get_status_display()}")

    @admin.action(description=_("Approve the selected returns"), permissions=["decide"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Return]) -> None:
        self._decide(request, queryset, approve=True)

    @admin.action(description=_("Reject the selected returns"), permissions=["decide"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Return]) -> None:
        self._decide(request, queryset, approve=False)

    @admin.action(
        description=_("Receive the selected returns at the first Russian warehouse (restock all)"),
        permissions=["operator"],
    )
    def receive(self, request: HttpRequest, queryset: QuerySet[Return]) -> None:
        warehouse = (
            Warehouse.objects.filter(kind=Warehouse.Kind.OVERSEAS, country="RU", is_active=True)
            .order_by("code")
            .first()
        )
        if warehouse is None:
            messages.error(request, _("No returns warehouse in Russia."))
            return
        for ret in queryset.order_by("id"):
            try:
                ret = return_receive(
                    number=ret.number, warehouse_code=warehouse.code, actor_id=request.user.pk
                )
            except ApplicationError as error:
                messages.error(request, f"{ret.number}: {error.message}")
            else:
                messages.success(request, f"{ret.number}: {ret.get_status_display()}")

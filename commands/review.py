"""Staff review of orders held by the risk rules. Approving lets the order go
on where it stopped (awaiting payment, paid and allocated, or confirmed for
cash on delivery); rejecting cancels it, releases its stock and refunds or
voids its payments. Asking again for the decision already taken changes
nothing; asking for the other one is a conflict."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, NotFound
from orders.models import Order, OrderStatus, PaymentMethod
from orders.services import order_transition, orders_transition
from payments.services import payment_cod_confirm, payments_settle_on_cancel
from risk.models import Decision, RiskHold
from risk.selectors import risk_hold_latest
from risk.services import APPROVE_REASON, REJECT_REASON, risk_hold_decide
from warehouses.services import order_allocate, stock_release


def _already(order_id: int, decision: str) -> bool:
    """True when the order's last hold was closed with this same decision."""
    if not Order.objects.filter(id=order_id).exists():
        raise NotFound()
    hold = risk_hold_latest(order_id=order_id)
    if hold is None:
        raise Conflict(_("This order is not waiting for review."), code="order_not_on_hold")
    if hold.decision == Decision.PENDING:
        return False
    if hold.decision == decision:
        return True
    raise Conflict(
        _("This order has already been reviewed."),
        code="order_already_reviewed",
        extra={"decision": hold.decision},
    )


def _audit(hold: RiskHold) -> dict[str, object]:
    return {"risk_hold": hold.id, "decision": hold.decision, "note": hold.note}


def order_review_approve(*, order_id: int, actor_id: int | None, note: str = "") -> Order:
    if _already(order_id, Decision.APPROVED):
        return Order.objects.get(id=order_id)
    with transaction.atomic():
        hold = risk_hold_decide(
            order_id=order_id, decision=Decision.APPROVED, actor_id=actor_id, note=note
        )
        order = hold.order
        # Back to where it stopped: paid goes on to allocation; a cash order
        # held at placement is then confirmed and allocated as at placement.
        paid = hold.held_from == OrderStatus.PAID
        order_transition(
            order_id=order_id,
            to=OrderStatus.PAID if paid else OrderStatus.PENDING_PAYMENT,
            actor_id=actor_id,
            reason=APPROVE_REASON,
            data=_audit(hold),
        )
        if paid:
            order_allocate(order_id=order_id, actor_id=actor_id)
        elif order.payment_method == PaymentMethod.COD:
            payment_cod_confirm(order_id=order_id, actor_id=actor_id)
    return Order.objects.get(id=order_id)


def order_review_reject(*, order_id: int, actor_id: int | None, note: str = "") -> Order:
    if _already(order_id, Decision.REJECTED):
        return Order.objects.get(id=order_id)
    order = Order.objects.get(id=order_id)
    with transaction.atomic():
        # Stock first, then the order, then payments: the lock order of every
        # cancellation. A hold decided meanwhile raises and undoes the release.
        stock_release(order=order, actor_id=actor_id, reason=REJECT_REASON)
        hold = risk_hold_decide(
            order_id=order_id, decision=Decision.REJECTED, actor_id=actor_id, note=note
        )
        orders_transition(
            order_ids=[order_id],
            to=OrderStatus.CANCELLED,
            actor_id=actor_id,
            reason=REJECT_REASON,
            data=_audit(hold),
        )
        payments_settle_on_cancel(order_id=order_id, actor_id=actor_id, reason=REJECT_REASON)
    return Order.objects.get(id=order_id)

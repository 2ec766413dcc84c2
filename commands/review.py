"""Staff review of orders held by the risk rules. Approving lets the order go
on where it stopped (awaiting payment, paid and allocated, or confirmed for
cash on delivery); rejecting cancels it, releases its stock and refunds or
voids its payments. Asking again for the decision already taken changes
nothing; asking for the other one is a conflict. Both lock the order first,
then its hold, its stock and its payments (core.locking)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from commands.allocation import order_allocate
from commands.place import order_cod_confirm
from commands.provider_calls import provider_calls_after_commit
from core.errors import Conflict
from core.locking import locked_transaction
from orders.models import Order, OrderStatus, PaymentMethod
from orders.services import order_lock, order_transition, orders_transition
from payments.services import payments_settle_on_cancel
from risk.models import Decision, RiskHold
from risk.selectors import risk_hold_latest
from risk.services import APPROVE_REASON, REJECT_REASON, risk_hold_decide
from shipping.fulfilment.models import FulfilmentOrderStatus
from shipping.fulfilment.orders import fulfilment_orders_transition
from warehouses.services import stock_release


def _already(order: Order, decision: str) -> bool:
    """True when the order's last hold was closed with this same decision
    (read under the order's lock)."""
    hold = risk_hold_latest(order_id=order.id)
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
    with locked_transaction():
        order = order_lock(order_id=order_id)
        if _already(order, Decision.APPROVED):
            return order
        hold = risk_hold_decide(
            order=order, decision=Decision.APPROVED, actor_id=actor_id, note=note
        )
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
            order_allocate(order=order, actor_id=actor_id)
        elif order.payment_method == PaymentMethod.COD:
            order_cod_confirm(order=order, actor_id=actor_id)
    return Order.objects.get(id=order_id)


def order_review_reject(*, order_id: int, actor_id: int | None, note: str = "") -> Order:
    with locked_transaction():
        order = order_lock(order_id=order_id)
        if _already(order, Decision.REJECTED):
            return order
        hold = risk_hold_decide(
            order=order, decision=Decision.REJECTED, actor_id=actor_id, note=note
        )
        stock_release(order=order, actor_id=actor_id, reason=REJECT_REASON)
        orders_transition(
            order_ids=[order_id],
            to=OrderStatus.CANCELLED,
            actor_id=actor_id,
            reason=REJECT_REASON,
            data=_audit(hold),
        )
        fulfilment_orders_transition(
            order_ids=[order_id],
            to=FulfilmentOrderStatus.CANCELLED,
            actor_id=actor_id,
            reason=REJECT_REASON,
        )
        payments_settle_on_cancel(order=order, actor_id=actor_id, reason=REJECT_REASON)
        provider_calls_after_commit(order_id=order_id)
    return Order.objects.get(id=order_id)

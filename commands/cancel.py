"""Cancelling an order before it is packed: by its buyer, by staff, or because
it was not paid in time."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from commands.provider_calls import provider_calls_after_commit
from core.errors import Conflict
from core.locking import locked_transaction
from orders.models import Order, OrderStatus, PaymentMethod
from orders.selectors import order_get_for_buyer
from orders.services import CANCELLABLE, order_lock, orders_transition
from payments.services import payments_settle_on_cancel
from risk.services import risk_holds_withdraw
from shipping.fulfilment.models import FulfilmentOrderStatus
from shipping.fulfilment.orders import fulfilment_orders_packed, fulfilment_orders_transition
from warehouses.services import stock_release


class OrderNotCancellable(Conflict):
    code = "order_not_cancellable"
    default_message = _("This order can no longer be cancelled.")


def order_cancel(
    *, order_id: int, actor_id: int | None, reason: str = "cancelled by buyer"
) -> Order:
    """Cancel before packing. The order is locked first and its status read
    under the lock, so of two cancellations (a double tap) one cancels and
    the other is a 409; then its stock is released, its payments refunded or
    voided (the provider calls queued, made after commit: see
    commands.provider_calls) and an open risk hold withdrawn."""
    with locked_transaction():
        order = order_lock(order_id=order_id)
        # One merchant's part packed is goods on their way: the order is
        # no longer the buyer's to cancel, though it is not packed yet.
        if order.status not in CANCELLABLE or fulfilment_orders_packed(order_id=order.id):
            raise OrderNotCancellable(extra={"current_status": order.status})
        stock_release(order=order, actor_id=actor_id, reason=reason)
        orders_transition(
            order_ids=[order.id], to=OrderStatus.CANCELLED, actor_id=actor_id, reason=reason
        )
        fulfilment_orders_transition(
            order_ids=[order.id],
            to=FulfilmentOrderStatus.CANCELLED,
            actor_id=actor_id,
            reason=reason,
        )
        payments_settle_on_cancel(order=order, actor_id=actor_id, reason=reason)
        risk_holds_withdraw(order=order, actor_id=actor_id)
        provider_calls_after_commit(order_id=order.id)
    order.refresh_from_db()
    return order


def order_cancel_for_buyer(*, user_id: int, number: str) -> Order:
    order = order_get_for_buyer(user_id=user_id, number=number)
    return order_cancel(order_id=order.id, actor_id=user_id)


def orders_expire_unpaid() -> int:
    """Cancel card orders left unpaid past the configured time, counted from
    placement or, for an order held for review, from its approval."""
    cutoff = timezone.now() - timedelta(minutes=settings.AMUR["UNPAID_ORDER_TTL_MINUTES"])
    expired = 0
    for order_id in (
        Order.objects.filter(
            status=OrderStatus.PENDING_PAYMENT,
            payment_method=PaymentMethod.CARD,
            created_at__lt=cutoff,
        )
        .exclude(risk_holds__decided_at__gte=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:500]
    ):
        try:
            order_cancel(order_id=order_id, actor_id=None, reason="payment not received in time")
            expired += 1
        except Conflict:
            continue  # paid or cancelled meanwhile
    return expired

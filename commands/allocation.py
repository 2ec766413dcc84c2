"""Allocation: an order whose lines are all reserved goes to fulfilment once
it is paid, or confirmed for cash on delivery."""

from __future__ import annotations

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from core.locking import Rank, lock_held
from orders.models import Order, OrderLine, OrderStatus
from orders.services import order_transition
from shipping.fulfilment.models import FulfilmentOrderStatus
from shipping.fulfilment.orders import fulfilment_orders_transition
from warehouses.models import Reservation
from warehouses.services import OutOfStock


def order_allocate(*, order: Order, actor_id: int | None = None) -> Order:
    """Move an order the caller has locked to allocated, if every line's
    units are still reserved (409 out_of_stock otherwise)."""
    lock_held(Rank.ORDER, order.id)
    reserved = dict(
        Reservation.objects.filter(order_id=order.id, status=Reservation.Status.ACTIVE)
        .values_list("line_id")
        .annotate(n=Sum("quantity"))
    )
    lines = dict(OrderLine.objects.filter(order_id=order.id).values_list("id", "quantity"))
    if reserved != lines:
        raise OutOfStock(_("The order's stock is no longer reserved."))
    allocated = order_transition(
        order_id=order.id, to=OrderStatus.ALLOCATED, actor_id=actor_id, reason="stock reserved"
    )
    fulfilment_orders_transition(
        order_ids=[order.id],
        to=FulfilmentOrderStatus.READY,
        actor_id=actor_id,
        reason="stock reserved",
    )
    return allocated

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from core.errors import NotFound
from orders.models import Order, OrderEvent, OrderLine


def orders_for_buyer(*, user_id: int) -> QuerySet[Order]:
    return (
        Order.objects.filter(buyer__user_id=user_id)
        .select_related("buyer__user")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")))
    )


def order_get_for_buyer(*, user_id: int, number: str) -> Order:
    """Another buyer's order is indistinguishable from a missing one."""
    order = orders_for_buyer(user_id=user_id).filter(number=number).first()
    if order is None:
        raise NotFound()
    return order


def order_id_for_buyer(*, user_id: int, number: str) -> int:
    """The id of the buyer's order (one query, no lines); 404 as for
    order_get_for_buyer."""
    order_id = (
        Order.objects.filter(buyer__user_id=user_id, number=number)
        .values_list("id", flat=True)
        .first()
    )
    if order_id is None:
        raise NotFound()
    return int(order_id)


def order_get(*, number: str) -> Order:
    order = Order.objects.select_related("buyer__user").filter(number=number).first()
    if order is None:
        raise NotFound()
    return order


def order_events(*, order: Order) -> QuerySet[OrderEvent]:
    return OrderEvent.objects.filter(order=order).order_by("sequence")

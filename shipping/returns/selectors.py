from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from core.errors import NotFound
from shipping.returns.models import Return, ReturnEvent, ReturnLine


def _returns() -> QuerySet[Return]:
    return (
        Return.objects.select_related("order", "warehouse")
        .prefetch_related(
            Prefetch("lines", queryset=ReturnLine.objects.select_related("line").order_by("id")),
            Prefetch("events", queryset=ReturnEvent.objects.order_by("sequence")),
        )
        .order_by("id")
    )


def returns_for_order(*, order_id: int) -> QuerySet[Return]:
    """An order's returns, oldest first, with their lines and events (three
    queries whatever their number)."""
    return _returns().filter(order_id=order_id)


def returns_for_staff(*, merchant_id: int | None, status: str | None = None) -> QuerySet[Return]:
    """Returns staff may see: all for operator staff (merchant_id None), else
    those holding the merchant's goods."""
    rows = _returns()
    if merchant_id is not None:
        rows = rows.filter(lines__line__merchant_id=merchant_id).distinct()
    if status:
        rows = rows.filter(status=status)
    return rows


def return_get(*, number: str) -> Return:
    ret = _returns().filter(number=number).first()
    if ret is None:
        raise NotFound()
    return ret

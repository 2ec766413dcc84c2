"""Stock writes. Every change locks the stock rows it touches in id order
(SELECT ... FOR UPDATE), checks, writes the levels in one statement and appends
one movement per row, all in one transaction: no oversell, no deadlock, and a
query count that does not grow with the number of lines. The check
constraints on StockLevel are the last line of defence."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError, Conflict, ValidationFailed
from orders.models import Order, OrderLine, OrderStatus
from orders.services import order_transition
from warehouses.models import Reservation, StockLevel, StockMovement


class OutOfStock(ApplicationError):
    status_code = 409
    code = "out_of_stock"
    default_message = _("Some items are out of stock.")


@dataclass(frozen=True)
class LineAllocation:
    line: OrderLine
    warehouse_id: int


def _locked_levels(keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    if not keys:
        return {}
    warehouse_ids = {w for w, _p in keys}
    product_ids = {p for _w, p in keys}
    rows = (
        StockLevel.objects.select_for_update()
        .filter(warehouse_id__in=warehouse_ids, product_id__in=product_ids)
        .order_by("id")
    )
    wanted = set(keys)
    return {
        (r.warehouse_id, r.product_id): r for r in rows if (r.warehouse_id, r.product_id) in wanted
    }


def stock_receive(
    *,
    warehouse_id: int,
    product_id: int,
    quantity: int,
    actor_id: int | None = None,
    reason: str = "",
    kind: str = StockMovement.Kind.RECEIPT,
) -> StockLevel:
    """Goods arrive (or an adjustment corrects a count: quantity may be negative)."""
    if quantity == 0:
        raise ValidationFailed(fields={"quantity": [_("Must not be zero.")]})
    with transaction.atomic():
        level, _created = StockLevel.objects.get_or_create(
            warehouse_id=warehouse_id, product_id=product_id
        )
        level = StockLevel.objects.select_for_update().get(id=level.id)
        if level.on_hand + quantity < level.reserved:
            raise Conflict(
                _("The adjustment would leave less on hand than is reserved."),
                code="stock_below_reserved",
            )
        level.on_hand += quantity
        level.save(update_fields=["on_hand"])
        StockMovement.objects.create(
            stock=level, kind=kind, on_hand_delta=quantity, actor_id=actor_id, reason=reason
        )
    return level


def stock_reserve(
    *, order: Order, allocations: Sequence[LineAllocation], actor_id: int | None = None
) -> list[Reservation]:
    """Reserve every line where the plan says, or nothing (OutOfStock)."""
    wanted: dict[tuple[int, int], int] = defaultdict(int)
    for alloc in allocations:
        wanted[(alloc.warehouse_id, alloc.line.product_id)] += alloc.line.quantity
    # No savepoint: this runs on every checkout, and its caller already rolls
    # back to its own savepoint on OutOfStock.
    with transaction.atomic(savepoint=False):
        levels = _locked_levels(sorted(wanted))
        short = sorted(
            {
                alloc.line.sku
                for alloc in allocations
                if (key := (alloc.warehouse_id, alloc.line.product_id)) not in levels
                or levels[key].available < wanted[key]
            }
        )
        if short:
            raise OutOfStock(fields={"lines": short}, extra={"skus": short})
        for key, quantity in wanted.items():
            levels[key].reserved += quantity
        StockLevel.objects.bulk_update(list(levels.values()), ["reserved"])
        StockMovement.objects.bulk_create(
            [
                StockMovement(
                    stock=levels[key],
                    kind=StockMovement.Kind.RESERVATION,
                    reserved_delta=quantity,
                    order=order,
                    actor_id=actor_id,
                )
                for key, quantity in wanted.items()
            ]
        )
        return Reservation.objects.bulk_create(
            [
                Reservation(
                    order=order,
                    line=alloc.line,
                    stock=levels[(alloc.warehouse_id, alloc.line.product_id)],
                    quantity=alloc.line.quantity,
                )
                for alloc in allocations
            ]
        )


def _settle_reservations(
    *, order: Order, to: str, kind: str, actor_id: int | None, reason: str, warehouse_id: int | None
) -> int:
    """Release or pick an order's active reservations. Returns units moved."""
    with transaction.atomic():
        active = Reservation.objects.filter(order=order, status=Reservation.Status.ACTIVE)
        if warehouse_id is not None:
            active = active.filter(stock__warehouse_id=warehouse_id)
        reservations = list(active.select_related("stock"))
        if not reservations:
            return 0
        per_stock: dict[int, int] = defaultdict(int)
        for res in reservations:
            per_stock[res.stock_id] += res.quantity
        levels = list(
            StockLevel.objects.select_for_update().filter(id__in=per_stock).order_by("id")
        )
        picking = kind == StockMovement.Kind.PICK
        for level in levels:
            level.reserved -= per_stock[level.id]
            if picking:
                level.on_hand -= per_stock[level.id]
        StockLevel.objects.bulk_update(levels, ["reserved", "on_hand"])
        StockMovement.objects.bulk_create(
            [
                StockMovement(
                    stock_id=stock_id,
                    kind=kind,
                    reserved_delta=-quantity,
                    on_hand_delta=-quantity if picking else 0,
                    order=order,
                    actor_id=actor_id,
                    reason=reason,
                )
                for stock_id, quantity in sorted(per_stock.items())
            ]
        )
        Reservation.objects.filter(id__in=[r.id for r in reservations]).update(status=to)
        return sum(per_stock.values())


def stock_release(*, order: Order, actor_id: int | None = None, reason: str = "") -> int:
    return _settle_reservations(
        order=order,
        to=Reservation.Status.RELEASED,
        kind=StockMovement.Kind.RELEASE,
        actor_id=actor_id,
        reason=reason,
        warehouse_id=None,
    )


def stock_pick(
    *, order: Order, warehouse_id: int | None = None, actor_id: int | None = None
) -> int:
    return _settle_reservations(
        order=order,
        to=Reservation.Status.PICKED,
        kind=StockMovement.Kind.PICK,
        actor_id=actor_id,
        reason="",
        warehouse_id=warehouse_id,
    )


def order_allocate(*, order_id: int, actor_id: int | None = None) -> Order:
    """A paid (or cash-on-delivery) order whose lines are all reserved goes
    to fulfilment."""
    with transaction.atomic():
        reserved = dict(
            Reservation.objects.filter(order_id=order_id, status=Reservation.Status.ACTIVE)
            .values_list("line_id")
            .annotate(n=Sum("quantity"))
        )
        lines = dict(OrderLine.objects.filter(order_id=order_id).values_list("id", "quantity"))
        if reserved != lines:
            raise OutOfStock(_("The order's stock is no longer reserved."))
        return order_transition(
            order_id=order_id, to=OrderStatus.ALLOCATED, actor_id=actor_id, reason="stock reserved"
        )

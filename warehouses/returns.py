"""Returned goods back on the shelf: a returns warehouse restocks the units a
return brings back, as stock movements of kind return."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from core.locking import Rank, lock_held, lock_rows, locked_transaction
from orders.models import Order
from warehouses.models import StockLevel, StockMovement


def stock_return_receive(
    *,
    order: Order,
    warehouse_id: int,
    units: Mapping[int, int],
    actor_id: int | None,
    reason: str,
) -> list[StockMovement]:
    """Put `units` (product id -> units, each > 0) of an order the caller has
    locked back on hand at a warehouse: the levels locked in id order, one
    movement each. A product the warehouse never held gets its level."""
    wanted = {product_id: n for product_id, n in units.items() if n > 0}
    if not wanted:
        return []
    with locked_transaction():
        lock_held(Rank.ORDER, order.id)
        for product_id in sorted(wanted):
            StockLevel.objects.get_or_create(warehouse_id=warehouse_id, product_id=product_id)
        levels = lock_rows(
            StockLevel.objects.filter(warehouse_id=warehouse_id, product_id__in=sorted(wanted)),
            rank=Rank.STOCK,
        )
        added: dict[int, int] = defaultdict(int)
        for level in levels:
            added[level.id] = wanted[level.product_id]
            level.on_hand += wanted[level.product_id]
        StockLevel.objects.bulk_update(levels, ["on_hand"])
        return StockMovement.objects.bulk_create(
            [
                StockMovement(
                    stock_id=level_id,
                    kind=StockMovement.Kind.RETURN,
                    on_hand_delta=delta,
                    order=order,
                    actor_id=actor_id,
                    reason=reason[:300],
                )
                for level_id, delta in sorted(added.items())
            ]
        )

"""Stock moves between warehouses: the ledger side of shipping's transfers.

Both functions follow warehouses.services: lock every stock row they touch
with one SELECT ... FOR UPDATE ORDER BY id, check, write all levels with one
UPDATE and all movements with one INSERT, inside the caller's transaction.
Warehouses know nothing of transfers (shipping sits above): the caller names
the transfer in `reason`, and every movement carries it.

- `stock_transfer_out`: the units leave the origin (on_hand down, one
  TRANSFER_OUT movement per product), all or nothing: OutOfStock names every
  SKU whose available stock (on hand less reserved) is short.
- `stock_transfer_in`: the received units enter the destination (on_hand up,
  one TRANSFER_IN movement per product), creating the stock row when the
  destination never held the product. A unit sent and not received is written
  as an ADJUSTMENT movement with both deltas 0 and the shortfall in its
  reason: the loss shows in the destination's ledger, and every level is still
  the sum of its movements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from catalogue.models import Product
from core.locking import Rank, lock_rows, locked_transaction
from warehouses.models import StockLevel, StockMovement
from warehouses.reasons import shortfall_movement_reason
from warehouses.services import OutOfStock, stock_low_events_record

REASON_MAX = 300


@dataclass(frozen=True)
class Shortfall:
    quantity: int  # sent and not received, > 0
    reason: str


def _locked(*, warehouse_id: int, product_ids: list[int]) -> dict[int, StockLevel]:
    rows = lock_rows(
        StockLevel.objects.filter(warehouse_id=warehouse_id, product_id__in=product_ids),
        rank=Rank.STOCK,
    )
    return {row.product_id: row for row in rows}


def stock_transfer_out(
    *,
    warehouse_id: int,
    quantities: Mapping[int, int],
    actor_id: int | None = None,
    reason: str = "",
) -> list[StockMovement]:
    """Take `quantities` (product id -> units > 0) out of a warehouse, every
    product or none (OutOfStock)."""
    if not quantities or any(q <= 0 for q in quantities.values()):
        raise ValueError("quantities must be positive")
    with locked_transaction():
        levels = _locked(warehouse_id=warehouse_id, product_ids=sorted(quantities))
        short_ids = [
            pid
            for pid, quantity in quantities.items()
            if pid not in levels or levels[pid].available < quantity
        ]
        if short_ids:
            skus = sorted(Product.objects.filter(id__in=short_ids).values_list("sku", flat=True))
            raise OutOfStock(fields={"lines": skus}, extra={"skus": skus})
        before = {level.id: level.available for level in levels.values()}
        for pid, quantity in quantities.items():
            levels[pid].on_hand -= quantity
        StockLevel.objects.bulk_update(list(levels.values()), ["on_hand"])
        movements = StockMovement.objects.bulk_create(
            [
                StockMovement(
                    stock=levels[pid],
                    kind=StockMovement.Kind.TRANSFER_OUT,
                    on_hand_delta=-quantity,
                    actor_id=actor_id,
                    reason=reason[:REASON_MAX],
                )
                for pid, quantity in sorted(quantities.items())
            ]
        )
        # Replenishing another warehouse can leave this one short too.
        stock_low_events_record(before=before, levels=levels.values(), movements=movements)
        return movements


def stock_transfer_in(
    *,
    warehouse_id: int,
    quantities: Mapping[int, int],
    shortfalls: Mapping[int, Shortfall] | None = None,
    actor_id: int | None = None,
    reason: str = "",
) -> list[StockMovement]:
    """Put received units (product id -> units >= 0) into a warehouse and
    record each shortfall (product id -> Shortfall) beside them."""
    shortfalls = shortfalls or {}
    if any(q < 0 for q in quantities.values()) or any(s.quantity <= 0 for s in shortfalls.values()):
        raise ValueError("received quantities must not be negative, shortfalls must be positive")
    product_ids = sorted({pid for pid, q in quantities.items() if q > 0} | set(shortfalls))
    if not product_ids:
        return []
    with locked_transaction():
        StockLevel.objects.bulk_create(
            [StockLevel(warehouse_id=warehouse_id, product_id=pid) for pid in product_ids],
            ignore_conflicts=True,
        )
        levels = _locked(warehouse_id=warehouse_id, product_ids=product_ids)
        movements: list[StockMovement] = []
        for pid in product_ids:
            level = levels[pid]
            quantity = quantities.get(pid, 0)
            if quantity:
                level.on_hand += quantity
                movements.append(
                    StockMovement(
                        stock=level,
                        kind=StockMovement.Kind.TRANSFER_IN,
                        on_hand_delta=quantity,
                        actor_id=actor_id,
                        reason=reason[:REASON_MAX],
                    )
                )
            if pid in shortfalls:
                short = shortfalls[pid]
                note = shortfall_movement_reason(reason, short.quantity, short.reason)
                movements.append(
                    StockMovement(
                        stock=level,
                        kind=StockMovement.Kind.ADJUSTMENT,
                        on_hand_delta=0,
                        reserved_delta=0,
                        actor_id=actor_id,
                        reason=note[:REASON_MAX],
                    )
                )
        StockLevel.objects.bulk_update(list(levels.values()), ["on_hand"])
        return StockMovement.objects.bulk_create(movements)

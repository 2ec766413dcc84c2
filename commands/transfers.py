"""Stock transfers between warehouses on a departure: the transfer's status
(shipping) and the stock that leaves or arrives (warehouses) in one
transaction. Locks: the transfer, its departure, then the stock rows."""

from __future__ import annotations

from collections.abc import Sequence

from core.locking import locked_transaction
from shipping.linehaul.models import Transfer, TransferStatus
from shipping.linehaul.transfers import (
    ReceivedLine,
    transfer_dispatch_check,
    transfer_lock,
    transfer_reason,
    transfer_receive_count,
    transfer_transition,
)
from warehouses.transfers import Shortfall, stock_transfer_in, stock_transfer_out


def transfer_dispatch(*, transfer_id: int, actor_id: int | None = None) -> Transfer:
    """The goods leave the origin: all lines or none (OutOfStock, 409)."""
    with locked_transaction():
        transfer = transfer_lock(transfer_id=transfer_id)
        quantities = transfer_dispatch_check(transfer=transfer)
        stock_transfer_out(
            warehouse_id=transfer.origin_id,
            quantities=quantities,
            actor_id=actor_id,
            reason=transfer_reason(transfer),
        )
        return transfer_transition(
            transfer=transfer, to=TransferStatus.DISPATCHED, actor_id=actor_id
        )


def transfer_receive(
    *, transfer_id: int, lines: Sequence[ReceivedLine], actor_id: int | None = None
) -> Transfer:
    """The goods arrive: one entry per line, the counted quantity; a short
    line needs a reason and is recorded as a shortfall."""
    with locked_transaction():
        transfer = transfer_lock(transfer_id=transfer_id)
        count = transfer_receive_count(transfer=transfer, lines=lines)
        stock_transfer_in(
            warehouse_id=transfer.destination_id,
            quantities=count.quantities,
            shortfalls={
                product_id: Shortfall(quantity=quantity, reason=reason)
                for product_id, (quantity, reason) in count.shortfalls.items()
            },
            actor_id=actor_id,
            reason=transfer_reason(transfer),
        )
        return transfer_transition(transfer=transfer, to=TransferStatus.RECEIVED, actor_id=actor_id)

"""Transfers: stock sent from a Chinese warehouse (Harbin, Suifenhe) to
another, usually an overseas one (Yekaterinburg), on a lane departure.

Life cycle (TRANSFER_TRANSITIONS, one audit TransferEvent per move, written by
`transfer_transition` in the same transaction as the change):

    draft --dispatch--> dispatched --receive--> received
      \\--cancel--> cancelled

- Create (`transfer_create`): origin, destination, a departure whose lane
  leaves from the origin and is still open (scheduled or loading), and one line
  per product. A draft moves no stock.
- Dispatch (`transfer_dispatch`): every line leaves the origin at once
  (warehouses.transfers.stock_transfer_out: rows locked in id order, on_hand
  down, one TRANSFER_OUT movement per line), or none does (409 out_of_stock
  naming the SKUs whose available stock is short). The departure must still be
  open.
- In transit: not stored anywhere, derived from the lines of dispatched,
  not yet received transfers (`stock_in_transit`). Stock levels count only
  what is on a shelf; on hand + in transit is what a warehouse will have.
- Receive (`transfer_receive`): one entry per line with the quantity counted
  at the destination. The received units go in (TRANSFER_IN movement; the stock
  row is created when the destination never held the product). More than was
  sent is a 400. Fewer is a shortfall: the line keeps sent and received (the
  shortfall is their difference) and a required reason, and the destination's
  ledger gets an ADJUSTMENT movement with both deltas 0 whose reason reads
  "transfer <id> short by <n>: <reason>". So the loss is visible in the stock
  ledger next to the TRANSFER_IN, yet every level stays the sum of its
  movements; across the network, units sent = units received + shortfalls.
- Cancel (`transfer_cancel`): only a draft; nothing has moved.

Movements carry "transfer <id>" in their reason: warehouses sits below
shipping and cannot point to a Transfer.

Lock order: the transfer, its departure, then stock rows in id order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from catalogue.models import Product
from core.errors import Conflict, NotFound, ValidationFailed
from core.locking import Rank, lock_held, lock_row, locked_transaction
from core.statemachine import TransitionTable
from core.transitions import Context, Move, StateMachine
from shipping.linehaul.models import (
    Departure,
    DepartureStatus,
    Transfer,
    TransferEvent,
    TransferLine,
    TransferStatus,
)
from warehouses.reasons import transfer_movement_reason

TS = TransferStatus
TRANSFER_TRANSITIONS = TransitionTable.build(
    "transfer",
    {
        TS.DRAFT: {TS.DISPATCHED, TS.CANCELLED},
        TS.DISPATCHED: {TS.RECEIVED},
    },
)
OPEN_DEPARTURE = (DepartureStatus.SCHEDULED, DepartureStatus.LOADING)


@dataclass(frozen=True)
class TransferLineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ReceivedLine:
    sku: str
    quantity_received: int
    reason: str = ""


def _reason(transfer: Transfer) -> str:
    return transfer_movement_reason(transfer.id)


def _locked(transfer_id: int) -> Transfer:
    transfer = lock_row(Transfer.objects.filter(id=transfer_id), rank=Rank.TRANSFER)
    if transfer is None:
        raise NotFound()
    return transfer


def _check_open(departure: Departure) -> None:
    if departure.status not in OPEN_DEPARTURE:
        raise Conflict(
            _("The departure is no longer open for loading."),
            code="departure_not_open",
            fields={
                "departure": [gettext("Its status is %(status)s.") % {"status": departure.status}]
            },
        )


def _transfer_stamp(transfer: Transfer, to: str, context: Context) -> list[str]:
    if to == TS.DISPATCHED:
        transfer.dispatched_at, transfer.dispatched_by_id = context.at, context.actor_id
        return ["dispatched_at", "dispatched_by"]
    if to == TS.RECEIVED:
        transfer.received_at, transfer.received_by_id = context.at, context.actor_id
        return ["received_at", "received_by"]
    return []


def _transfer_events(moves: Sequence[Move[Transfer]], context: Context) -> list[TransferEvent]:
    return [
        TransferEvent(
            transfer=move.row,
            from_status=move.previous,
            to_status=move.to,
            actor_id=context.actor_id,
            reason=context.reason[:300],
            created_at=context.at,
        )
        for move in moves
    ]


TRANSFER_MACHINE = StateMachine(
    model=Transfer,
    table=TRANSFER_TRANSITIONS,
    rank=Rank.TRANSFER,
    stamp=_transfer_stamp,
    audit=_transfer_events,
)


def transfer_transition(
    *,
    transfer: Transfer,
    to: str,
    actor_id: int | None = None,
    reason: str = "",
    at: datetime | None = None,
) -> Transfer:
    """The one place a transfer's status changes (TRANSFER_MACHINE): checks
    the table, stamps the transfer and writes its audit row. The caller holds
    the transfer's row lock and does the stock work of the move."""
    lock_held(Rank.TRANSFER, transfer.id)
    TRANSFER_MACHINE.apply(
        rows=[transfer],
        to=to,
        context=Context(actor_id=actor_id, reason=reason, at=at or timezone.now()),
    )
    return transfer


def transfer_create(
    *,
    origin_id: int,
    destination_id: int,
    departure_id: int,
    lines: Sequence[TransferLineRequest],
    actor_id: int | None = None,
) -> Transfer:
    """A draft transfer: which products go from where to where, on which
    departure. No stock moves until it is dispatched."""
    problems: dict[str, list[Any]] = {}
    if origin_id == destination_id:
        problems["destination"] = [_("Must differ from the origin.")]
    if not lines:
        problems["lines"] = [_("At least one line is needed.")]
    seen: set[str] = set()
    for index, line in enumerate(lines):
        if line.quantity <= 0:
            problems[f"lines[{index}].quantity"] = [_("Must be positive.")]
        if line.sku in seen:
            problems[f"lines[{index}].sku"] = [_("Listed twice.")]
        seen.add(line.sku)
    products = {p.sku: p.id for p in Product.objects.filter(sku__in=seen)}
    for index, line in enumerate(lines):
        if line.sku not in products:
            problems[f"lines[{index}].sku"] = [_("Unknown product.")]
    departure = Departure.objects.select_related("lane").filter(id=departure_id).first()
    if departure is None:
        problems["departure"] = [_("Unknown departure.")]
    elif departure.lane.origin_id != origin_id:
        problems["departure"] = [_("Its lane does not leave from the origin warehouse.")]
    if problems or departure is None:
        raise ValidationFailed(fields=problems)
    _check_open(departure)
    with locked_transaction():
        transfer = Transfer.objects.create(
            origin_id=origin_id,
            destination_id=destination_id,
            departure_id=departure_id,
            created_at=timezone.now(),
            created_by_id=actor_id,
        )
        TransferLine.objects.bulk_create(
            [
                TransferLine(
                    transfer=transfer, product_id=products[line.sku], quantity_sent=line.quantity
                )
                for line in lines
            ]
        )
    return transfer


def transfer_lock(*, transfer_id: int) -> Transfer:
    """Lock a transfer: the first lock of every command on it (core.locking)."""
    return _locked(transfer_id)


def transfer_dispatch_check(*, transfer: Transfer) -> dict[int, int]:
    """Whether a locked transfer may leave now (a draft, its departure still
    open: locked next, in the lock order); the units to take out, by product."""
    TRANSFER_TRANSITIONS.check(transfer.status, TS.DISPATCHED)
    departure = lock_row(Departure.objects.filter(id=transfer.departure_id), rank=Rank.DEPARTURE)
    assert departure is not None  # protected by the foreign key
    _check_open(departure)
    return dict(
        TransferLine.objects.filter(transfer=transfer).values_list("product_id", "quantity_sent")
    )


@dataclass(frozen=True)
class TransferCount:
    """What a receipt counted, by product: the units that go in, and for each
    short line the units missing and why."""

    quantities: dict[int, int]
    shortfalls: dict[int, tuple[int, str]]


def transfer_receive_count(*, transfer: Transfer, lines: Sequence[ReceivedLine]) -> TransferCount:
    """Check the count of every line of a locked, dispatched transfer and
    record it on the lines; a short line needs a reason (400 otherwise)."""
    TRANSFER_TRANSITIONS.check(transfer.status, TS.RECEIVED)
    stored = {
        line.product.sku: line
        for line in TransferLine.objects.filter(transfer=transfer).select_related("product")
    }
    problems: dict[str, list[Any]] = {}
    counted: dict[str, ReceivedLine] = {}
    for index, entry in enumerate(lines):
        where = f"lines[{index}]"
        line = stored.get(entry.sku)
        if line is None:
            problems[f"{where}.sku"] = [_("Not on this transfer.")]
        elif entry.sku in counted:
            problems[f"{where}.sku"] = [_("Listed twice.")]
        elif entry.quantity_received < 0:
            problems[f"{where}.quantity_received"] = [_("Must not be negative.")]
        elif entry.quantity_received > line.quantity_sent:
            problems[f"{where}.quantity_received"] = [
                gettext("More than the %(sent)d sent.") % {"sent": line.quantity_sent}
            ]
        elif entry.quantity_received < line.quantity_sent and not entry.reason.strip():
            problems[f"{where}.reason"] = [_("A short receipt needs a reason.")]
        elif entry.quantity_received == line.quantity_sent and entry.reason.strip():
            problems[f"{where}.reason"] = [_("Only a short receipt takes a reason.")]
        counted.setdefault(entry.sku, entry)
    missing = sorted(set(stored) - set(counted))
    if missing:
        problems["lines"] = [
            gettext("Every line must be counted; missing: %(skus)s.") % {"skus": ", ".join(missing)}
        ]
    if problems:
        raise ValidationFailed(fields=problems)
    shortfalls: dict[int, tuple[int, str]] = {}
    for sku, line in stored.items():
        entry = counted[sku]
        line.quantity_received = entry.quantity_received
        if entry.quantity_received < line.quantity_sent:
            line.shortfall_reason = entry.reason.strip()[:300]
            shortfalls[line.product_id] = (
                line.quantity_sent - entry.quantity_received,
                line.shortfall_reason,
            )
    TransferLine.objects.bulk_update(
        list(stored.values()), ["quantity_received", "shortfall_reason"]
    )
    return TransferCount(
        quantities={line.product_id: line.quantity_received or 0 for line in stored.values()},
        shortfalls=shortfalls,
    )


def transfer_reason(transfer: Transfer) -> str:
    """What the stock movements of a transfer say (warehouses cannot point to it)."""
    return _reason(transfer)


def transfer_cancel(*, transfer_id: int, actor_id: int | None = None, reason: str = "") -> Transfer:
    """Drop a draft; nothing has moved yet."""
    with locked_transaction():
        transfer = _locked(transfer_id)
        transfer_transition(transfer=transfer, to=TS.CANCELLED, actor_id=actor_id, reason=reason)
    return transfer


def stock_in_transit(
    *, warehouse_ids: Iterable[int] | None = None, product_ids: Iterable[int] | None = None
) -> dict[tuple[int, int], int]:
    """(destination warehouse id, product id) -> units dispatched to it and
    not yet received."""
    rows = TransferLine.objects.filter(transfer__status=TS.DISPATCHED)
    if warehouse_ids is not None:
        rows = rows.filter(transfer__destination_id__in=list(warehouse_ids))
    if product_ids is not None:
        rows = rows.filter(product_id__in=list(product_ids))
    totals: dict[tuple[int, int], int] = defaultdict(int)
    for destination_id, product_id, units in (
        rows.values_list("transfer__destination_id", "product_id")
        .annotate(units=Sum("quantity_sent"))
        .order_by()
    ):
        totals[(destination_id, product_id)] += units
    return dict(totals)

"""Row locks, taken in one order everywhere, checked as they are taken.

Every transaction that locks rows opens `locked_transaction()` (an atomic
block with a lock tracker) and takes its locks with `lock_rows` (or, for
hand-written SQL, `lock_check` right before its `FOR UPDATE`). The tracker
refuses a lock that would break the documented order, so a command written
in the wrong order fails its first test instead of deadlocking in
production. `select_for_update` is used nowhere else (a test checks).

The order (docs/architecture.md, "Lock order"):

    transfer -> departure -> orders -> parcels -> stock levels -> buyer
             -> tracking number series -> settlement statement -> queue rows

- Shared rows (transfers, departures, orders, stock levels, buyers, series,
  statements) are locked by rank, and within a rank by ascending id: a
  transaction holding a lock never waits for one that sorts before it.
- An order's own rows (its payments, risk holds, parcels and
  fulfilment orders) are locked only
  under the order's lock (`parent=`): whoever wants them waits for the order
  first, so they need no global order of their own. Parcels of many orders
  (a departure, a courier batch) are locked after all their orders.
- A row this transaction inserted is invisible to others until commit; it is
  registered with `lock_new` and counts as held.

Locks are FOR NO KEY UPDATE on PostgreSQL: Amur never changes a primary key,
and a plain FOR UPDATE would also wait for (and be waited on by) every
transaction inserting a row that references the locked one (an order's new
event, a parcel's new scan), which FOR KEY SHARE takes.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


class Rank(IntEnum):
    TRANSFER = 10
    DEPARTURE = 20
    ORDER = 30
    # An order's own rows: locked under the order's lock (parent=).
    RISK_HOLD = 31
    PARCEL = 32
    PAYMENT = 33
    FULFILMENT_ORDER = 34
    STOCK = 40
    BUYER = 50
    SERIES = 60
    STATEMENT = 70
    # Queues (outbox events, webhook deliveries): claimed in transactions of
    # their own.
    QUEUE = 80


# Ranks whose rows belong to an order and are locked under its lock.
ORDER_CHILDREN = frozenset({Rank.RISK_HOLD, Rank.PARCEL, Rank.PAYMENT, Rank.FULFILMENT_ORDER})


class LockOrderError(RuntimeError):
    """A lock taken out of the documented order, or outside a
    locked_transaction: a programming error, never the caller's."""


@dataclass
class _Held:
    # Highest shared rank locked so far, and the highest id within it.
    rank: int = 0
    top_id: int = 0
    ids: dict[int, set[int]] = field(default_factory=dict)

    def holds(self, rank: int, row_id: int) -> bool:
        return row_id in self.ids.get(rank, set())


_held: contextvars.ContextVar[_Held | None] = contextvars.ContextVar("amur_locks", default=None)


@contextmanager
def locked_transaction(*, savepoint: bool = True) -> Iterator[None]:
    """An atomic block whose row locks are checked against the lock order.
    Nested inside another, it joins that one's locks (they are still held).
    savepoint=False as for transaction.atomic: for hot paths that write
    nothing before they can fail."""
    if _held.get() is not None:
        with transaction.atomic(savepoint=savepoint):
            yield
        return
    token = _held.set(_Held())
    try:
        with transaction.atomic(savepoint=savepoint):
            yield
    finally:
        _held.reset(token)


def _state() -> _Held:
    held = _held.get()
    if held is None:
        raise LockOrderError("row locks are taken only inside locked_transaction()")
    return held


def lock_check(rank: Rank, ids: Iterable[int], *, parent: Iterable[int] = ()) -> None:
    """Record that rows of `rank` with these ids are about to be locked, or
    raise LockOrderError. `parent`: the order ids whose lock must be held, for
    an order's own rows."""
    held = _state()
    wanted = sorted(set(ids))
    if not wanted:
        return
    if rank in ORDER_CHILDREN:
        missing = sorted(set(parent) - held.ids.get(Rank.ORDER, set()))
        if missing or not parent:
            raise LockOrderError(f"{rank.name} rows locked without their orders' locks {missing}")
        held.ids.setdefault(rank, set()).update(wanted)
        return
    new = [row_id for row_id in wanted if not held.holds(rank, row_id)]
    if new:
        if rank < held.rank or (rank == held.rank and new[0] <= held.top_id):
            raise LockOrderError(
                f"{rank.name} {new} locked after {Rank(held.rank).name} {held.top_id}"
            )
        held.rank, held.top_id = rank, new[-1]
        held.ids.setdefault(rank, set()).update(new)


def lock_in_order(rank: Rank, ids: Iterable[int]) -> bool:
    """Whether locking these rows now keeps the order (rows already held
    count as in order): for a caller that can do without them rather than
    wait out of order."""
    held = _state()
    new = sorted(row_id for row_id in set(ids) if not held.holds(rank, row_id))
    return not new or rank > held.rank or (rank == held.rank and new[0] > held.top_id)


def lock_held(rank: Rank, row_id: int) -> None:
    """Raise unless this transaction holds the row's lock: for writes that
    rely on the caller's lock (stock released for an order under its lock)."""
    if not _state().holds(rank, row_id):
        raise LockOrderError(f"{rank.name} {row_id} is not locked by this transaction")


def lock_new(rank: Rank, ids: Iterable[int]) -> None:
    """Rows this transaction inserted: nobody else can see them until it
    commits, so they count as held without waiting in the order."""
    _state().ids.setdefault(rank, set()).update(ids)


def lock_rows(
    queryset: QuerySet[M],
    *,
    rank: Rank,
    parent: Iterable[int] = (),
    ids: Iterable[int] | None = None,
    skip_locked: bool = False,
) -> list[M]:
    """Lock the rows of `queryset`, in id order, and return them.

    `ids`: the ids the queryset selects, when the caller knows them: checked
    before anything waits. Otherwise the ids locked are checked once they
    are known, which still fails the first test of a command written in the
    wrong order, without a query to read them first.
    `skip_locked`: rows another transaction holds are left out instead of
    waited for (claiming work from a queue); never waiting, it cannot take
    part in a deadlock, so it is allowed in any order."""
    _state()
    if ids is not None and not skip_locked:
        lock_check(rank, ids, parent=parent)
    kwargs: dict[str, Any] = {"of": ("self",)}
    if connection.vendor == "postgresql":
        kwargs["no_key"] = True
    if skip_locked:
        kwargs["skip_locked"] = True
    rows = list(queryset.select_for_update(**kwargs).order_by("pk"))
    if skip_locked:
        lock_new(rank, [row.pk for row in rows])
    elif ids is None:
        lock_check(rank, [row.pk for row in rows], parent=parent)
    return rows


def lock_row(queryset: QuerySet[M], *, rank: Rank, parent: Iterable[int] = ()) -> M | None:
    """The one row of `queryset`, locked, or None."""
    rows = lock_rows(queryset, rank=rank, parent=parent)
    return rows[0] if rows else None


def for_update_sql() -> str:
    """The locking clause for hand-written SELECTs (after lock_check)."""
    if not connection.features.has_select_for_update:
        return ""
    return " FOR NO KEY UPDATE" if connection.vendor == "postgresql" else " FOR UPDATE"

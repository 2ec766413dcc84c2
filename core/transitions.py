"""One contract for every status change (order, parcel, departure, payment,
transfer, settlement statement).

A `StateMachine` is declared once per model, beside it, with its table of
allowed moves (`core.statemachine.TransitionTable`), its place in the lock
order and the rows a move writes besides the status: its audit row and its
outbox events. `move` then does, in one transaction:

1. lock the rows (`core.locking.lock_rows`, in the lock order; an order's own
   rows under the order's lock);
2. check every move against the table (strict: any refused move raises
   InvalidTransition and nothing changes; otherwise refused rows are left as
   they are); rows already in the target status are left alone;
3. write the new status and the model's stamp fields;
4. write one audit row per move and the outbox events.

`apply` does steps 2-4 for rows the caller has already locked (a command that
read the row under its lock and decided the move from it)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.db.models import Model
from django.utils import timezone

from core.errors import NotFound
from core.locking import Rank, lock_rows, locked_transaction
from core.rawsql import instances_insert
from core.statemachine import TransitionTable

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Move(Generic[M]):
    row: M
    previous: str
    to: str
    # When the move happened, where it differs from the context's time (the
    # steps of a parcel's timeline), and the row's event sequence after it
    # (for machines with a sequence field).
    at: datetime | None = None
    sequence: int | None = None


@dataclass(frozen=True)
class Context:
    """Who moved the rows, why, and when; `data` is the audit row's details."""

    actor_id: int | None = None
    reason: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=timezone.now)


def _no_rows(moves: Sequence[Move[Any]], context: Context) -> list[Model]:
    return []


def _no_events(moves: Sequence[Move[Any]], context: Context) -> list[Any]:
    return []


def _save_each(moves: Sequence[Move[Any]], fields: Sequence[str], context: Context) -> None:
    for move in moves:
        move.row.save(update_fields=list(fields))


class StateMachine(Generic[M]):
    def __init__(
        self,
        *,
        model: type[M],
        table: TransitionTable,
        rank: Rank,
        audit: Callable[[Sequence[Move[M]], Context], Iterable[Model]] = _no_rows,
        events: Callable[[Sequence[Move[M]], Context], Iterable[Any]] = _no_events,
        record_events: Callable[..., Any] | None = None,
        stamp: Callable[[M, str, Context], Iterable[str]] | None = None,
        write: Callable[[Sequence[Move[M]], Sequence[str], Context], None] | None = None,
        field: str = "status",
        rows: Callable[[Sequence[int]], Any] | None = None,
        sequence_field: str | None = None,
    ) -> None:
        """`stamp(row, to, context)` sets the fields that go with a status
        (paid_at, issued_at...) on the row and names them; `write` replaces
        the default save of each row (bulk paths); `record_events` writes the
        outbox events `events` returns (notifications.services.events_record:
        passed in, as core sits below notifications); `rows(ids)` the queryset
        that loads the rows to lock (with what the events need joined);
        `sequence_field` a counter on the row that every move increments
        (the sequence of its outbox events)."""
        self.model = model
        self.table = table
        self.rank = rank
        self.audit = audit
        self.events = events
        self.record_events = record_events
        self.stamp = stamp
        self.write = write
        self.field = field
        self.rows = rows or (lambda ids: model._default_manager.filter(pk__in=list(ids)))
        self.sequence_field = sequence_field

    def move(
        self,
        *,
        ids: Sequence[int],
        to: str,
        context: Context | None = None,
        strict: bool = True,
        parents: Sequence[int] = (),
        extra_fields: Sequence[str] = (),
        skip_same: bool = False,
    ) -> list[Move[M]]:
        """Lock the rows `ids` and move them to `to`; returns the moves made.
        `parents`: the order ids whose locks the caller holds, for an order's
        own rows. `skip_same`: rows already in `to` are left alone instead of
        being refused by the table."""
        context = context or Context()
        with locked_transaction():
            rows = lock_rows(
                self.rows(ids),
                rank=self.rank,
                ids=ids,
                parent=parents,
            )
            if strict and len(rows) != len(set(ids)):
                raise NotFound()
            return self.apply(
                rows=rows,
                to=to,
                context=context,
                strict=strict,
                extra_fields=extra_fields,
                skip_same=skip_same,
            )

    def apply(
        self,
        *,
        rows: Sequence[M],
        to: str,
        context: Context | None = None,
        strict: bool = True,
        extra_fields: Sequence[str] = (),
        skip_same: bool = False,
    ) -> list[Move[M]]:
        """Move rows the caller holds locked. `extra_fields`: other fields
        the caller set on the rows, saved with the status."""
        context = context or Context()
        return self.apply_steps(
            steps=[(row, [(to, None)]) for row in rows],
            context=context,
            strict=strict,
            extra_fields=extra_fields,
            skip_same=skip_same,
        )

    def apply_steps(
        self,
        *,
        steps: Sequence[tuple[M, Sequence[tuple[str, datetime | None]]]],
        context: Context | None = None,
        strict: bool = False,
        extra_fields: Sequence[str] = (),
        skip_same: bool = True,
    ) -> list[Move[M]]:
        """Rows the caller holds, each taken through statuses in turn (a
        parcel's timeline folded into its status changes: (status, when)).
        Every step is checked against the table; a refused step raises when
        strict and is skipped otherwise. Then one write, one audit row and
        one outbox event per step made."""
        context = context or Context()
        moves: list[Move[M]] = []
        for row, path in steps:
            for to, at in path:
                current = getattr(row, self.field)
                if skip_same and current == to and not self.table.allows(current, to):
                    continue
                if not self.table.allows(current, to):
                    if strict:
                        self.table.check(current, to)
                    continue
                sequence = None
                if self.sequence_field is not None:
                    sequence = getattr(row, self.sequence_field) + 1
                    setattr(row, self.sequence_field, sequence)
                setattr(row, self.field, to)
                moves.append(Move(row=row, previous=current, to=to, at=at, sequence=sequence))
        if not moves:
            return []
        fields = [self.field, *extra_fields]
        if self.sequence_field is not None:
            fields.append(self.sequence_field)
        for move in moves:
            if self.stamp is not None:
                fields.extend(f for f in self.stamp(move.row, move.to, context) if f not in fields)
        (self.write or _save_each)(moves, fields, context)
        self._record(moves, context)
        return moves

    def record_created(self, *, rows: Sequence[M], context: Context | None = None) -> list[Move[M]]:
        """Rows just inserted in their first status (with their sequence
        field at 1): their first step, "" to that status, checked against the
        table and recorded as any move is (audit rows, outbox events), without
        writing the rows again."""
        context = context or Context()
        moves: list[Move[M]] = []
        for row in rows:
            to = getattr(row, self.field)
            self.table.check("", to)
            sequence = getattr(row, self.sequence_field) if self.sequence_field else None
            moves.append(Move(row=row, previous="", to=to, sequence=sequence))
        if moves:
            self._record(moves, context)
        return moves

    def _record(self, moves: Sequence[Move[M]], context: Context) -> None:
        audit_rows = list(self.audit(moves, context))
        if audit_rows:
            instances_insert(audit_rows)
        events = list(self.events(moves, context))
        if events:
            if self.record_events is None:
                raise RuntimeError(f"{self.model.__name__}: events without record_events")
            self.record_events(events=events)

"""Writes of returns. A return's status changes only through RETURN_MACHINE
(`return_transition`), which checks the table of allowed moves and writes the
audit event and the buyer's outbox event with the change. A return is one of
its order's own rows: it is locked only under the order's lock
(core.locking), by the commands in commands/returns.py."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext

from core.errors import NotFound
from core.locking import Rank, lock_held, lock_new, lock_rows
from core.statemachine import TransitionTable
from core.transitions import Context, Move, StateMachine
from notifications.services import EventSpec, events_record, events_record_ids
from orders.models import Order, OrderLine
from shipping.fulfilment.models import Parcel, ParcelLine, ParcelStatus
from shipping.returns.models import (
    RETURNED_TO_SENDER,
    Return,
    ReturnEvent,
    ReturnKind,
    ReturnLine,
    ReturnStatus,
)

R = ReturnStatus
RETURN_TRANSITIONS = TransitionTable.build(
    "return",
    {
        R.REQUESTED: {R.APPROVED, R.REJECTED},
        R.APPROVED: {R.IN_TRANSIT},
        R.IN_TRANSIT: {R.RECEIVED},
        # Refunded when money went back to the buyer; closed when none was
        # due (cash on delivery never collected, or refunded already).
        R.RECEIVED: {R.REFUNDED, R.CLOSED},
    },
)
# Returns whose units are spoken for: a line cannot be returned twice.
OPEN_OR_DONE = frozenset(set(R.values) - {R.REJECTED})
# Returns whose goods are back at a returns warehouse.
RECEIVED_ONCE = frozenset({R.RECEIVED, R.REFUNDED, R.CLOSED})
_STAMP = {
    R.APPROVED: "decided_at",
    R.REJECTED: "decided_at",
    R.IN_TRANSIT: "shipped_at",
    R.RECEIVED: "received_at",
    R.REFUNDED: "closed_at",
    R.CLOSED: "closed_at",
}
# The law's windows (consumer protection law, art. 26.1 p. 4), counted from
# the day after hand-over, in Moscow time (the buyers' law and day).
WINDOW_DAYS_WRITTEN_TERMS = 7
WINDOW_MONTHS_NO_WRITTEN_TERMS = 3
_LAW_ZONE = ZoneInfo("Europe/Moscow")


def _months_later(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover: 28 always exists


def return_deadline(*, delivered_at: datetime, terms_in_writing: bool) -> datetime:
    """The last moment a buyer may ask to return goods handed over at
    `delivered_at`: the end of the 7th day after (Moscow time), or of the
    same day 3 months later where the terms were not given in writing."""
    handed_over = timezone.localtime(delivered_at, _LAW_ZONE).date()
    if terms_in_writing:
        last_day = handed_over + timedelta(days=WINDOW_DAYS_WRITTEN_TERMS)
    else:
        last_day = _months_later(handed_over, WINDOW_MONTHS_NO_WRITTEN_TERMS)
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=_LAW_ZONE)


@functools.lru_cache(maxsize=64)
def _email_templates(language: str, status: str) -> tuple[str, str]:
    with translation.override(language):
        label = str(ReturnStatus(status).label).replace("%", "%%")
        subject = gettext("Return %(number)s: %(status)s") % {
            "number": "%(number)s",
            "status": label,
        }
        body = gettext("Your return %(number)s (order %(order)s) is now: %(status)s.") % {
            "number": "%(number)s",
            "order": "%(order)s",
            "status": label,
        }
    return subject, body


def _event_spec(ret: Return, order: Order, previous: str, context: Context) -> EventSpec:
    buyer = order.buyer
    subject, body = _email_templates(buyer.language, ret.status)
    payload: dict[str, Any] = {
        "return": ret.number,
        "order": order.number,
        "kind": ret.kind,
        "status": ret.status,
        "previous_status": previous,
        "reason": context.reason,
        "tracking_number": ret.tracking_number,
        "lines": [
            {"sku": sku, "quantity": quantity}
            for sku, quantity in ReturnLine.objects.filter(return_request=ret)
            .order_by("id")
            .values_list("line__sku", "quantity")
        ],
        "refund": None
        if ret.refund_amount is None
        else {"amount": str(ret.refund_amount), "currency": ret.currency},
    }
    return EventSpec(
        type="return.status_changed",
        subject=f"return:{ret.number}",
        sequence=ret.event_seq,
        payload=payload,
        occurred_at=context.at,
        audience_id=buyer.user_id,
        email_to=buyer.user.email,
        email_subject=subject % {"number": ret.number},
        email_body=body % {"number": ret.number, "order": order.number},
    )


def _stamp(ret: Return, to: str, context: Context) -> list[str]:
    ret.updated_at = context.at
    field = _STAMP[R(to)]
    setattr(ret, field, context.at)
    return ["updated_at", field]


def _audit(moves: Sequence[Move[Return]], context: Context) -> list[ReturnEvent]:
    return [
        ReturnEvent(
            return_request=move.row,
            sequence=move.sequence or move.row.event_seq,
            from_status=move.previous,
            to_status=move.to,
            actor_id=context.actor_id,
            reason=context.reason,
            data=dict(context.data),
            created_at=context.at,
        )
        for move in moves
    ]


def _outbox(moves: Sequence[Move[Return]], context: Context) -> list[EventSpec]:
    return [_event_spec(move.row, move.row.order, move.previous, context) for move in moves]


RETURN_MACHINE = StateMachine(
    model=Return,
    table=RETURN_TRANSITIONS,
    rank=Rank.RETURN,
    sequence_field="event_seq",
    stamp=_stamp,
    audit=_audit,
    events=_outbox,
    record_events=events_record_ids,
)


def returns_lock(*, order: Order, **filters: Any) -> list[Return]:
    """The order's returns matching `filters`, locked under the order's lock."""
    rows = lock_rows(
        Return.objects.filter(order_id=order.id, **filters), rank=Rank.RETURN, parent=[order.id]
    )
    for ret in rows:
        ret.order = order
    return rows


def return_lock(*, order: Order, number: str) -> Return:
    rows = returns_lock(order=order, number=number)
    if not rows:
        raise NotFound()
    return rows[0]


def return_transition(
    *,
    ret: Return,
    to: str,
    actor_id: int | None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    extra_fields: Sequence[str] = (),
) -> Return:
    """Move a return the caller holds locked (strict: a refused move raises
    InvalidTransition), saving `extra_fields` set on it with the status."""
    lock_held(Rank.RETURN, ret.id)
    RETURN_MACHINE.apply(
        rows=[ret],
        to=to,
        context=Context(actor_id=actor_id, reason=reason, data=data or {}),
        extra_fields=extra_fields,
    )
    return ret


def returned_units(*, order_id: int, statuses: Iterable[str] = OPEN_OR_DONE) -> dict[int, int]:
    """Units of each of the order's lines in its returns of these statuses."""
    return dict(
        ReturnLine.objects.filter(
            return_request__order_id=order_id, return_request__status__in=list(statuses)
        )
        .order_by()
        .values_list("line_id")
        .annotate(units=Sum("quantity"))
    )


def return_create(
    *,
    order: Order,
    kind: str,
    lines: Sequence[tuple[OrderLine, int]],
    status: str,
    actor_id: int | None,
    reason: str = "",
    parcel: Parcel | None = None,
    tracking_number: str = "",
) -> Return:
    """Insert a return of `lines` (order line, units) of an order the caller
    has locked, in its first status, with its first event."""
    lock_held(Rank.ORDER, order.id)
    count = Return.objects.filter(order_id=order.id).count()
    now = timezone.now()
    ret = Return.objects.create(
        number=f"{order.number}-R{count + 1}",
        order=order,
        kind=kind,
        status=status,
        reason=reason[:500],
        parcel=parcel,
        tracking_number=tracking_number,
        event_seq=1,
        shipped_at=now if status == R.IN_TRANSIT else None,
    )
    lock_new(Rank.RETURN, [ret.id])
    ReturnLine.objects.bulk_create(
        [ReturnLine(return_request=ret, line=line, quantity=units) for line, units in lines]
    )
    ReturnEvent.objects.create(
        return_request=ret,
        sequence=1,
        to_status=status,
        actor_id=actor_id,
        reason=reason[:300],
        created_at=now,
    )
    events_record(events=[_event_spec(ret, order, "", Context(reason=reason[:300], at=now))])
    return ret


def returns_to_sender_open(*, parcels: Iterable[Parcel]) -> list[Return]:
    """A return of each parcel the carrier brought back (status returned),
    on its way to the returns warehouse. The caller holds the parcels'
    orders' locks (a parcels' refresh); a parcel gets one such return."""
    returned = [p for p in parcels if p.status == ParcelStatus.RETURNED]
    if not returned:
        return []
    known = set(
        Return.objects.filter(parcel_id__in=[p.id for p in returned]).values_list(
            "parcel_id", flat=True
        )
    )
    contents: dict[int, list[tuple[OrderLine, int]]] = {}
    for parcel_line in (
        ParcelLine.objects.filter(parcel_id__in=[p.id for p in returned if p.id not in known])
        .select_related("line")
        .order_by("id")
    ):
        contents.setdefault(parcel_line.parcel_id, []).append(
            (parcel_line.line, parcel_line.quantity)
        )
    orders = Order.objects.select_related("buyer__user").in_bulk(
        [p.order_id for p in returned if p.id in contents]
    )
    opened = []
    for parcel in sorted(returned, key=lambda p: p.id):
        if parcel.id not in contents:
            continue
        # A parcel brought back after its delivery may hold units the buyer
        # asked to return already: those are not returned twice.
        taken = returned_units(order_id=parcel.order_id)
        lines = []
        for line, units in contents[parcel.id]:
            left = min(units, line.quantity - taken.get(line.id, 0))
            if left > 0:
                lines.append((line, left))
        if not lines:
            continue
        opened.append(
            return_create(
                order=orders[parcel.order_id],
                kind=ReturnKind.RETURN_TO_SENDER,
                lines=lines,
                status=R.IN_TRANSIT,
                actor_id=None,
                reason=RETURNED_TO_SENDER,
                parcel=parcel,
                tracking_number=parcel.tracking_number,
            )
        )
    return opened

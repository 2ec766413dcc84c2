"""The tracking timeline: every parcel status comes from its events.

`parcel_events_apply` inserts events in bulk, folds each affected timeline and
writes the changed statuses, their outbox events and the orders' follow-on
transitions in the caller's transaction.

Courier scans take a second road (`parcel_events_record`): their events are
stored with a `PendingEvent` row each, in the courier's request, and applied
to the parcels after commit by `pending_events_apply`, in batches that span
requests. A courier device gets its answer once the scans are durable, and a
thousand-scan upload does not hold a thousand parcel locks. Every refresh of a
parcel, whichever road, first takes that parcel's pending events as new, under
the parcel's row lock, so an event is applied exactly once and in timeline
order."""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext

from core.locking import Rank, lock_rows, locked_transaction
from core.rawsql import (
    COPY_FROM_ROWS,
    COPY_NULL,
    copy_available,
    copy_in,
    copy_text,
    ids_take,
)
from core.transitions import Context, Move, StateMachine
from notifications.services import EventSpec, events_record_ids, safe_enqueue
from orders.models import Order, OrderStatus
from orders.services import ORDER_TRANSITIONS, orders_transition
from shipping.fulfilment.models import Parcel, ParcelStatus
from shipping.fulfilment.orders import fulfilment_orders_of_parcels_follow, parcels_ended_split
from shipping.lastmile.models import PickupPoint
from shipping.returns.services import returns_to_sender_open
from shipping.tracking.events import (
    EMAIL_STATUSES,
    EVENT_KINDS,
    PARCEL_TRANSITIONS,
    SHIPPED_STATUSES,
    reason_label,
    status_fold,
)
from shipping.tracking.models import PendingEvent, TrackingEvent


@dataclass(frozen=True)
class NewEvent:
    parcel_id: int
    event: str
    occurred_at: datetime
    source: str
    location: str = ""
    courier_id: int | None = None
    scan_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


def parcel_events_apply(*, events: Sequence[NewEvent]) -> list[int]:
    """Insert events, then recompute the status of every parcel they touch.
    Returns the events' ids, in order."""
    if not events:
        return []
    ids = _events_insert(events, pending=False)
    _parcels_refresh(new_event_ids=set(ids), parcel_ids=sorted({e.parcel_id for e in events}))
    return ids


def parcel_events_record(*, events: Sequence[NewEvent]) -> list[int]:
    """Insert events now and apply them to their parcels after the caller's
    transaction commits (`pending_events_apply`, a Celery task; in process
    on the embedded stack). Returns the events' ids, in order."""
    if not events:
        return []
    ids = _events_insert(events, pending=True)
    transaction.on_commit(_pending_events_enqueue)
    return ids


def _pending_events_enqueue() -> None:
    from shipping.tasks import apply_pending_events

    safe_enqueue(apply_pending_events.delay)


PENDING_BATCH = 5000


def pending_events_apply(*, batch: int = PENDING_BATCH) -> int:
    """Apply recorded events to their parcels, oldest first, `batch` events'
    parcels per transaction, until none is left. Idempotent: an event is
    applied by whoever holds its parcel's lock first, then is no longer
    pending. Returns the number of parcels refreshed."""
    refreshed = 0
    while True:
        parcel_ids = sorted(
            set(
                PendingEvent.objects.order_by("event_id").values_list("parcel_id", flat=True)[
                    :batch
                ]
            )
        )
        if not parcel_ids:
            return refreshed
        _parcels_refresh(new_event_ids=set(), parcel_ids=parcel_ids)
        refreshed += len(parcel_ids)


def _events_insert(events: Sequence[NewEvent], *, pending: bool) -> list[int]:
    ids = _events_copy(events, pending=pending)
    if ids is None:
        ids = _events_insert_pg(events, pending=pending)
    if ids is not None:
        return ids
    rows = TrackingEvent.objects.bulk_create(
        [
            TrackingEvent(
                parcel_id=e.parcel_id,
                event=e.event,
                status=EVENT_KINDS[e.event].status,
                emsevt=EVENT_KINDS[e.event].emsevt,
                occurred_at=e.occurred_at,
                location=e.location,
                source=e.source,
                courier_id=e.courier_id,
                scan_id=e.scan_id,
                data=e.data,
            )
            for e in events
        ],
        batch_size=1000,
    )
    if pending:
        PendingEvent.objects.bulk_create(
            [PendingEvent(event_id=row.id, parcel_id=row.parcel_id) for row in rows],
            batch_size=1000,
        )
    return [row.id for row in rows]


_EVENTS_INSERT = (
    "INSERT INTO shipping_trackingevent (parcel_id, event, status, emsevt, occurred_at,"
    " location, source, courier_id, scan_id, data, recorded_at)"
    " SELECT *, %s FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[],"
    " %s::timestamptz[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::jsonb[])"
    " RETURNING id"
)
# The same, storing a pending row per event in the same statement; the final
# SELECT reads the inserted rows in insertion order, as RETURNING does.
_EVENTS_INSERT_PENDING = (
    "WITH inserted AS (INSERT INTO shipping_trackingevent (parcel_id, event, status, emsevt,"
    " occurred_at, location, source, courier_id, scan_id, data, recorded_at)"
    " SELECT *, %s FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[],"
    " %s::timestamptz[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::jsonb[])"
    " RETURNING id, parcel_id),"
    " pending AS (INSERT INTO shipping_pendingevent (event_id, parcel_id)"
    " SELECT id, parcel_id FROM inserted)"
    " SELECT id FROM inserted"
)


_EVENT_COLUMNS = (
    "id",
    "parcel_id",
    "event",
    "status",
    "emsevt",
    "occurred_at",
    "recorded_at",
    "location",
    "source",
    "courier_id",
    "scan_id",
    "data",
)


def _events_copy(events: Sequence[NewEvent], *, pending: bool) -> list[int] | None:
    """On PostgreSQL (psycopg2), many events go in with COPY, under ids taken
    from the table's sequence first, in order; `pending` copies a pending row
    per event too. A courier batch of 1,000 scans stored this way cost 12 ms
    against 19 ms for the INSERT from unnest (most of it psycopg2 adapting
    the arrays' values one by one, then the server parsing them), and the
    endpoint went from 31,000-33,000 to 43,000-44,000 scans/s
    (bench/scans.py, 2026-12-04). None for a few events, or where COPY is not
    available."""
    if (
        len(events) < COPY_FROM_ROWS
        or not copy_available()
        or any(timezone.is_naive(e.occurred_at) for e in events)
    ):
        return None
    table = TrackingEvent._meta.db_table
    ids = ids_take(table=table, count=len(events))
    recorded = timezone.now().isoformat()
    lines = []
    for row_id, e in zip(ids, events, strict=True):
        kind = EVENT_KINDS[e.event]
        data = json.dumps(e.data, cls=DjangoJSONEncoder) if e.data else "{}"
        lines.append(
            f"{row_id}\t{e.parcel_id}\t{e.event}\t{kind.status}\t{kind.emsevt}"
            f"\t{e.occurred_at.isoformat()}\t{recorded}\t{copy_text(e.location)}\t{e.source}"
            f"\t{COPY_NULL if e.courier_id is None else e.courier_id}"
            f"\t{COPY_NULL if e.scan_id is None else copy_text(e.scan_id)}\t{copy_text(data)}\n"
        )
    copy_in(table=table, columns=_EVENT_COLUMNS, text="".join(lines))
    if pending:
        copy_in(
            table=PendingEvent._meta.db_table,
            columns=("event_id", "parcel_id"),
            text="".join(f"{i}\t{e.parcel_id}\n" for i, e in zip(ids, events, strict=True)),
        )
    return ids


def _events_insert_pg(events: Sequence[NewEvent], *, pending: bool) -> list[int] | None:
    """On PostgreSQL, insert the events with one INSERT ... SELECT FROM unnest
    of one array per column and return their ids, in order; `pending` also
    stores a PendingEvent row per event. For the few events COPY is not
    worth (and where it is not available): model instances and the ORM's
    per-field preparation cost more than the insert itself. None when not on
    PostgreSQL."""
    if connection.vendor != "postgresql":
        return None
    kinds = [EVENT_KINDS[e.event] for e in events]
    columns: list[list[Any]] = [
        [e.parcel_id for e in events],
        [e.event for e in events],
        [kind.status for kind in kinds],
        [kind.emsevt for kind in kinds],
        [e.occurred_at for e in events],
        [e.location for e in events],
        [e.source for e in events],
        [e.courier_id for e in events],
        [e.scan_id for e in events],
        [json.dumps(e.data, cls=DjangoJSONEncoder) if e.data else "{}" for e in events],
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            _EVENTS_INSERT_PENDING if pending else _EVENTS_INSERT, [timezone.now(), *columns]
        )
        return [row_id for (row_id,) in cursor.fetchall()]


def _status_changes(
    current: str, timeline: Sequence[tuple[int, str, datetime]], new_ids: set[int]
) -> list[tuple[str, datetime]]:
    """The buyer-visible status changes that new events cause.

    Events after everything already known are progress: each change among them
    counts. Events that arrive late, before known ones, only count through the
    status they leave at the end of the known history."""
    statuses = [status for _id, status, _at in timeline]
    last_known = max(
        (i for i, (eid, _s, _at) in enumerate(timeline) if eid not in new_ids), default=-1
    )
    changes: list[tuple[str, datetime]] = []
    previous = current
    if last_known >= 0:
        settled = status_fold(statuses[: last_known + 1])
        if settled != previous:
            changes.append((settled, timeline[last_known][2]))
            previous = settled
    for index in range(last_known + 1, len(timeline)):
        status = status_fold(statuses[: index + 1])
        if status != previous:
            changes.append((status, timeline[index][2]))
            previous = status
    return changes


@dataclass(frozen=True)
class _Recipient:
    """What a parcel's status event needs of its order and buyer."""

    order_number: str
    user_id: int
    language: str
    email: str


def _parcels_refresh(*, new_event_ids: set[int], parcel_ids: Sequence[int]) -> None:
    with locked_transaction():
        _parcels_refresh_locked(new_event_ids=new_event_ids, parcel_ids=parcel_ids)


def parcels_lock(*, parcel_ids: Sequence[int]) -> list[Parcel]:
    """Lock parcels in the lock order: their orders first, then the parcels
    (core.locking), in the caller's locked_transaction."""
    order_ids = sorted(
        set(Parcel.objects.filter(id__any_of=parcel_ids).values_list("order_id", flat=True))
    )
    lock_rows(Order.objects.filter(id__any_of=order_ids).only("id"), rank=Rank.ORDER, ids=order_ids)
    return lock_rows(
        Parcel.objects.filter(id__any_of=parcel_ids).only(
            "id",
            "status",
            "event_seq",
            "tracking_number",
            "order_id",
            "fulfilment_order_id",
            "carrier",
            "carrier_number",
            "pickup_point_id",
        ),
        rank=Rank.PARCEL,
        parent=order_ids,
    )


def _parcels_refresh_locked(*, new_event_ids: set[int], parcel_ids: Sequence[int]) -> None:
    # Thousands of parcels per courier batch or departure: the rows are
    # locked and read lean, their orders' details read once per order. The
    # orders first (a parcel is one of its order's own rows, core.locking):
    # a command on an order (cash collected, a customs hold resolved) and a
    # refresh of its parcels then queue on the same row.
    parcels = parcels_lock(parcel_ids=parcel_ids)
    # Under the parcels' locks: recorded scans not yet applied are new here
    # too, whichever road brought this refresh.
    pending = PendingEvent.objects.filter(parcel_id__any_of=parcel_ids)
    pending_ids = set(pending.values_list("event_id", flat=True))
    if pending_ids:
        new_event_ids = new_event_ids | pending_ids
        pending.filter(event_id__any_of=pending_ids).delete()
    timelines: dict[int, list[tuple[int, str, datetime]]] = defaultdict(list)
    for event_id, parcel_id, status, occurred_at in (
        TrackingEvent.objects.filter(parcel_id__any_of=parcel_ids)
        .order_by("parcel_id", "occurred_at", "id")
        .values_list("id", "parcel_id", "status", "occurred_at")
    ):
        timelines[parcel_id].append((event_id, status, occurred_at))
    all_changes = {
        parcel.id: _status_changes(parcel.status, timelines[parcel.id], new_event_ids)
        for parcel in parcels
    }
    recipients = {
        order_id: _Recipient(number, user_id, language, email)
        for order_id, number, user_id, language, email in Order.objects.filter(
            id__any_of={p.order_id for p in parcels if all_changes[p.id]}
        ).values_list("id", "number", "buyer__user_id", "buyer__language", "buyer__user__email")
    }
    held = [
        pid
        for pid, changes in all_changes.items()
        if any(status == ParcelStatus.CUSTOMS_HELD for status, _at in changes)
    ]
    moves = PARCEL_MACHINE.apply_steps(
        steps=[(parcel, all_changes[parcel.id]) for parcel in parcels if all_changes[parcel.id]],
        context=Context(
            data={
                "recipients": recipients,
                "hold_reasons": _hold_reasons(held) if held else {},
                "points": _points(
                    {p.pickup_point_id for p in parcels if all_changes[p.id] and p.pickup_point_id}
                ),
            }
        ),
    )
    if moves:
        _orders_follow(parcels={move.row.id: move.row for move in moves}.values())


def _parcels_write(moves: Sequence[Move[Parcel]], fields: Sequence[str], context: Context) -> None:
    # One UPDATE per (new status, number of changes): a handful per batch,
    # where a bulk_update would build a CASE arm per parcel.
    steps: dict[int, int] = defaultdict(int)
    rows: dict[int, Parcel] = {}
    for move in moves:
        steps[move.row.id] += 1
        rows[move.row.id] = move.row
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for parcel_id, parcel in rows.items():
        groups[(parcel.status, steps[parcel_id])].append(parcel_id)
    for (status, count), ids in sorted(groups.items()):
        Parcel.objects.filter(id__any_of=ids).update(
            status=status, event_seq=F("event_seq") + count, updated_at=context.at
        )


def _points(point_ids: set[int]) -> dict[int, dict[str, str]]:
    """What a status webhook says of the pickup point a parcel goes to."""
    if not point_ids:
        return {}
    return {
        point_id: {
            "code": code,
            "carrier": carrier,
            "kind": kind,
            "name": name,
            "address": address,
            "postcode": postcode,
            "city": city,
        }
        for point_id, code, carrier, kind, name, address, postcode, city in (
            PickupPoint.objects.filter(id__in=point_ids).values_list(
                "id", "code", "carrier", "kind", "name", "address", "postcode", "city"
            )
        )
    }


def _parcels_outbox(moves: Sequence[Move[Parcel]], context: Context) -> list[EventSpec]:
    recipients = context.data["recipients"]
    hold_reasons = context.data["hold_reasons"]
    points = context.data.get("points", {})
    return [
        _parcel_event_spec(
            parcel=move.row,
            point=points.get(move.row.pickup_point_id),
            status=move.to,
            sequence=move.sequence or 0,
            recipient=recipients[move.row.order_id],
            previous=move.previous,
            occurred_at=move.at or context.at,
            reason=hold_reasons.get(move.row.id, "")
            if move.to == ParcelStatus.CUSTOMS_HELD
            else "",
        )
        for move in moves
    ]


# A parcel's status is folded from its timeline (`_status_changes`); each
# change is a step of this machine. Its audit rows are the timeline's own
# events, written before the fold.
PARCEL_MACHINE = StateMachine(
    model=Parcel,
    table=PARCEL_TRANSITIONS,
    rank=Rank.PARCEL,
    sequence_field="event_seq",
    write=_parcels_write,
    events=_parcels_outbox,
    record_events=events_record_ids,
)


def _hold_reasons(parcel_ids: Sequence[int]) -> dict[int, str]:
    """The reason of each parcel's latest customs hold."""
    reasons: dict[int, str] = {}
    for parcel_id, data in (
        TrackingEvent.objects.filter(parcel_id__any_of=parcel_ids, event="customs_held")
        .order_by("parcel_id", "occurred_at", "id")
        .values_list("parcel_id", "data")
    ):
        reasons[parcel_id] = (data or {}).get("reason", "")
    return reasons


@functools.lru_cache(maxsize=256)
def _email_texts(language: str, status: str, reason: str) -> tuple[str, str, str]:
    """The buyer's e-mail subject and body templates for a status, in their
    language, and the hold reason's line: the same for every parcel of a
    batch, so translated once."""
    with translation.override(language):
        label = str(ParcelStatus(status).label)
        subject = gettext("Parcel %(number)s: %(status)s") % {
            "number": "%(number)s",
            "status": label.replace("%", "%%"),
        }
        body = gettext("Your parcel %(number)s (order %(order)s) is now: %(status)s.") % {
            "number": "%(number)s",
            "order": "%(order)s",
            "status": label.replace("%", "%%"),
        }
        explained = reason_label("customs_held", reason) if reason else ""
        because = "\n" + gettext("Reason: %(reason)s.") % {"reason": explained} if explained else ""
    return subject, body, because


def _parcel_event_spec(
    *,
    parcel: Parcel,
    status: str,
    sequence: int,
    recipient: _Recipient,
    previous: str,
    occurred_at: datetime,
    reason: str = "",
    point: dict[str, str] | None = None,
) -> EventSpec:
    email_subject = email_body = ""
    if status in EMAIL_STATUSES:
        subject, body, because = _email_texts(recipient.language, status, reason)
        email_subject = subject % {"number": parcel.tracking_number}
        email_body = body % {"number": parcel.tracking_number, "order": recipient.order_number}
        email_body += because
    payload: dict[str, Any] = {
        "tracking_number": parcel.tracking_number,
        "order": recipient.order_number,
        "status": status,
        "previous_status": previous,
    }
    if reason:
        payload["reason"] = reason
    if parcel.carrier:
        payload["carrier"] = parcel.carrier
        payload["carrier_number"] = parcel.carrier_number
    if point is not None:
        payload["pickup_point"] = point
    return EventSpec(
        type="parcel.status_changed",
        subject=f"parcel:{parcel.tracking_number}",
        sequence=sequence,
        payload=payload,
        occurred_at=occurred_at,
        audience_id=recipient.user_id,
        email_to=recipient.email if email_subject else "",
        email_subject=email_subject,
        email_body=email_body,
    )


_ENDED = frozenset({ParcelStatus.DELIVERED, ParcelStatus.RETURNED})


def _orders_follow(*, parcels: Iterable[Parcel]) -> None:
    """Orders move with their parcels: in transit when one has shipped,
    delivered when all are delivered (or some delivered and the rest
    returned), returned when all came back to the sender."""
    parcels = list(parcels)
    # A parcel back with the sender left the warehouse too.
    fulfilment_orders_of_parcels_follow(
        order_ids=sorted({p.order_id for p in parcels}),
        shipped={
            p.fulfilment_order_id
            for p in parcels
            if (p.status in SHIPPED_STATUSES or p.status == ParcelStatus.RETURNED)
            and p.fulfilment_order_id
        },
        ended={
            p.fulfilment_order_id for p in parcels if p.status in _ENDED and p.fulfilment_order_id
        },
    )
    shipped = {
        p.order_id
        for p in parcels
        if p.status in SHIPPED_STATUSES or p.status == ParcelStatus.RETURNED
    }
    if shipped:
        # Most of a batch's orders are in transit already: lock only those
        # that can still move (orders_transition checks again under the lock).
        movable = sorted(
            Order.objects.filter(
                id__any_of=shipped, status__in=ORDER_TRANSITIONS.sources_of(OrderStatus.IN_TRANSIT)
            ).values_list("id", flat=True)
        )
        if movable:
            orders_transition(order_ids=movable, to=OrderStatus.IN_TRANSIT, strict=False)
    # An order is done when every parcel is delivered or back with the
    # sender: delivered if any reached the buyer, else returned.
    to_deliver, to_return = parcels_ended_split(
        by="order_id", ids={p.order_id for p in parcels if p.status in _ENDED}
    )
    if to_deliver:
        orders_transition(order_ids=to_deliver, to=OrderStatus.DELIVERED, strict=False)
    if to_return:
        orders_transition(order_ids=to_return, to=OrderStatus.RETURNED, strict=False)
    # Goods coming back to the sender: a return each, closed on receipt
    # (commands.returns) like a buyer's.
    returns_to_sender_open(parcels=parcels)

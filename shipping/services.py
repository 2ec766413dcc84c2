"""Parcels, departures and the tracking timeline.

Every parcel status comes from its timeline through `parcel_events_apply`,
which inserts events in bulk, folds each affected timeline, writes the changed
statuses, their outbox events and the orders' follow-on transitions in the
caller's transaction."""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Count, F, Max, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict
from core.statemachine import TransitionTable
from notifications.services import EventSpec, events_record
from orders.models import Order, OrderStatus
from orders.services import ORDER_TRANSITIONS, orders_transition
from shipping.models import (
    Departure,
    DepartureEvent,
    DepartureStatus,
    Lane,
    Parcel,
    ParcelStatus,
    TrackingEvent,
    TrackingSeries,
    Transfer,
    TransferStatus,
    UnassignedReason,
)
from shipping.planning import PlanDeparture, PlanParcel, plan_onto_departures
from shipping.s10 import s10_build
from shipping.tracking import (
    EMAIL_STATUSES,
    EVENT_KINDS,
    SHIPPED_STATUSES,
    reason_label,
    status_fold,
)

DS = DepartureStatus
DEPARTURE_TRANSITIONS = TransitionTable.build(
    "departure",
    {
        DS.SCHEDULED: {DS.LOADING, DS.CLOSED, DS.CANCELLED},
        DS.LOADING: {DS.CLOSED, DS.CANCELLED},
        DS.CLOSED: {DS.DEPARTED, DS.CANCELLED},
        DS.DEPARTED: {DS.ARRIVED},
    },
)
OPEN_DEPARTURE = (DS.SCHEDULED, DS.LOADING)
DEPARTURE_EVENT = {DS.CLOSED: "loaded", DS.DEPARTED: "departed", DS.ARRIVED: "arrived"}


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


def tracking_numbers_issue(*, count: int) -> list[str]:
    """Take `count` consecutive S10 serials from the series, under a row lock."""
    conf = settings.AMUR
    with transaction.atomic():
        series, _created = TrackingSeries.objects.get_or_create(
            prefix=conf["S10_PREFIX"], country=conf["S10_COUNTRY"]
        )
        series = TrackingSeries.objects.select_for_update().get(id=series.id)
        first = series.next_serial
        series.next_serial = first + count
        series.save(update_fields=["next_serial"])
    return [s10_build(series.prefix, first + i, series.country) for i in range(count)]


def parcel_events_apply(*, events: Sequence[NewEvent]) -> list[TrackingEvent]:
    """Insert events, then recompute the status of every parcel they touch."""
    if not events:
        return []
    kinds = [EVENT_KINDS[e.event] for e in events]
    rows = [
        TrackingEvent(
            parcel_id=e.parcel_id,
            event=e.event,
            status=kind.status,
            emsevt=kind.emsevt,
            occurred_at=e.occurred_at,
            location=e.location,
            source=e.source,
            courier_id=e.courier_id,
            scan_id=e.scan_id,
            data=e.data,
        )
        for e, kind in zip(events, kinds, strict=True)
    ]
    if not _tracking_events_insert_pg(rows):
        TrackingEvent.objects.bulk_create(rows, batch_size=1000)
    _parcels_refresh(
        new_event_ids={row.id for row in rows}, parcel_ids=sorted({e.parcel_id for e in events})
    )
    return rows


_EVENT_COLUMNS = (
    "parcel_id",
    "event",
    "status",
    "emsevt",
    "occurred_at",
    "location",
    "source",
    "courier_id",
    "scan_id",
)
_EVENTS_INSERT = (
    "INSERT INTO shipping_trackingevent (parcel_id, event, status, emsevt, occurred_at,"
    " location, source, courier_id, scan_id, data, recorded_at)"
    " SELECT *, %s FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[],"
    " %s::timestamptz[], %s::text[], %s::text[], %s::bigint[], %s::text[], %s::jsonb[])"
    " RETURNING id"
)


def _tracking_events_insert_pg(rows: Sequence[TrackingEvent]) -> bool:
    """On PostgreSQL, insert the events with one INSERT ... SELECT FROM unnest
    of one array per column, setting their ids (in order) and recorded_at.
    A courier batch is a thousand events: the ORM's per-field preparation
    costs more than the insert itself. False when not on PostgreSQL."""
    if connection.vendor != "postgresql":
        return False
    now = timezone.now()
    columns = [[getattr(row, name) for row in rows] for name in _EVENT_COLUMNS]
    columns.append([json.dumps(row.data, cls=DjangoJSONEncoder) for row in rows])
    with connection.cursor() as cursor:
        cursor.execute(_EVENTS_INSERT, [now, *columns])
        ids = [row_id for (row_id,) in cursor.fetchall()]
    for row, row_id in zip(rows, ids, strict=True):
        row.id = row_id
        row.recorded_at = now
        row._state.adding = False
        row._state.db = connection.alias
    return True


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
    timelines: dict[int, list[tuple[int, str, datetime]]] = defaultdict(list)
    for event_id, parcel_id, status, occurred_at in (
        TrackingEvent.objects.filter(parcel_id__in=parcel_ids)
        .order_by("parcel_id", "occurred_at", "id")
        .values_list("id", "parcel_id", "status", "occurred_at")
    ):
        timelines[parcel_id].append((event_id, status, occurred_at))
    # Thousands of parcels per courier batch or departure: the rows are
    # locked and read lean, their orders' details read once per order.
    parcels = list(
        Parcel.objects.select_for_update()
        .filter(id__in=parcel_ids)
        .only("id", "status", "event_seq", "tracking_number", "order_id")
        .order_by("id")
    )
    now = timezone.now()
    changed: list[Parcel] = []
    specs: list[EventSpec] = []
    all_changes = {
        parcel.id: _status_changes(parcel.status, timelines[parcel.id], new_event_ids)
        for parcel in parcels
    }
    recipients = {
        order_id: _Recipient(number, user_id, language, email)
        for order_id, number, user_id, language, email in Order.objects.filter(
            id__in={p.order_id for p in parcels if all_changes[p.id]}
        ).values_list("id", "number", "buyer__user_id", "buyer__language", "buyer__user__email")
    }
    held = [
        pid
        for pid, changes in all_changes.items()
        if any(status == ParcelStatus.CUSTOMS_HELD for status, _at in changes)
    ]
    hold_reasons = _hold_reasons(held) if held else {}
    for parcel in parcels:
        changes = all_changes[parcel.id]
        for status, occurred_at in changes:
            previous = parcel.status
            parcel.status = status
            parcel.event_seq += 1
            reason = hold_reasons.get(parcel.id, "") if status == ParcelStatus.CUSTOMS_HELD else ""
            specs.append(
                _parcel_event_spec(
                    parcel, recipients[parcel.order_id], previous, occurred_at, reason
                )
            )
        if changes:
            changed.append(parcel)
    if not changed:
        return
    # One UPDATE per (new status, number of changes): a handful per batch,
    # where a bulk_update would build a CASE arm per parcel.
    groups: dict[tuple[str, int], list[int]] = defaultdict(list)
    for parcel in changed:
        groups[(parcel.status, len(all_changes[parcel.id]))].append(parcel.id)
    for (status, steps), ids in sorted(groups.items()):
        Parcel.objects.filter(id__in=ids).update(
            status=status, event_seq=F("event_seq") + steps, updated_at=now
        )
    events_record(events=specs)
    _orders_follow(parcels=changed)


def _hold_reasons(parcel_ids: Sequence[int]) -> dict[int, str]:
    """The reason of each parcel's latest customs hold."""
    reasons: dict[int, str] = {}
    for parcel_id, data in (
        TrackingEvent.objects.filter(parcel_id__in=parcel_ids, event="customs_held")
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
    parcel: Parcel, recipient: _Recipient, previous: str, occurred_at: datetime, reason: str = ""
) -> EventSpec:
    email_subject = email_body = ""
    if parcel.status in EMAIL_STATUSES:
        subject, body, because = _email_texts(recipient.language, parcel.status, reason)
        email_subject = subject % {"number": parcel.tracking_number}
        email_body = body % {"number": parcel.tracking_number, "order": recipient.order_number}
        email_body += because
    payload = {
        "tracking_number": parcel.tracking_number,
        "order": recipient.order_number,
        "status": parcel.status,
        "previous_status": previous,
    }
    if reason:
        payload["reason"] = reason
    return EventSpec(
        type="parcel.status_changed",
        subject=f"parcel:{parcel.tracking_number}",
        sequence=parcel.event_seq,
        payload=payload,
        occurred_at=occurred_at,
        audience_id=recipient.user_id,
        email_to=recipient.email if email_subject else "",
        email_subject=email_subject,
        email_body=email_body,
    )


def _orders_follow(*, parcels: Iterable[Parcel]) -> None:
    """Orders move with their parcels: in transit when one has shipped,
    delivered when all are delivered."""
    shipped = {p.order_id for p in parcels if p.status in SHIPPED_STATUSES}
    if shipped:
        # Most of a batch's orders are in transit already: lock only those
        # that can still move (orders_transition checks again under the lock).
        movable = sorted(
            Order.objects.filter(
                id__in=shipped, status__in=ORDER_TRANSITIONS.sources_of(OrderStatus.IN_TRANSIT)
            ).values_list("id", flat=True)
        )
        if movable:
            orders_transition(order_ids=movable, to=OrderStatus.IN_TRANSIT, strict=False)
    delivered_candidates = {p.order_id for p in parcels if p.status == ParcelStatus.DELIVERED}
    if delivered_candidates:
        open_counts = dict(
            Parcel.objects.filter(order_id__in=delivered_candidates)
            .exclude(status=ParcelStatus.DELIVERED)
            .values_list("order_id")
            .annotate(n=Count("id"))
        )
        done = sorted(o for o in delivered_candidates if not open_counts.get(o))
        if done:
            orders_transition(order_ids=done, to=OrderStatus.DELIVERED, strict=False)


@dataclass
class PlanResult:
    assigned: dict[int, int] = field(default_factory=dict)  # parcel id -> departure id
    unassigned: dict[int, str] = field(default_factory=dict)  # parcel id -> reason


def departures_plan(*, lane_id: int, now: datetime | None = None) -> PlanResult:
    """Put the lane's packed, unassigned parcels on its open departures.

    Earliest promise first; each parcel on the earliest departure before its
    cut-off with room in kg, m3 and pieces. Parcels on closed departures are
    never moved."""
    now = now or timezone.now()
    result = PlanResult()
    with transaction.atomic():
        departures = list(
            Departure.objects.select_for_update()
            .filter(lane_id=lane_id, status__in=OPEN_DEPARTURE, cutoff_at__gt=now)
            .order_by("scheduled_at", "id")
        )
        loads: dict[int, Mapping[str, Any]] = {
            row["departure_id"]: row
            for row in Parcel.objects.filter(departure__in=departures)
            .values("departure_id")
            .annotate(
                g=Sum("weight_g"),
                mm3=Sum(F("length_mm") * F("width_mm") * F("height_mm")),
                n=Count("id"),
            )
        }
        fleet = [
            PlanDeparture(
                id=d.id,
                room_g=int(d.capacity_kg * 1000) - (loads.get(d.id, {}).get("g") or 0),
                room_mm3=int(d.capacity_m3 * 1_000_000_000) - (loads.get(d.id, {}).get("mm3") or 0),
                room_pieces=d.capacity_pieces - (loads.get(d.id, {}).get("n") or 0),
            )
            for d in departures
        ]
        parcels = list(
            Parcel.objects.select_for_update(skip_locked=True)
            .filter(lane_id=lane_id, departure__isnull=True, status=ParcelStatus.INFO_RECEIVED)
            .order_by("promised_max_days", "created_at", "id")
        )
        outcome = plan_onto_departures(
            [
                PlanParcel(
                    id=p.id,
                    weight_g=p.weight_g,
                    volume_mm3=p.length_mm * p.width_mm * p.height_mm,
                    promise_days=p.promised_max_days,
                    order_key=position,
                )
                for position, p in enumerate(parcels)
            ],
            fleet,
        )
        reason = UnassignedReason.NO_CAPACITY if departures else UnassignedReason.NO_OPEN_DEPARTURE
        for parcel in parcels:
            parcel.departure_id = outcome.assigned.get(parcel.id)
            parcel.unassigned_reason = "" if parcel.departure_id else reason
        result.assigned = dict(outcome.assigned)
        result.unassigned = {parcel_id: reason for parcel_id in outcome.no_room}
        Parcel.objects.bulk_update(parcels, ["departure", "unassigned_reason"], batch_size=1000)
    return result


def departure_transition(
    *,
    departure_id: int,
    to: str,
    actor_id: int | None = None,
    reason: str = "",
    occurred_at: datetime | None = None,
) -> Departure:
    """Move a departure and add its event to every parcel on it, in bulk."""
    now = occurred_at or timezone.now()
    with transaction.atomic():
        departure = (
            Departure.objects.select_for_update(of=("self",))
            .select_related("lane")
            .get(id=departure_id)
        )
        DEPARTURE_TRANSITIONS.check(departure.status, to)
        if (
            to == DS.CANCELLED
            and Transfer.objects.filter(
                departure=departure, status=TransferStatus.DISPATCHED
            ).exists()
        ):
            # Stock on board has left its warehouse: it must be received first.
            raise Conflict(
                _("Transfers on this departure are already dispatched."),
                code="departure_carries_transfers",
            )
        previous = departure.status
        departure.status = to
        departure.save(update_fields=["status", "updated_at"])
        DepartureEvent.objects.create(
            departure=departure,
            from_status=previous,
            to_status=to,
            actor_id=actor_id,
            reason=reason,
            created_at=now,
        )
        parcel_ids = list(
            Parcel.objects.filter(departure=departure).order_by("id").values_list("id", flat=True)
        )
        if to == DS.CANCELLED:
            Parcel.objects.filter(id__in=parcel_ids).update(departure=None)
            kind = "departure_cancelled"
        else:
            kind = DEPARTURE_EVENT.get(DS(to), "")
        if kind and parcel_ids:
            hub = departure.lane.destination_hub if to == DS.ARRIVED else departure.lane.origin_hub
            parcel_events_apply(
                events=[
                    NewEvent(
                        parcel_id=pid,
                        event=kind,
                        occurred_at=now,
                        source="departure",
                        location=hub,
                        data={"departure": departure.number},
                    )
                    for pid in parcel_ids
                ]
            )
    return departure


EXPIRE_AFTER = timedelta(days=30)
FINAL_STATUSES = (ParcelStatus.DELIVERED, ParcelStatus.RETURNED, ParcelStatus.EXPIRED)


def parcels_expire(*, now: datetime | None = None) -> int:
    """Trackers with no event for 30 days after their promise become expired."""
    now = now or timezone.now()
    candidates = (
        Parcel.objects.exclude(status__in=FINAL_STATUSES)
        .exclude(status="")
        .filter(created_at__lt=now - EXPIRE_AFTER)
        .annotate(last_event_at=Max("events__occurred_at"))
        .values_list("id", "created_at", "promised_max_days", "last_event_at")
    )
    due = [
        parcel_id
        for parcel_id, created_at, max_days, last_event_at in candidates
        if created_at + timedelta(days=max_days) + EXPIRE_AFTER < now
        and (last_event_at is None or last_event_at < now - EXPIRE_AFTER)
    ]
    with transaction.atomic():
        parcel_events_apply(
            events=[
                NewEvent(parcel_id=parcel_id, event="expired", occurred_at=now, source="system")
                for parcel_id in due
            ]
        )
    return len(due)


def lanes_plan() -> dict[str, int]:
    """The scheduled run of planning over every active lane."""
    return {
        lane.code: len(departures_plan(lane_id=lane.id).assigned)
        for lane in Lane.objects.filter(is_active=True).order_by("code")
    }

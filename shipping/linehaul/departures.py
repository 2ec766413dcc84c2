"""Departures: planning packed parcels onto them, and the departure life, whose
moves add their event to every parcel on board (shipping.tracking.timeline
keeps each parcel's status)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, NotFound
from core.locking import Rank, lock_row, lock_rows, locked_transaction
from core.statemachine import TransitionTable
from core.transitions import Context, Move, StateMachine
from shipping.fulfilment.models import Parcel, ParcelStatus, UnassignedReason
from shipping.linehaul.models import (
    Departure,
    DepartureEvent,
    DepartureStatus,
    Lane,
    Transfer,
    TransferStatus,
)
from shipping.linehaul.planning import PlanDeparture, PlanParcel, plan_onto_departures
from shipping.tracking.timeline import NewEvent, parcel_events_apply, parcels_lock

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
    with locked_transaction():
        departures = lock_rows(
            Departure.objects.filter(lane_id=lane_id, status__in=OPEN_DEPARTURE, cutoff_at__gt=now),
            rank=Rank.DEPARTURE,
        )
        departures.sort(key=lambda d: (d.scheduled_at, d.id))
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
        # Parcels being refreshed (a scan, a cancellation) are left for the
        # next run: skipping them, planning waits for nobody.
        parcels = lock_rows(
            Parcel.objects.filter(
                lane_id=lane_id, departure__isnull=True, status=ParcelStatus.INFO_RECEIVED
            ),
            rank=Rank.PARCEL,
            skip_locked=True,
        )
        parcels.sort(key=lambda p: (p.promised_max_days, p.created_at, p.id))
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


def _departure_events(moves: Sequence[Move[Departure]], context: Context) -> list[DepartureEvent]:
    return [
        DepartureEvent(
            departure=move.row,
            from_status=move.previous,
            to_status=move.to,
            actor_id=context.actor_id,
            reason=context.reason,
            created_at=context.at,
        )
        for move in moves
    ]


def _departure_stamp(departure: Departure, to: str, context: Context) -> list[str]:
    departure.updated_at = context.at
    return ["updated_at"]


DEPARTURE_MACHINE = StateMachine(
    model=Departure,
    table=DEPARTURE_TRANSITIONS,
    rank=Rank.DEPARTURE,
    rows=lambda ids: Departure.objects.select_related("lane").filter(id__in=ids),
    stamp=_departure_stamp,
    audit=_departure_events,
)


def departure_transition(
    *,
    departure_id: int,
    to: str,
    actor_id: int | None = None,
    reason: str = "",
    occurred_at: datetime | None = None,
) -> Departure:
    """Move a departure (DEPARTURE_MACHINE) and add its event to every parcel
    on it, in bulk. Locks: the departure, then its parcels' orders, then the
    parcels."""
    context = Context(actor_id=actor_id, reason=reason, at=occurred_at or timezone.now())
    with locked_transaction():
        departure = lock_row(
            Departure.objects.select_related("lane").filter(id=departure_id), rank=Rank.DEPARTURE
        )
        if departure is None:
            raise NotFound()
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
        DEPARTURE_MACHINE.apply(rows=[departure], to=to, context=context)
        parcel_ids = list(
            Parcel.objects.filter(departure=departure).order_by("id").values_list("id", flat=True)
        )
        if to == DS.CANCELLED:
            parcels_lock(parcel_ids=parcel_ids)
            Parcel.objects.filter(id__any_of=parcel_ids).update(departure=None)
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
                        occurred_at=context.at,
                        source="departure",
                        location=hub,
                        data={"departure": departure.number},
                    )
                    for pid in parcel_ids
                ]
            )
    return departure


def lanes_plan() -> dict[str, int]:
    """The scheduled run of planning over every active lane."""
    return {
        lane.code: len(departures_plan(lane_id=lane.id).assigned)
        for lane in Lane.objects.filter(is_active=True).order_by("code")
    }

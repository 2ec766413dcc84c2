"""Departures: planning packed parcels onto them, and the departure life, whose
moves add their event to every parcel on board (shipping.tracking.timeline
keeps each parcel's status)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict
from core.statemachine import TransitionTable
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
from shipping.tracking.timeline import NewEvent, parcel_events_apply

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


def lanes_plan() -> dict[str, int]:
    """The scheduled run of planning over every active lane."""
    return {
        lane.code: len(departures_plan(lane_id=lane.id).assigned)
        for lane in Lane.objects.filter(is_active=True).order_by("code")
    }

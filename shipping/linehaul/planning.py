"""Departure planning as a pure function, so it can be tested and measured
without a database.

Parcels are taken most urgent first (shortest promised delivery, then oldest);
each goes on the earliest open departure (in departure order) that still has
room for it in kilograms, cubic metres and pieces. Departures are given
already filtered to those open before their cut-off. The scan starts at the
first departure that can still take anything, so the work stays close to
linear in the number of parcels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PlanParcel:
    id: int
    weight_g: int
    volume_mm3: int
    promise_days: int
    order_key: int = 0  # tie-breaker: creation order


@dataclass
class PlanDeparture:
    id: int
    room_g: int
    room_mm3: int
    room_pieces: int


@dataclass
class PlanOutcome:
    assigned: dict[int, int] = field(default_factory=dict)  # parcel id -> departure id
    no_room: list[int] = field(default_factory=list)  # parcel ids that fit nowhere


def plan_onto_departures(
    parcels: Sequence[PlanParcel], departures: Sequence[PlanDeparture]
) -> PlanOutcome:
    outcome = PlanOutcome()
    rooms = [[d.room_g, d.room_mm3, d.room_pieces] for d in departures]
    ids = [d.id for d in departures]
    lightest = min((p.weight_g for p in parcels), default=0)
    smallest = min((p.volume_mm3 for p in parcels), default=0)
    start = 0
    ordered = sorted(parcels, key=lambda p: (p.promise_days, p.order_key, p.id))
    assigned = outcome.assigned
    for parcel in ordered:
        weight, volume = parcel.weight_g, parcel.volume_mm3
        # Skip departures that can take nothing more at all.
        while start < len(rooms) and (
            rooms[start][2] <= 0 or rooms[start][0] < lightest or rooms[start][1] < smallest
        ):
            start += 1
        for index in range(start, len(rooms)):
            room = rooms[index]
            if room[0] >= weight and room[1] >= volume and room[2] >= 1:
                room[0] -= weight
                room[1] -= volume
                room[2] -= 1
                assigned[parcel.id] = ids[index]
                break
        else:
            outcome.no_room.append(parcel.id)
    return outcome

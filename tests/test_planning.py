"""The pure planner: capacity in every dimension, priority, no room."""

from __future__ import annotations

import random
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from shipping.linehaul.planning import PlanDeparture, PlanParcel, plan_onto_departures


def departures(*rooms: tuple[int, int, int]) -> list[PlanDeparture]:
    return [PlanDeparture(i + 100, g, mm3, n) for i, (g, mm3, n) in enumerate(rooms)]


def test_urgent_parcels_take_the_earliest_departure() -> None:
    parcels = [
        PlanParcel(1, 1000, 10, promise_days=24, order_key=1),
        PlanParcel(2, 1000, 10, promise_days=4, order_key=2),
        PlanParcel(3, 1000, 10, promise_days=7, order_key=3),
    ]
    outcome = plan_onto_departures(parcels, departures((2000, 100, 10), (2000, 100, 10)))
    assert outcome.assigned == {2: 100, 3: 100, 1: 101}
    assert outcome.no_room == []


def test_a_parcel_too_big_for_every_departure_has_no_room() -> None:
    parcels = [PlanParcel(1, 5000, 10, 4), PlanParcel(2, 100, 10, 4)]
    outcome = plan_onto_departures(parcels, departures((1000, 100, 10)))
    assert outcome.assigned == {2: 100}
    assert outcome.no_room == [1]


def test_a_small_parcel_fills_the_gap_left_on_an_earlier_departure() -> None:
    parcels = [
        PlanParcel(1, 900, 1, 4, 1),
        PlanParcel(2, 900, 1, 4, 2),
        PlanParcel(3, 100, 1, 4, 3),
    ]
    outcome = plan_onto_departures(parcels, departures((1000, 100, 10), (1000, 100, 10)))
    assert outcome.assigned == {1: 100, 2: 101, 3: 100}


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    count=st.integers(0, 300),
    fleet=st.lists(
        st.tuples(st.integers(1, 50_000), st.integers(1, 10**7), st.integers(0, 40)),
        min_size=0,
        max_size=8,
    ),
)
def test_no_departure_is_ever_over_capacity(
    seed: int, count: int, fleet: list[tuple[int, int, int]]
) -> None:
    rng = random.Random(seed)
    parcels = [
        PlanParcel(i, rng.randint(50, 31_000), rng.randint(1, 3 * 10**6), rng.choice((4, 7, 24)), i)
        for i in range(count)
    ]
    plan = departures(*fleet)
    outcome = plan_onto_departures(parcels, plan)
    assert set(outcome.assigned) | set(outcome.no_room) == {p.id for p in parcels}
    assert not set(outcome.assigned) & set(outcome.no_room)
    load: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    by_id = {p.id: p for p in parcels}
    for parcel_id, departure_id in outcome.assigned.items():
        load[departure_id][0] += by_id[parcel_id].weight_g
        load[departure_id][1] += by_id[parcel_id].volume_mm3
        load[departure_id][2] += 1
    for departure in plan:
        used = load[departure.id]
        assert used[0] <= departure.room_g
        assert used[1] <= departure.room_mm3
        assert used[2] <= departure.room_pieces
    # A parcel left without room really fits on no departure's leftover space.
    for parcel_id in outcome.no_room:
        parcel = by_id[parcel_id]
        for departure in plan:
            used = load[departure.id]
            assert not (
                departure.room_g - used[0] >= parcel.weight_g
                and departure.room_mm3 - used[1] >= parcel.volume_mm3
                and departure.room_pieces - used[2] >= 1
            )

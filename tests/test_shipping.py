"""Departure planning and transitions, courier scans and public tracking."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from accounts.models import Courier
from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from core.errors import InvalidTransition
from orders.models import Order
from orders.services import Address
from shipping.fulfilment.models import Parcel
from shipping.fulfilment.numbers import s10_build
from shipping.linehaul.departures import PlanResult, departure_transition, departures_plan
from shipping.linehaul.models import Departure, DepartureEvent
from shipping.tracking.models import TrackingEvent
from tests.conftest import World, client_for, scans_post
from tests.factories import CourierFactory, DepartureFactory

NO_CAPACITY = "no_capacity"
NO_DEPARTURE = "no_open_departure"


def packed_parcels(world: World, sku: str = "TEA-0001", quantity: int = 1) -> list[Parcel]:
    """Place a card order, pay it and pack it: its parcels, status info_received."""
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku, quantity)],
        address=Address(**world.address()),
        payment_method="card",
    )
    payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    return order_pack(order_id=order.id)


def packed_parcel(world: World) -> Parcel:
    """One packed parcel whose label was created three hours ago, so courier
    scans of the last hours come after it in the timeline."""
    parcels = packed_parcels(world)
    assert len(parcels) == 1
    assert parcels[0].status == "info_received"
    TrackingEvent.objects.filter(parcel=parcels[0]).update(
        occurred_at=timezone.now() - timedelta(hours=3)
    )
    return parcels[0]


def plan(world: World) -> PlanResult:
    # The unassigned reason is stored in the active language; plan in English.
    with translation.override("en"):
        return departures_plan(lane_id=world.air.id)


def new_departure(**fields: Any) -> Departure:
    return DepartureFactory.create(**fields)


def new_courier(**fields: Any) -> Courier:
    return CourierFactory.create(**fields)


def cancel_world_flight(world: World) -> None:
    departure_transition(departure_id=world.flight.id, to="cancelled")


def scan(
    tracking_number: str, event: str, at: datetime, scan_id: str, location: str = "SVX"
) -> dict[str, Any]:
    return {
        "scan_id": scan_id,
        "tracking_number": tracking_number,
        "event": event,
        "occurred_at": at.isoformat(),
        "location": location,
    }


def timeline(tracking_number: str) -> list[str]:
    return list(
        TrackingEvent.objects.filter(parcel__tracking_number=tracking_number)
        .order_by("occurred_at", "id")
        .values_list("event", flat=True)
    )


# --- Planning ----------------------------------------------------------------


@pytest.mark.parametrize(
    "capacity",
    [
        {"capacity_pieces": 2},
        {"capacity_kg": Decimal("0.600")},  # two parcels of 300 g
        {"capacity_m3": Decimal("0.012")},  # two parcels of 300 x 200 x 100 mm
    ],
    ids=["pieces", "kg", "m3"],
)
def test_plan_never_exceeds_departure_capacity(world: World, capacity: dict[str, Any]) -> None:
    cancel_world_flight(world)
    small = new_departure(lane=world.air, **capacity)
    parcels = [packed_parcel(world) for _ in range(3)]
    assert {(p.weight_g, p.length_mm, p.width_mm, p.height_mm) for p in parcels} == {
        (300, 300, 200, 100)
    }

    result = plan(world)

    # Earliest promise first, then oldest: the first two packed fit.
    assert result.assigned == {parcels[0].id: small.id, parcels[1].id: small.id}
    assert result.unassigned == {parcels[2].id: NO_CAPACITY}
    stored = {p.id: (p.departure_id, p.unassigned_reason) for p in Parcel.objects.all()}
    assert stored == {
        parcels[0].id: (small.id, ""),
        parcels[1].id: (small.id, ""),
        parcels[2].id: (None, NO_CAPACITY),
    }

    # Planning again adds nothing to the full departure.
    again = plan(world)
    assert again.assigned == {}
    assert again.unassigned == {parcels[2].id: NO_CAPACITY}
    assert Parcel.objects.filter(departure=small).count() == 2


def test_plan_never_assigns_to_a_departure_past_its_cutoff(world: World) -> None:
    cancel_world_flight(world)
    now = timezone.now()
    late = new_departure(
        lane=world.air, scheduled_at=now + timedelta(hours=1), cutoff_at=now - timedelta(hours=1)
    )
    parcel = packed_parcel(world)

    result = plan(world)

    assert result.assigned == {}
    assert result.unassigned == {parcel.id: NO_DEPARTURE}
    parcel.refresh_from_db()
    assert parcel.departure_id is None
    assert parcel.unassigned_reason == NO_DEPARTURE
    assert not Parcel.objects.filter(departure=late).exists()


def test_plan_fills_the_next_departure_when_the_first_is_past_cutoff(world: World) -> None:
    now = timezone.now()
    late = new_departure(
        lane=world.air, scheduled_at=now + timedelta(minutes=30), cutoff_at=now - timedelta(1)
    )
    parcel = packed_parcel(world)

    result = plan(world)

    assert late.scheduled_at < world.flight.scheduled_at
    assert result.assigned == {parcel.id: world.flight.id}
    assert result.unassigned == {}


def test_replanning_does_not_move_a_parcel_on_a_closed_departure(world: World) -> None:
    parcel = packed_parcel(world)
    assert plan(world).assigned == {parcel.id: world.flight.id}
    departure_transition(departure_id=world.flight.id, to="closed")
    earlier = new_departure(
        lane=world.air, scheduled_at=world.flight.scheduled_at - timedelta(hours=6)
    )
    newcomer = packed_parcel(world)

    result = plan(world)

    assert result.assigned == {newcomer.id: earlier.id}
    assert result.unassigned == {}
    parcel.refresh_from_db()
    assert parcel.departure_id == world.flight.id
    assert timeline(parcel.tracking_number) == ["label_created", "loaded"]


def test_cancelled_departure_returns_its_parcels_and_replanning_assigns_them_elsewhere(
    world: World,
) -> None:
    later = new_departure(
        lane=world.air, scheduled_at=world.flight.scheduled_at + timedelta(days=1)
    )
    parcels = [packed_parcel(world) for _ in range(2)]
    assert plan(world).assigned == {p.id: world.flight.id for p in parcels}

    departure_transition(departure_id=world.flight.id, to="cancelled", reason="aircraft AOG")

    assert list(
        Parcel.objects.filter(id__in=[p.id for p in parcels]).values_list("departure_id", flat=True)
    ) == [None, None]
    for parcel in parcels:
        assert timeline(parcel.tracking_number) == ["label_created", "departure_cancelled"]
        parcel.refresh_from_db()
        assert parcel.status == "info_received"
    assert list(
        DepartureEvent.objects.filter(departure=world.flight).values_list(
            "from_status", "to_status", "reason"
        )
    ) == [("scheduled", "cancelled", "aircraft AOG")]

    result = plan(world)

    assert result.assigned == {p.id: later.id for p in parcels}
    assert result.unassigned == {}
    assert set(Parcel.objects.filter(departure=later).values_list("id", flat=True)) == {
        p.id for p in parcels
    }


# --- Departure transitions ---------------------------------------------------


def test_departed_adds_an_emc_event_to_every_parcel_and_moves_the_orders(world: World) -> None:
    parcels = packed_parcels(world, "TEA-0001", 1) + packed_parcels(world, "BOOT-0002", 1)
    plan(world)
    departure_transition(departure_id=world.flight.id, to="closed")

    departure = departure_transition(departure_id=world.flight.id, to="departed")

    assert departure.status == "departed"
    for parcel in parcels:
        parcel.refresh_from_db()
        assert parcel.status == "in_transit"
        assert parcel.order.status == "in_transit"
        departed = TrackingEvent.objects.get(parcel=parcel, event="departed")
        assert (departed.emsevt, departed.status, departed.source, departed.location) == (
            "EMC",
            "in_transit",
            "departure",
            "HRB",
        )
        assert departed.data == {"departure": world.flight.number}
        assert timeline(parcel.tracking_number) == ["label_created", "loaded", "departed"]
    assert set(Order.objects.values_list("status", flat=True)) == {"in_transit"}
    assert list(
        DepartureEvent.objects.filter(departure=world.flight).values_list(
            "from_status", "to_status"
        )
    ) == [("scheduled", "closed"), ("closed", "departed")]


def test_illegal_departure_move_is_a_409_invalid_transition(world: World) -> None:
    with pytest.raises(InvalidTransition) as caught:
        departure_transition(departure_id=world.flight.id, to="arrived")

    assert caught.value.status_code == 409
    assert caught.value.code == "invalid_transition"
    assert caught.value.extra == {"current_status": "scheduled", "requested_status": "arrived"}
    assert Departure.objects.get(id=world.flight.id).status == "scheduled"
    assert not DepartureEvent.objects.filter(departure=world.flight).exists()


# --- Courier scans over HTTP -------------------------------------------------


def test_duplicate_scans_count_once_within_and_across_batches(world: World, courier: Any) -> None:
    tn = packed_parcel(world).tracking_number
    client = client_for(courier.user)
    at = timezone.now() - timedelta(minutes=5)
    batch = {
        "scans": [
            scan(tn, "accepted", at, "s-1"),
            scan(tn, "accepted", at, "s-1"),
            scan(tn, "departed", at + timedelta(minutes=1), "s-2"),
        ]
    }

    first = scans_post(client, batch)

    assert first.status_code == 200, first.json()
    assert first.json() == {"accepted": 2, "duplicates": 1, "rejected": []}

    second = scans_post(client, batch)

    assert second.status_code == 200, second.json()
    assert second.json() == {"accepted": 0, "duplicates": 3, "rejected": []}
    assert TrackingEvent.objects.filter(scan_id="s-1").count() == 1
    assert TrackingEvent.objects.filter(scan_id="s-2").count() == 1
    assert timeline(tn) == ["label_created", "accepted", "departed"]


def test_late_scan_is_placed_in_time_order_on_the_tracking_page(
    world: World, courier: Any, api: Any
) -> None:
    parcel = packed_parcel(world)
    tn = parcel.tracking_number
    now = timezone.now()
    client = client_for(courier.user)

    response = scans_post(
        client,
        {"scans": [scan(tn, "arrived", now - timedelta(hours=1), "late-2")]},
    )
    assert response.status_code == 200, response.json()
    response = scans_post(
        client,
        {"scans": [scan(tn, "departed", now - timedelta(hours=2), "late-1", location="HRB")]},
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}

    track = api.get(f"/api/v1/tracking/{tn}/")

    assert track.status_code == 200
    body = track.json()
    assert [(e["event"], e["status"], e["emsevt"], e["location"]) for e in body["events"]] == [
        ("label_created", "info_received", "", ""),
        ("departed", "in_transit", "EMC", "HRB"),
        ("arrived", "in_transit", "EMD", "SVX"),
    ]
    times = [datetime.fromisoformat(e["occurred_at"]) for e in body["events"]]
    assert times == sorted(times)
    assert body["status"] == "in_transit"
    assert body["tracking_number"] == tn


def test_bad_check_digit_is_rejected_while_a_good_scan_is_accepted(
    world: World, courier: Any
) -> None:
    tn = packed_parcel(world).tracking_number
    wrong_digit = (int(tn[10]) + 1) % 10
    bad = f"{tn[:10]}{wrong_digit}{tn[11:]}"
    at = timezone.now() - timedelta(minutes=5)

    response = scans_post(
        client_for(courier.user),
        {"scans": [scan(tn, "accepted", at, "good-1"), scan(bad, "accepted", at, "bad-1")]},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [
            {
                "index": 1,
                "scan_id": "bad-1",
                "code": "invalid_tracking_number",
                "message": "Not a valid S10 tracking number.",
            }
        ],
    }
    assert list(
        TrackingEvent.objects.filter(source="courier").values_list("scan_id", flat=True)
    ) == ["good-1"]


def test_batch_of_only_bad_scans_is_a_400_and_writes_nothing(world: World, courier: Any) -> None:
    tn = packed_parcel(world).tracking_number
    bad = f"{tn[:10]}{(int(tn[10]) + 1) % 10}{tn[11:]}"
    at = timezone.now() - timedelta(minutes=5)
    before = TrackingEvent.objects.count()

    response = scans_post(
        client_for(courier.user),
        {
            "scans": [
                scan(bad, "accepted", at, "bad-1"),
                scan(tn, "label_created", at, "bad-2"),  # not a courier event
                scan(tn, "delivered", at + timedelta(days=1), "bad-3"),  # in the future
            ]
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "invalid"
    assert body["message"] == "No scan was accepted."
    assert body["fields"] == {
        "scans[0]": ["Not a valid S10 tracking number."],
        "scans[1]": [body["fields"]["scans[1]"][0]],
        "scans[2]": ["The scan time is in the future."],
    }
    assert body["fields"]["scans[1]"][0].startswith("event: ")
    assert TrackingEvent.objects.count() == before


def test_courier_not_on_the_parcels_lane_or_region_gets_404_and_nothing_is_written(
    world: World, courier: Any
) -> None:
    tn = packed_parcel(world).tracking_number
    stranger = new_courier(regions=["RU-PRI"])
    stranger.lanes.add(world.road)
    before = TrackingEvent.objects.count()

    response = scans_post(
        client_for(stranger.user),
        {"scans": [scan(tn, "delivered", timezone.now() - timedelta(minutes=1), "x-1")]},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 404
    assert response.json() == {
        "code": "parcel_not_found",
        "message": "No scan was accepted.",
        "fields": {"scans[0]": ["No such parcel for this courier."]},
    }
    assert TrackingEvent.objects.count() == before
    assert Parcel.objects.get(tracking_number=tn).status == "info_received"


def test_courier_of_the_region_without_the_lane_may_scan(world: World) -> None:
    tn = packed_parcel(world).tracking_number
    regional = new_courier(regions=["RU-SVE"])  # no lanes

    response = scans_post(
        client_for(regional.user),
        {"scans": [scan(tn, "out_for_delivery", timezone.now(), "r-1")]},
    )

    assert response.status_code == 200, response.json()
    assert response.json()["accepted"] == 1


def test_non_courier_user_gets_403(world: World) -> None:
    tn = packed_parcel(world).tracking_number
    before = TrackingEvent.objects.count()

    response = scans_post(
        client_for(world.buyer.user),
        {"scans": [scan(tn, "delivered", timezone.now(), "n-1")]},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 403
    assert response.json() == {
        "code": "forbidden",
        "message": "Only couriers may report scans.",
        "fields": {},
    }
    assert TrackingEvent.objects.count() == before


def test_anonymous_scan_is_a_401(world: World, api: Any) -> None:
    response = scans_post(api, {"scans": []})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_more_than_1000_scans_is_a_400(world: World, courier: Any) -> None:
    tn = packed_parcel(world).tracking_number
    at = timezone.now() - timedelta(minutes=5)
    before = TrackingEvent.objects.count()

    response = scans_post(
        client_for(courier.user),
        {"scans": [scan(tn, "accepted", at, f"bulk-{i}") for i in range(1001)]},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == "invalid"
    assert body["message"] == "The request is not valid."
    assert list(body["fields"]) == ["scans"]
    assert TrackingEvent.objects.count() == before


def test_exactly_1000_scans_are_accepted(world: World, courier: Any) -> None:
    tn = packed_parcel(world).tracking_number
    at = timezone.now() - timedelta(hours=1)

    response = scans_post(
        client_for(courier.user),
        {
            "scans": [
                scan(tn, "accepted", at + timedelta(seconds=i), f"bulk-{i}") for i in range(1000)
            ]
        },
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {"accepted": 1000, "duplicates": 0, "rejected": []}
    assert TrackingEvent.objects.filter(source="courier").count() == 1000


# --- Public tracking ---------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        s10_build("RR", 99_999_999, "CN"),  # well-formed, no such parcel
        "RR123456784CN",  # bad check digit
        "NOT-A-NUMBER",
    ],
    ids=["unknown", "bad-check-digit", "malformed"],
)
def test_tracking_unknown_or_malformed_number_is_a_json_404(
    world: World, api: Any, number: str
) -> None:
    packed_parcel(world)

    response = api.get(f"/api/v1/tracking/{number}/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}


def test_tracking_accepts_a_lowercase_number(world: World, api: Any) -> None:
    tn = packed_parcel(world).tracking_number

    response = api.get(f"/api/v1/tracking/{tn.lower()}/")

    assert response.status_code == 200
    assert response.json()["tracking_number"] == tn

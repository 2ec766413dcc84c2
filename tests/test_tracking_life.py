"""Scheduled planning and expiry of trackers."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from orders.services import Address
from shipping.fulfilment.models import Parcel
from shipping.linehaul.departures import lanes_plan
from shipping.tracking.expiry import parcels_expire
from shipping.tracking.models import TrackingEvent
from tests.conftest import World


def packed_parcel(world: World) -> Parcel:
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 1)],
        address=Address(**world.address()),
        payment_method="card",
    )
    payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    return order_pack(order_id=order.id)[0]


def test_scheduled_planning_assigns_every_lanes_parcels(world: World) -> None:
    parcel = packed_parcel(world)
    assert lanes_plan() == {"HRB-SVX-AIR": 1, "SFH-VVO-ROAD": 0, "SVX-LOCAL-ROAD": 0}
    parcel.refresh_from_db()
    assert parcel.departure_id == world.flight.id


def test_a_tracker_silent_for_30_days_after_its_promise_expires(world: World) -> None:
    quiet = packed_parcel(world)
    recent = packed_parcel(world)
    long_ago = timezone.now() - timedelta(days=60)
    # Both were created 60 days ago, promised within 7 days; one had news lately.
    Parcel.objects.filter(id__in=[quiet.id, recent.id]).update(created_at=long_ago)
    TrackingEvent.objects.filter(parcel__in=[quiet, recent]).update(occurred_at=long_ago)
    TrackingEvent.objects.create(
        parcel=recent,
        event="arrived",
        status="in_transit",
        emsevt="EMD",
        occurred_at=timezone.now() - timedelta(days=3),
        source="departure",
    )
    assert parcels_expire() == 1
    statuses = dict(Parcel.objects.values_list("id", "status"))
    assert statuses == {quiet.id: "expired", recent.id: "info_received"}
    assert parcels_expire() == 0  # already expired: nothing more


def test_a_tracker_within_its_promise_does_not_expire(world: World) -> None:
    parcel = packed_parcel(world)
    Parcel.objects.filter(id=parcel.id).update(created_at=timezone.now() - timedelta(days=20))
    TrackingEvent.objects.filter(parcel=parcel).update(
        occurred_at=timezone.now() - timedelta(days=20)
    )
    assert parcels_expire() == 0

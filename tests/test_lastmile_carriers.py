"""The carrier adapters against local fakes of CDEK's API v2 and Russian
Post's tracking services: a point order registered after commit, driven to
delivered and, not collected, back to the sender; webhooks read back, the
batch ticket, retries, idempotence and the directory sync."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from commands.pack import order_pack
from commands.pay import payment_card_charge
from notifications.models import OutboxEvent
from orders.models import Order
from shipping.fulfilment.models import Parcel
from shipping.lastmile.carriers.cdek import CdekAdapter
from shipping.lastmile.models import CarrierShipment, CarrierTicket, PickupPoint
from shipping.lastmile.shipments import (
    carrier_shipment_perform,
    carrier_shipments_run,
    carrier_tracking_poll,
)
from shipping.lastmile.sync import pickup_points_sync
from shipping.tracking.models import TrackingEvent
from tests.cdek_server import CLIENT_ID, CLIENT_SECRET, FakeCdek, cdek_server
from tests.conftest import World, client_for
from tests.russian_post_server import LOGIN, PASSWORD, FakeRussianPost, russian_post_server

WEBHOOK = "/api/v1/carriers/webhooks/cdek/"


@pytest.fixture
def cdek(settings: Any) -> Iterator[FakeCdek]:
    with cdek_server() as fake:
        settings.AMUR = {
            **settings.AMUR,
            "CDEK_API_URL": f"{fake.url}/v2",
            "CDEK_CLIENT_ID": CLIENT_ID,
            "CDEK_CLIENT_SECRET": CLIENT_SECRET,
        }
        yield fake


@pytest.fixture
def post(settings: Any) -> Iterator[FakeRussianPost]:
    with russian_post_server() as fake:
        settings.AMUR = {
            **settings.AMUR,
            "RUSSIAN_POST_TRACKING_URL": f"{fake.url}/rtm34",
            "RUSSIAN_POST_BATCH_URL": f"{fake.url}/fc",
            "RUSSIAN_POST_LOGIN": LOGIN,
            "RUSSIAN_POST_PASSWORD": PASSWORD,
        }
        yield fake


@pytest.fixture
def points(db: Any) -> dict[str, PickupPoint]:
    call_command("pickup_points_load", stdout=io.StringIO())
    return {p.code: p for p in PickupPoint.objects.all()}


def packed_to(world: World, code: str, key: str, method: str = "card") -> Parcel:
    """A buyer's order to the point over the API, paid and packed, with what
    the commits set off (the carrier registration) run."""
    body = world.order_body(("TEA-0001", 1), method=method)
    body["delivery"] = {"kind": "pickup_point", "code": code}
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client_for(world.buyer.user).post(
            "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
    assert response.status_code == 201, response.json()
    order = Order.objects.get(number=response.json()["number"])
    if method == "card":
        payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    with TestCase.captureOnCommitCallbacks(execute=True):
        (parcel,) = order_pack(order_id=order.id)
    # Labelled four hours ago, so the carrier's statuses of the last hours
    # come after it in the timeline.
    TrackingEvent.objects.filter(parcel=parcel).update(
        occurred_at=timezone.now() - timedelta(hours=4)
    )
    parcel.refresh_from_db()
    return parcel


def notify(body: dict[str, Any]) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return APIClient().post(WEBHOOK, body, format="json")


def carrier_events(parcel: Parcel) -> list[tuple[str, str, str]]:
    return list(
        TrackingEvent.objects.filter(parcel=parcel, source="carrier")
        .order_by("occurred_at", "id")
        .values_list("event", "status", "emsevt")
    )


def last_webhook_payload(parcel: Parcel) -> dict[str, Any]:
    event = (
        OutboxEvent.objects.filter(subject=f"parcel:{parcel.tracking_number}")
        .order_by("-sequence")
        .first()
    )
    assert event is not None
    payload: dict[str, Any] = event.payload
    return payload


# --- CDEK ---------------------------------------------------------------------


def test_cdek_registers_the_parcel_after_commit_and_drives_it_to_delivered(
    world: World, points: dict[str, PickupPoint], cdek: FakeCdek
) -> None:
    parcel = packed_to(world, "EKB12", "cdek-1")
    shipment = CarrierShipment.objects.get(parcel=parcel)
    assert (shipment.status, shipment.attempts, shipment.last_error) == ("registered", 1, "")
    (created,) = cdek.orders.values()
    assert shipment.reference == created["uuid"]
    assert (created["number"], created["delivery_point"], created["tariff_code"]) == (
        parcel.tracking_number,
        "EKB12",
        136,
    )
    assert created["packages"][0]["weight"] == parcel.weight_g
    assert created["packages"][0]["items"][0]["payment"] == {"value": 0}
    assert shipment.label_pdf is not None
    assert bytes(shipment.label_pdf) == b"%PDF-1.4\n% CDEK barcode A6\n%%EOF\n"
    assert cdek.count("POST", "/v2/oauth/token") == 1  # one token for every call

    start = timezone.now() - timedelta(hours=3)
    for minutes, code in enumerate(
        ["RECEIVED_AT_SHIPMENT_WAREHOUSE", "ACCEPTED_AT_PICK_UP_POINT", "DELIVERED"]
    ):
        cdek.advance(shipment.reference, code, at=start + timedelta(minutes=minutes))
        response = notify(cdek.webhook(shipment.reference))
        assert (response.status_code, response.json()) == (200, {"recorded": 1})
    parcel.refresh_from_db()
    number = cdek.orders[shipment.reference]["cdek_number"]
    assert (parcel.status, parcel.carrier_number) == ("delivered", number)
    assert Order.objects.get(id=parcel.order_id).status == "delivered"
    assert carrier_events(parcel) == [
        ("accepted", "info_received", "EMA"),
        ("available_for_pickup", "available_for_pickup", ""),
        ("delivered", "delivered", "EMI"),
    ]
    payload = last_webhook_payload(parcel)
    assert (payload["status"], payload["carrier"], payload["carrier_number"]) == (
        "delivered",
        "cdek",
        number,
    )
    assert payload["pickup_point"]["code"] == "EKB12"
    # A repeat records nothing.
    again = notify(cdek.webhook(shipment.reference))
    assert again.json() == {"recorded": 0}
    assert TrackingEvent.objects.filter(parcel=parcel, source="carrier").count() == 3
    track = APIClient().get(f"/api/v1/tracking/{parcel.tracking_number}/").json()
    assert (track["carrier_number"], track["pickup_point"]["code"]) == (number, "EKB12")


def test_cdek_storage_expiry_sends_the_parcel_back_to_the_sender(
    world: World, points: dict[str, PickupPoint], cdek: FakeCdek
) -> None:
    parcel = packed_to(world, "EKB12", "cdek-2")
    reference = CarrierShipment.objects.get(parcel=parcel).reference
    start = timezone.now() - timedelta(hours=3)
    cdek.advance(reference, "ACCEPTED_AT_PICK_UP_POINT", at=start)
    cdek.advance(reference, "NOT_DELIVERED", at=start + timedelta(minutes=1))
    assert notify(cdek.webhook(reference)).json() == {"recorded": 2}
    parcel.refresh_from_db()
    assert parcel.status == "delivery_failed"
    failed = TrackingEvent.objects.get(parcel=parcel, event="delivery_failed")
    assert failed.data == {
        "carrier": "cdek",
        "carrier_status": "NOT_DELIVERED",
        "reason": "storage_expired",
    }
    back = cdek.send_back(reference)
    cdek.advance(back, "DELIVERED", city="Москва", at=start + timedelta(minutes=2))
    assert notify(cdek.webhook(back)).json() == {"recorded": 1}
    parcel.refresh_from_db()
    assert parcel.status == "returned"
    assert last_webhook_payload(parcel)["status"] == "returned"
    # The return order's own number does not replace the parcel's.
    assert parcel.carrier_number == cdek.orders[reference]["cdek_number"]


def test_a_cdek_outage_is_retried_by_the_sweep_and_makes_one_order(
    world: World, points: dict[str, PickupPoint], cdek: FakeCdek
) -> None:
    cdek.fail_next["POST /v2/orders"] = 1
    parcel = packed_to(world, "EKB12", "cdek-3")
    shipment = CarrierShipment.objects.get(parcel=parcel)
    assert (shipment.status, shipment.attempts) == ("pending", 1)
    assert shipment.last_error.startswith("CDEK POST /orders: HTTP 500")
    assert shipment.next_attempt_at is not None and shipment.next_attempt_at > timezone.now()
    assert carrier_shipments_run() == 0  # not due yet
    CarrierShipment.objects.filter(id=shipment.id).update(next_attempt_at=timezone.now())
    assert carrier_shipments_run() == 1
    shipment.refresh_from_db()
    assert (shipment.status, shipment.attempts) == ("registered", 2)
    assert len(cdek.orders) == 1
    assert carrier_shipments_run() == 0
    # The task run twice (a redelivered message) calls nobody.
    assert carrier_shipment_perform(shipment_id=shipment.id) == "skipped"
    assert (len(cdek.orders), cdek.count("POST", "/v2/orders")) == (1, 2)


def test_a_refused_cdek_order_fails_for_good(
    world: World, points: dict[str, PickupPoint], cdek: FakeCdek
) -> None:
    # A point Amur lists but CDEK has closed: its 400 is final, not retried.
    gone = points["EKB12"]
    gone.pk = None
    gone.code = "XEKB1"
    gone.save()
    parcel = packed_to(world, "XEKB1", "cdek-4")
    shipment = CarrierShipment.objects.get(parcel=parcel)
    assert (shipment.status, shipment.attempts, cdek.orders) == ("failed", 1, {})
    assert "v2_delivery_point_not_found" in shipment.last_error
    assert carrier_shipments_run() == 0


def test_the_cdek_webhook_is_404_for_an_unknown_order_and_when_not_configured(
    world: World, points: dict[str, PickupPoint], cdek: FakeCdek, settings: Any
) -> None:
    body = {"type": "ORDER_STATUS", "uuid": "72753031-0000-4000-8000-000000000000"}
    response = notify(body)
    assert (response.status_code, response.json()["code"]) == (404, "unknown_shipment")
    bad = notify({"type": "ORDER_STATUS", "uuid": "not-a-uuid"})
    assert (bad.status_code, list(bad.json()["fields"])) == (400, ["uuid"])
    settings.AMUR = {**settings.AMUR, "CDEK_CLIENT_ID": ""}
    response = notify(body)
    assert (response.status_code, response.json()["code"]) == (404, "carrier_not_configured")


def test_cdek_cancel_removes_an_order_not_yet_moving(
    world: World, points: dict[str, PickupPoint], cdek: FakeCdek
) -> None:
    parcel = packed_to(world, "EKB12", "cdek-5")
    reference = CarrierShipment.objects.get(parcel=parcel).reference
    CdekAdapter().shipment_cancel(reference)
    assert cdek.orders[reference]["statuses"][0]["code"] == "REMOVED"


def test_the_poll_reads_cdek_statuses_a_webhook_missed(
    world: World, points: dict[str, PickupPoint], cdek: FakeCdek
) -> None:
    parcel = packed_to(world, "EKB77", "cdek-6")
    reference = CarrierShipment.objects.get(parcel=parcel).reference
    cdek.advance(reference, "POSTOMAT_POSTED", at=timezone.now() - timedelta(hours=1))
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert carrier_tracking_poll() == {"cdek": 1, "russian_post": 0}
    parcel.refresh_from_db()
    assert parcel.status == "available_for_pickup"
    assert carrier_tracking_poll() == {"cdek": 0, "russian_post": 0}


def test_the_sync_loads_cdek_points_and_deactivates_those_it_no_longer_lists(
    db: Any, cdek: FakeCdek
) -> None:
    cdek.delivery_points = [
        {
            "code": "EKB105",
            "name": "СДЭК, ул. Вайнера",
            "type": "POSTAMAT",
            "work_time": "Пн-Вс 09:00-21:00",
            "weight_max": 20,
            "allowed_cod": False,
            "dimensions": [
                {"width": 40, "height": 30, "depth": 60},
                {"width": 20, "height": 10, "depth": 60},
            ],
            "location": {
                "region": "Свердловская область",
                "city": "Екатеринбург",
                "postal_code": "620014",
                "address": "ул. Вайнера, 9",
                "latitude": 56.8352,
                "longitude": 60.5987,
                "fias_guid": "2763c110-cb8b-416a-9dac-ad28a55b4402",
            },
        },
        {
            "code": "KZN1",
            "name": "СДЭК, Казань",
            "type": "PVZ",
            "location": {"region": "Нет такого", "latitude": 55.79, "longitude": 49.12},
        },
    ]
    assert pickup_points_sync() == {
        "cdek": "1 created, 0 updated, 0 deactivated",
        "russian_post": "not configured",
    }
    point = PickupPoint.objects.get(code="EKB105")
    assert (point.kind, point.region, point.max_weight_g, point.cell_mm, point.cash_allowed) == (
        "locker",
        "RU-SVE",
        20000,
        (600, 400, 300),
        False,
    )
    cdek.delivery_points = []
    assert pickup_points_sync()["cdek"] == "0 created, 0 updated, 1 deactivated"
    assert PickupPoint.objects.get(code="EKB105").is_active is False


# --- Russian Post -------------------------------------------------------------


def test_russian_post_tracks_a_single_parcel_to_delivered(
    world: World, points: dict[str, PickupPoint], post: FakeRussianPost
) -> None:
    parcel = packed_to(world, "RP-620075", "rp-1", method="cod")
    shipment = CarrierShipment.objects.get(parcel=parcel)
    # Mail from abroad keeps its S10 inside Russia: nothing to register.
    assert (shipment.status, shipment.reference, parcel.carrier_number) == (
        "registered",
        parcel.tracking_number,
        parcel.tracking_number,
    )
    assert shipment.label_pdf is None and post.calls == []
    start = timezone.now() - timedelta(hours=5)
    post.operate(parcel.tracking_number, 9, 1, start, "102976", "Москва ММПО")
    post.operate(parcel.tracking_number, 8, 2, start + timedelta(hours=1))
    post.operate(parcel.tracking_number, 2, 1, start + timedelta(hours=2))
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert carrier_tracking_poll() == {"cdek": 0, "russian_post": 3}
    assert post.calls == ["getOperationHistory"]
    parcel.refresh_from_db()
    assert parcel.status == "delivered"
    assert carrier_events(parcel) == [
        ("arrived", "in_transit", "EMD"),
        ("available_for_pickup", "available_for_pickup", ""),
        ("delivered", "delivered", "EMI"),
    ]
    arrived = TrackingEvent.objects.get(parcel=parcel, event="arrived", source="carrier")
    assert arrived.location == "Москва ММПО"
    payload = last_webhook_payload(parcel)
    assert (payload["carrier"], payload["carrier_number"]) == (
        "russian_post",
        parcel.tracking_number,
    )
    assert payload["pickup_point"]["code"] == "RP-620075"


def test_russian_post_batch_ticket_brings_one_home_and_delivers_the_other(
    world: World, points: dict[str, PickupPoint], post: FakeRussianPost
) -> None:
    kept = packed_to(world, "RP-620075", "rp-2")
    refused = packed_to(world, "RP-L-620026", "rp-3")
    start = timezone.now() - timedelta(hours=5)
    post.operate(kept.tracking_number, 8, 2, start)
    post.operate(kept.tracking_number, 2, 1, start + timedelta(hours=1))
    post.operate(refused.tracking_number, 8, 2, start)
    post.operate(refused.tracking_number, 3, 1, start + timedelta(hours=1))  # storage expired
    post.operate(refused.tracking_number, 2, 2, start + timedelta(hours=2))  # to the sender

    assert carrier_tracking_poll() == {"cdek": 0, "russian_post": 0}
    (ticket,) = CarrierTicket.objects.all()
    assert sorted(ticket.numbers) == sorted([kept.tracking_number, refused.tracking_number])
    # Not ready yet: asked again next time, no second ticket.
    assert carrier_tracking_poll() == {"cdek": 0, "russian_post": 0}
    assert post.calls == ["getTicket", "getResponseByTicket"]
    post.ready.add(ticket.ticket)
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert carrier_tracking_poll() == {"cdek": 0, "russian_post": 5}
    kept.refresh_from_db()
    refused.refresh_from_db()
    assert (kept.status, refused.status) == ("delivered", "returned")
    expired = TrackingEvent.objects.get(parcel=refused, event="delivery_failed")
    assert expired.data["reason"] == "storage_expired"
    assert CarrierTicket.objects.get().answered_at is not None
    # Both closed: nothing left to ask.
    assert carrier_tracking_poll() == {"cdek": 0, "russian_post": 0}
    assert post.calls == ["getTicket", "getResponseByTicket", "getResponseByTicket"]


def test_russian_post_refuses_bad_credentials(
    world: World, points: dict[str, PickupPoint], post: FakeRussianPost, settings: Any
) -> None:
    parcel = packed_to(world, "RP-620075", "rp-4")
    settings.AMUR = {**settings.AMUR, "RUSSIAN_POST_PASSWORD": "wrong"}
    post.operate(parcel.tracking_number, 2, 1, timezone.now())
    assert carrier_tracking_poll() == {"cdek": 0, "russian_post": 0}
    parcel.refresh_from_db()
    assert parcel.status == "info_received"

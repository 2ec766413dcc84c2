"""Pickup points and lockers: the directory, its search, checkout to a door
or a point, the refusals, and the point on labels, manifests, tracking and
webhooks."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import TestCase
from pypdf import PdfReader
from rest_framework.test import APIClient

from commands.pack import order_pack
from commands.pay import payment_card_charge
from notifications.models import OutboxEvent
from orders.models import Order
from shipping.fulfilment.documents import parcel_label_pdf
from shipping.lastmile.models import OrderDelivery, PickupPoint
from shipping.lastmile.selectors import PlannedBox, box_fits, distance_km
from shipping.lastmile.services import pickup_point_save
from tests.conftest import World, client_for

POINTS = "/api/v1/pickup-points/"
QUOTE = "/api/v1/checkout/quote/"
ORDERS = "/api/v1/orders/"


@pytest.fixture
def points(db: Any) -> dict[str, PickupPoint]:
    call_command("pickup_points_load", stdout=io.StringIO())
    return {p.code: p for p in PickupPoint.objects.all()}


def as_quote(body: dict[str, Any]) -> dict[str, Any]:
    """The cart part of an order's body, as a cart page quotes it: lines, the
    region and city of the address, the payment method and the delivery."""
    address = body["shipping_address"]
    cart = {
        "lines": body["lines"],
        "region": address["region"],
        "city": address["city"],
        "payment_method": body["payment_method"],
    }
    if "delivery" in body:
        cart["delivery"] = body["delivery"]
    return cart


def point_body(world: World, code: str, *lines: tuple[str, int], method: str = "card") -> Any:
    body = world.order_body(*(lines or (("TEA-0001", 1),)), method=method)
    body["delivery"] = {"kind": "pickup_point", "code": code}
    return body


def place(client: APIClient, body: dict[str, Any], key: str) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


# --- The directory -------------------------------------------------------------


def test_the_demo_file_loads_every_point_once_and_a_second_load_updates(db: Any) -> None:
    out = io.StringIO()
    call_command("pickup_points_load", stdout=out)
    assert out.getvalue().strip() == "10 created, 0 updated"
    locker = PickupPoint.objects.get(code="EKB77")
    assert (locker.carrier, locker.kind, locker.city, locker.postcode) == (
        "cdek",
        "locker",
        "Екатеринбург",
        "620014",
    )
    assert (locker.max_weight_g, locker.cell_mm, locker.cash_allowed) == (
        15000,
        (600, 400, 380),
        False,
    )
    assert locker.fias_id is not None and locker.opening_hours == "Ежедневно 10:00-22:00"
    again = io.StringIO()
    call_command("pickup_points_load", stdout=again)
    assert again.getvalue().strip() == "0 created, 10 updated"
    assert PickupPoint.objects.count() == 10


def test_search_by_city_and_postcode(
    points: dict[str, PickupPoint], api: APIClient, django_assert_num_queries: Any
) -> None:
    # The count and the page: a city is read a page at a time.
    with django_assert_num_queries(2):
        response = api.get(POINTS, {"city": "ЕКАТЕРИНБУРГ"})
    assert response.status_code == 200
    assert [p["code"] for p in response.json()["results"]] == [
        "EKB12",
        "EKB77",
        "RP-620075",
        "RP-L-620026",
    ]
    by_postcode = api.get(POINTS, {"postcode": "690091", "kind": "locker"}).json()
    assert [p["code"] for p in by_postcode["results"]] == ["VVO21"]
    first = by_postcode["results"][0]
    assert first["limits"] == {"max_weight_g": 15000, "cell_mm": [600, 400, 380]}
    assert first["cash_allowed"] is False and first["carrier"] == "cdek"


def test_search_by_distance_is_nearest_first_within_the_radius(
    points: dict[str, PickupPoint], api: APIClient, django_assert_num_queries: Any
) -> None:
    here = (56.8380, 60.6050)  # central Yekaterinburg
    expected = sorted(
        (
            (round(distance_km(*here, float(p.latitude), float(p.longitude)), 3), code)
            for code, p in points.items()
            if distance_km(*here, float(p.latitude), float(p.longitude)) <= 1.5
        ),
    )
    assert [code for _km, code in expected] == ["EKB12", "RP-620075", "EKB77"]
    with django_assert_num_queries(1):
        response = api.get(POINTS, {"near": f"{here[0]},{here[1]}", "radius_km": "1.5"})
    body = response.json()
    assert [(p["distance_km"], p["code"]) for p in body["results"]] == expected
    assert body["count"] == 3


def test_no_filter_pages_through_the_whole_directory_by_code(
    points: dict[str, PickupPoint], api: APIClient, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(2):
        first = api.get(POINTS, {"page_size": "4"}).json()
    assert first["count"] == len(points) == 10
    second = api.get(POINTS, {"page_size": "4", "page": "2"}).json()
    codes = [p["code"] for p in first["results"] + second["results"]]
    assert codes == sorted(points)[:8]
    assert all("distance_km" not in p for p in first["results"])


@pytest.mark.parametrize(
    "query",
    [{"near": "56.8"}, {"near": "91,60"}, {"city": "Москва", "radius_km": "500"}, {"x": "1"}],
    ids=["one number", "off the globe", "radius too big", "unknown parameter"],
)
def test_bad_searches_are_400_in_the_error_shape(
    points: dict[str, PickupPoint], api: APIClient, query: dict[str, str]
) -> None:
    response = api.get(POINTS, query)
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "fields"}


def test_a_box_fits_turned_any_way_but_not_over_the_weight(
    points: dict[str, PickupPoint],
) -> None:
    locker = points["EKB77"]  # 600 x 400 x 380 mm, 15 kg
    assert box_fits(locker, PlannedBox(15000, 380, 600, 400)) is True
    assert box_fits(locker, PlannedBox(15001, 100, 100, 100)) is False
    assert box_fits(locker, PlannedBox(1000, 610, 100, 100)) is False
    assert box_fits(locker, PlannedBox(1000, 390, 390, 390)) is False
    assert box_fits(points["RP-620075"], PlannedBox(20000, 2000, 1500, 1500)) is True


# --- Checkout -----------------------------------------------------------------


def test_the_quote_lists_the_door_and_the_points_in_the_city(
    world: World, points: dict[str, PickupPoint]
) -> None:
    client = client_for(world.buyer.user)
    door = client.post(QUOTE, as_quote(world.order_body(("TEA-0001", 1))), format="json").json()
    shipping = door["totals"]["shipping"]
    window = door["parcels"][0]["delivery_window"]
    options = door["delivery_options"]
    assert [(o["kind"], (o["pickup_point"] or {}).get("code")) for o in options] == [
        ("door", None),
        ("pickup_point", "EKB12"),
        ("pickup_point", "EKB77"),
        ("pickup_point", "RP-620075"),
        ("pickup_point", "RP-L-620026"),
    ]
    assert {(o["price"]["amount"], o["price"]["currency"]) for o in options} == {(shipping, "RUB")}
    assert all(
        {"min_days": o["window"]["min_days"], "max_days": o["window"]["max_days"]} == window
        for o in options
    )
    # Cash on delivery: lockers that take no cash are left out.
    cod = client.post(
        QUOTE, as_quote(world.order_body(("TEA-0001", 1), method="cod")), format="json"
    )
    assert [(o["pickup_point"] or {}).get("code") for o in cod.json()["delivery_options"]] == [
        None,
        "EKB12",
        "RP-620075",
    ]


def test_a_point_fee_is_added_per_parcel_to_the_point_option_and_the_order(
    world: World, points: dict[str, PickupPoint], settings: Any
) -> None:
    settings.AMUR = {**settings.AMUR, "PICKUP_POINT_FEE_RUB": Decimal("49.00")}
    client = client_for(world.buyer.user)
    door = client.post(QUOTE, as_quote(world.order_body(("TEA-0001", 1))), format="json").json()
    to_point = client.post(QUOTE, as_quote(point_body(world, "EKB12")), format="json").json()
    door_rub = Decimal(door["totals"]["shipping"])
    assert Decimal(to_point["totals"]["shipping"]) == door_rub + Decimal("49.00")
    assert Decimal(to_point["totals"]["total"]) == Decimal(door["totals"]["total"]) + 49
    prices = {
        (o["pickup_point"] or {}).get("code"): Decimal(o["price"]["amount"])
        for o in to_point["delivery_options"]
    }
    assert prices[None] == door_rub and prices["EKB12"] == door_rub + 49


def test_a_parcel_too_big_for_the_locker_is_refused(
    world: World, points: dict[str, PickupPoint]
) -> None:
    # Seven boxes of 300 x 200 x 100 mm stack to 700 mm: however turned,
    # over the 600 x 400 x 380 mm cell.
    body = point_body(world, "EKB77", ("TEA-0001", 7))
    client = client_for(world.buyer.user)
    quote = client.post(QUOTE, as_quote(body), format="json")
    assert quote.status_code == 422
    assert quote.json()["code"] == "parcel_too_big_for_point"
    assert list(quote.json()["fields"]) == ["delivery.code"]
    assert quote.json()["parcels"] == [{"weight_g": 2100, "size_mm": [300, 200, 700]}]
    response = place(client, body, "too-big")
    assert response.status_code == 422
    assert response.json()["code"] == "parcel_too_big_for_point"
    assert Order.objects.count() == 0
    # Six stack to 600 mm and fit.
    six = client.post(QUOTE, as_quote(point_body(world, "EKB77", ("TEA-0001", 6))), format="json")
    assert six.status_code == 200


def test_cash_on_delivery_to_a_point_without_cash_is_refused(
    world: World, points: dict[str, PickupPoint]
) -> None:
    client = client_for(world.buyer.user)
    response = place(client, point_body(world, "RP-L-620026", method="cod"), "cod-locker")
    assert response.status_code == 422
    body = response.json()
    assert (body["code"], list(body["fields"])) == ("cod_not_allowed_at_point", ["payment_method"])
    assert Order.objects.count() == 0 and OrderDelivery.objects.count() == 0
    accepted = place(client, point_body(world, "RP-620075", method="cod"), "cod-office")
    assert accepted.status_code == 201, accepted.json()
    assert OrderDelivery.objects.get().pickup_point == points["RP-620075"]


@pytest.mark.parametrize(
    ("delivery", "code"),
    [
        ({"kind": "pickup_point", "code": "NOPE1"}, "unknown_pickup_point"),
        ({"kind": "pickup_point", "code": "VVO3"}, "pickup_point_not_in_region"),
        ({"kind": "pickup_point"}, "invalid"),
        ({"kind": "door", "code": "EKB12"}, "invalid"),
        ({"kind": "drone"}, "invalid"),
    ],
)
def test_bad_deliveries_are_400(
    world: World, points: dict[str, PickupPoint], delivery: dict[str, str], code: str
) -> None:
    body = world.order_body(("TEA-0001", 1))
    body["delivery"] = delivery
    response = client_for(world.buyer.user).post(QUOTE, as_quote(body), format="json")
    assert (response.status_code, response.json()["code"]) == (400, code)


# --- End to end ---------------------------------------------------------------


def _pay_and_pack(order_number: str) -> list[Any]:
    order = Order.objects.get(number=order_number)
    with TestCase.captureOnCommitCallbacks(execute=True):
        payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return order_pack(order_id=order.id)


def test_a_door_order_end_to_end_has_no_point_anywhere(
    world: World, points: dict[str, PickupPoint]
) -> None:
    client = client_for(world.buyer.user)
    response = place(client, world.order_body(("TEA-0001", 1)), "door-1")
    assert response.status_code == 201
    number = response.json()["number"]
    (parcel,) = _pay_and_pack(number)
    assert (parcel.pickup_point_id, parcel.carrier, parcel.carrier_number) == (None, "", "")
    assert not OrderDelivery.objects.exists()
    event = OutboxEvent.objects.get(type="parcel.status_changed")
    assert event.payload == {
        "tracking_number": parcel.tracking_number,
        "order": number,
        "status": "info_received",
        "previous_status": "",
    }
    track = APIClient().get(f"/api/v1/tracking/{parcel.tracking_number}/").json()
    assert (track["pickup_point"], track["carrier"]) == (None, "")


def test_a_point_order_shows_the_point_on_label_tracking_and_webhook(
    world: World, points: dict[str, PickupPoint]
) -> None:
    client = client_for(world.buyer.user)
    response = place(client, point_body(world, "EKB12", ("TEA-0001", 2)), "point-1")
    assert response.status_code == 201, response.json()
    number = response.json()["number"]
    (parcel,) = _pay_and_pack(number)
    point = points["EKB12"]
    assert (parcel.pickup_point_id, parcel.carrier) == (point.id, "cdek")
    event = OutboxEvent.objects.get(type="parcel.status_changed")
    assert event.payload["pickup_point"] == {
        "code": "EKB12",
        "carrier": "cdek",
        "kind": "pickup_point",
        "name": point.name,
        "address": point.address,
        "postcode": point.postcode,
        "city": point.city,
    }
    assert (event.payload["carrier"], event.payload["carrier_number"]) == ("cdek", "")
    text = PdfReader(io.BytesIO(parcel_label_pdf(parcel_id=parcel.id))).pages[0].extract_text()
    assert "ПВЗ / PICKUP POINT EKB12 (СДЭК)" in text
    assert point.address in text
    track = APIClient().get(f"/api/v1/tracking/{parcel.tracking_number}/").json()
    assert track["pickup_point"]["code"] == "EKB12" and track["carrier"] == "cdek"
    page = APIClient().get(f"/track/{parcel.tracking_number}")
    assert point.address in page.content.decode()


def test_a_csv_file_loads_too_and_a_bad_one_is_refused(db: Any, tmp_path: Any) -> None:
    good = tmp_path / "points.csv"
    good.write_text(
        "carrier,code,kind,name,region,city,postcode,address,latitude,longitude,fias_id,"
        "opening_hours,max_weight_g,max_length_mm,max_width_mm,max_height_mm,cash_allowed\n"
        "cdek,OVB7,locker,Постамат СДЭК,RU-NVS,Новосибирск,630099,ул. Ленина 12,55.0302,82.9204,"
        ",Ежедневно 10:00-22:00,15000,600,400,380,false\n",
        encoding="utf-8",
    )
    out = io.StringIO()
    call_command("pickup_points_load", str(good), stdout=out)
    assert out.getvalue().strip() == "1 created, 0 updated"
    point = PickupPoint.objects.get(code="OVB7")
    assert (point.cell_mm, point.cash_allowed, point.fias_id) == ((600, 400, 380), False, None)
    bad = tmp_path / "bad.json"
    bad.write_text('[{"code": "X1"}]', encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("pickup_points_load", str(bad), stdout=io.StringIO())
    assert PickupPoint.objects.count() == 1


def test_a_point_edited_by_staff_is_found_by_its_new_city(
    points: dict[str, PickupPoint], api: APIClient
) -> None:
    point = points["NSK9"]
    point.city = "Бердск"
    pickup_point_save(point=point)
    found = api.get(POINTS, {"city": "бердск"}).json()["results"]
    assert [p["code"] for p in found] == ["NSK9"]
    assert api.get(POINTS, {"city": "Новосибирск"}).json()["results"] == []

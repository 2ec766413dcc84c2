"""The guest quote: a cart's landed cost from its lines and a region alone,
and the order placed afterwards charging exactly that."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import Order
from payments.models import Payment
from tests.conftest import World, client_for
from tests.factories import ProductFactory
from warehouses.models import StockLevel
from warehouses.services import stock_receive

QUOTE = "/api/v1/checkout/quote/"


@pytest.fixture
def late_evening(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """21:30 UTC: already tomorrow in Moscow (UTC+3) and Vladivostok (UTC+10)."""
    moment = datetime.combine(timezone.now().date(), time(21, 30), tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    return moment


def test_a_guest_quotes_a_cart_with_only_a_region(world: World, late_evening: datetime) -> None:
    response = APIClient().post(
        QUOTE,
        {"region": "RU-MOW", "lines": [{"sku": "BOOT-0002", "quantity": 3}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    tomorrow = late_evening.date() + timedelta(days=1)
    window = {
        "min_days": 5,
        "max_days": 12,
        "earliest": (tomorrow + timedelta(days=5)).isoformat(),
        "latest": (tomorrow + timedelta(days=12)).isoformat(),
    }
    door = {
        "kind": "door",
        "price": {"amount": "2502.50", "currency": "RUB"},
        "window": window,
        "pickup_point": None,
    }
    assert response.json() == {
        "region": "RU-MOW",
        "delivery": door,
        "delivery_options": [door],
        "parcels": [
            {
                "warehouse": "HRB",
                "lane": "HRB-SVX-AIR",
                "lines": [{"sku": "BOOT-0002", "quantity": 3}],
                "weight_g": 4500,
                "value": {"amount": "987.00", "currency": "CNY"},
                # 987 * 11 / 92
                "value_eur": {"amount": "118.01", "currency": "EUR"},
                "duty": {"amount": "0.00", "currency": "RUB"},
                "duty_eur": {"amount": "0.00", "currency": "EUR"},
                # 25 + 45 CNY per kg * 4.5 = 227.50 CNY at 11
                "shipping": {"amount": "2502.50", "currency": "RUB"},
                "delivery_window": {"min_days": 5, "max_days": 12},
            }
        ],
        "totals": {
            "goods": "10857.00",
            "shipping": "2502.50",
            "duty": "0.00",
            "total": "13359.50",
            "currency": "RUB",
        },
        "rates": {
            "cny_rub": "11.00000000",
            "eur_rub": "92.00000000",
            "date": late_evening.date().isoformat(),
        },
    }
    assert StockLevel.objects.filter(reserved__gt=0).count() == 0


def test_the_window_is_the_slowest_parcels_in_the_regions_own_date(
    world: World, late_evening: datetime
) -> None:
    # Honey only in Suifenhe (road, 2-4 days), boots only in Harbin (air, 6-10).
    honey = ProductFactory.create(sku="HONEY-0004", price_cny=Decimal("50.00"), weight_g=500)
    stock_receive(warehouse_id=world.sfh.id, product_id=honey.id, quantity=5)
    body = {
        "region": "RU-PRI",
        "postcode": "690091",
        "delivery": {"kind": "door"},
        "lines": [{"sku": "HONEY-0004", "quantity": 1}, {"sku": "BOOT-0002", "quantity": 1}],
    }
    quote = APIClient().post(QUOTE, body, format="json").json()
    assert [(p["warehouse"], p["delivery_window"]) for p in quote["parcels"]] == [
        ("HRB", {"min_days": 6, "max_days": 10}),
        ("SFH", {"min_days": 2, "max_days": 4}),
    ]
    tomorrow = late_evening.date() + timedelta(days=1)
    assert quote["delivery"]["window"] == {
        "min_days": 6,
        "max_days": 10,
        "earliest": (tomorrow + timedelta(days=6)).isoformat(),
        "latest": (tomorrow + timedelta(days=10)).isoformat(),
    }
    shipping = sum(Decimal(p["shipping"]["amount"]) for p in quote["parcels"])
    assert quote["delivery"]["price"] == {"amount": f"{shipping:.2f}", "currency": "RUB"}
    assert quote["totals"]["shipping"] == f"{shipping:.2f}"


@pytest.mark.parametrize(
    ("lines", "region"),
    [
        ([("PHONE-0003", 2)], "RU-SVE"),  # over EUR 200: duty
        ([("BOOT-0002", 30)], "RU-SVE"),  # two parcels: 45 kg, 30 kg at most each
    ],
    ids=["with-duty", "two-parcels"],
)
def test_the_order_then_charges_exactly_what_the_guest_was_quoted(
    world: World, lines: list[tuple[str, int]], region: str
) -> None:
    quote = APIClient().post(QUOTE, world.quote_body(*lines, region=region), format="json")
    assert quote.status_code == 200
    quoted = quote.json()
    client = client_for(world.buyer.user)
    placed = client.post(
        "/api/v1/orders/",
        world.order_body(*lines, region=region),
        format="json",
        HTTP_IDEMPOTENCY_KEY="after-quote",
    ).json()
    assert placed["totals"] == quoted["totals"]
    order = Order.objects.get(number=placed["number"])
    assert (order.goods_rub, order.shipping_rub, order.duty_rub, order.total_rub) == tuple(
        Decimal(quoted["totals"][k]) for k in ("goods", "shipping", "duty", "total")
    )
    paid = client.post(
        f"/api/v1/orders/{order.number}/pay/", {"token": "tok_approve"}, format="json"
    )
    assert paid.status_code == 201
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.amount) == ("captured", Decimal(quoted["totals"]["total"]))
    if lines == [("PHONE-0003", 2)]:
        # 2598 CNY = EUR 310.63: 5 % = EUR 15.53 = 1428.76 RUB.
        assert quoted["totals"]["duty"] == "1428.76"
        assert order.duty_rub == Decimal("1428.76")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"lines": [{"sku": "TEA-0001", "quantity": 1}]}, {"region": ["This field is required."]}),
        (
            {"region": "RU-XXX", "lines": [{"sku": "TEA-0001", "quantity": 1}]},
            {"region": ['"RU-XXX" is not a valid choice.']},
        ),
        (
            {
                "region": "RU-MOW",
                "postcode": "12345",
                "lines": [{"sku": "TEA-0001", "quantity": 1}],
            },
            {"postcode": ["A Russian postcode has 6 digits."]},
        ),
        (
            {
                "region": "RU-MOW",
                "delivery": {"kind": "drone"},
                "lines": [{"sku": "TEA-0001", "quantity": 1}],
            },
            {"delivery.kind": ['"drone" is not a valid choice.']},
        ),
        (
            {"region": "RU-MOW", "lines": [{"sku": "TEA-0001", "quantity": 1}], "price": "1"},
            {"price": ["Unknown field."]},
        ),
    ],
    ids=["no-region", "bad-region", "bad-postcode", "bad-kind", "unknown-field"],
)
def test_a_bad_cart_is_400_with_the_field(world: World, body: dict[str, Any], fields: Any) -> None:
    response = APIClient().post(QUOTE, body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json()["fields"] == fields


def test_the_quote_takes_json_only(world: World) -> None:
    response = APIClient().post(QUOTE, {"region": "RU-MOW"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_an_unserved_region_is_400(world: World) -> None:
    response = APIClient().post(
        QUOTE, world.quote_body(("TEA-0001", 1), region="RU-KGD"), format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "region_not_served"

"""Buyer API: placing, paying, cancelling; bad input; other buyers' data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.cache import reference_caches_clear
from notifications.models import OutboxEvent, WebhookSubscription
from orders.models import Order, OrderEvent, OrderLine
from payments.models import Payment
from tests.conftest import World, client_for
from warehouses.models import Reservation, StockLevel, StockMovement

ERROR_KEYS = {"code", "message", "fields"}


def row_counts() -> dict[str, int]:
    models = [
        Order,
        OrderLine,
        OrderEvent,
        Payment,
        Reservation,
        StockMovement,
        OutboxEvent,
        WebhookSubscription,
    ]
    return {m.__name__: m._default_manager.count() for m in models}


def place(world: World, *lines: tuple[str, int], key: str = "k1", **kw: Any) -> Any:
    client = client_for(world.buyer.user)
    return client.post(
        "/api/v1/orders/", world.order_body(*lines, **kw), format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_order_is_priced_in_roubles_with_shipping_and_duty(world: World) -> None:
    response = place(world, ("TEA-0001", 2), ("PHONE-0003", 1))
    assert response.status_code == 201, response.json()
    body = response.json()
    # goods 2*98 + 1299 = 1495 CNY at 11 RUB; one parcel of 1020 g from Harbin by air.
    assert body["totals"] == {
        "goods": "16445.00",
        "shipping": "819.50",  # (25 + 4.50 * 11 started 100 g) CNY * 11 RUB
        "duty": "0.00",  # 1495 CNY = EUR 178.75, under EUR 200
        "total": "17264.50",
        "currency": "RUB",
    }
    assert body["status"] == "pending_payment"
    assert [(line["sku"], line["quantity"]) for line in body["lines"]] == [
        ("TEA-0001", 2),
        ("PHONE-0003", 1),
    ]
    levels = dict(
        StockLevel.objects.filter(warehouse=world.hrb).values_list("product__sku", "reserved")
    )
    assert levels == {"TEA-0001": 2, "BOOT-0002": 0, "PHONE-0003": 1}


def test_quote_matches_the_order_and_reserves_nothing(world: World) -> None:
    client = client_for(world.buyer.user)
    body = world.order_body(("BOOT-0002", 3), region="RU-PRI")
    quote = client.post("/api/v1/checkout/quote/", body, format="json").json()
    assert StockLevel.objects.filter(reserved__gt=0).count() == 0
    order = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="q").json()
    assert order["totals"] == quote["totals"]
    assert [(p["warehouse"], p["lane"], p["weight_g"]) for p in quote["parcels"]] == [
        ("HRB", "HRB-SVX-AIR", 4500)
    ]
    # 987 CNY = EUR 118.01: no duty; 4.5 kg: 25 + 4.5 * 45 = 227.50 CNY shipping.
    assert quote["parcels"][0]["shipping"] == {"amount": "2502.50", "currency": "RUB"}
    assert quote["parcels"][0]["delivery_window"] == {"min_days": 6, "max_days": 10}


def test_order_over_the_duty_threshold_pays_duty(world: World) -> None:
    client = client_for(world.buyer.user)
    # 2 phones = 2598 CNY = EUR 310.63, over EUR 200: 5 % of the whole = EUR 15.53.
    quote = client.post(
        "/api/v1/checkout/quote/", world.order_body(("PHONE-0003", 2)), format="json"
    ).json()
    assert [p["duty_eur"] for p in quote["parcels"]] == [{"amount": "15.53", "currency": "EUR"}]
    assert quote["totals"]["duty"] == "1428.76"  # 15.53 * 92


def test_cash_on_delivery_order_is_confirmed_and_allocated_at_once(world: World) -> None:
    response = place(world, ("TEA-0001", 1), method="cod")
    assert response.status_code == 201
    assert response.json()["status"] == "allocated"
    payment = Payment.objects.get()
    assert (payment.method, payment.status, payment.amount) == (
        "cod",
        "awaiting_cash",
        Decimal("1501.50"),
    )


def test_pay_with_the_approve_token_pays_and_allocates(world: World) -> None:
    number = place(world, ("TEA-0001", 1)).json()["number"]
    client = client_for(world.buyer.user)
    response = client.post(f"/api/v1/orders/{number}/pay/", {"token": "tok_approve"}, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "captured"
    order = Order.objects.get(number=number)
    assert order.status == "allocated"
    assert list(order.events.values_list("to_status", flat=True)) == [
        "pending_payment",
        "paid",
        "allocated",
    ]


def test_declined_card_keeps_the_order_payable_and_records_the_attempt(world: World) -> None:
    number = place(world, ("TEA-0001", 1)).json()["number"]
    client = client_for(world.buyer.user)
    response = client.post(
        f"/api/v1/orders/{number}/pay/",
        {"token": "tok_insufficient_funds"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 402
    assert response.json() == {
        "code": "payment_declined",
        "message": "There is not enough money on the card.",
        "fields": {"token": ["insufficient_funds"]},
        "decline_code": "insufficient_funds",
    }
    assert Order.objects.get(number=number).status == "pending_payment"
    assert list(Payment.objects.values_list("status", "decline_code")) == [
        ("failed", "insufficient_funds")
    ]


def test_cancel_releases_stock_and_refunds_a_captured_payment(world: World) -> None:
    number = place(world, ("TEA-0001", 3)).json()["number"]
    client = client_for(world.buyer.user)
    client.post(f"/api/v1/orders/{number}/pay/", {"token": "tok_approve"}, format="json")
    response = client.post(f"/api/v1/orders/{number}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert StockLevel.objects.get(warehouse=world.hrb, product__sku="TEA-0001").reserved == 0
    payment = Payment.objects.get()
    assert (payment.status, payment.refunded_amount) == ("refunded", payment.amount)
    again = client.post(f"/api/v1/orders/{number}/cancel/")
    assert again.status_code == 409
    assert again.json()["code"] == "order_not_cancellable"


def test_out_of_stock_is_409_naming_the_sku_and_writes_nothing(world: World) -> None:
    before = row_counts()
    response = place(world, ("TEA-0001", 1), ("BOOT-0002", 51))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "out_of_stock"
    assert body["fields"] == {"lines": ["BOOT-0002"]}
    assert row_counts() == before


def test_stale_exchange_rates_stop_checkout(world: World) -> None:
    from payments.models import ExchangeRate

    ExchangeRate.objects.update(date="2020-01-01")
    response = place(world, ("TEA-0001", 1))
    assert response.status_code == 409
    assert response.json()["code"] == "exchange_rate_stale"


BAD_ORDER_BODIES = [
    ("unknown sku", {"lines": [{"sku": "NOPE-1", "quantity": 1}]}, "lines[0].sku"),
    ("quantity 0", {"lines": [{"sku": "TEA-0001", "quantity": 0}]}, "lines[0].quantity"),
    ("negative quantity", {"lines": [{"sku": "TEA-0001", "quantity": -3}]}, "lines[0].quantity"),
    ("huge quantity", {"lines": [{"sku": "TEA-0001", "quantity": 10**12}]}, "lines[0].quantity"),
    ("quantity as text", {"lines": [{"sku": "TEA-0001", "quantity": "two"}]}, "lines[0].quantity"),
    ("no lines", {"lines": []}, "lines"),
    ("lines not a list", {"lines": "TEA-0001"}, "lines"),
    ("missing address", {"shipping_address": None}, "shipping_address"),
    ("bad payment method", {"payment_method": "bitcoin"}, "payment_method"),
    ("bad postcode", {"shipping_address": {"postcode": "ABC"}}, "shipping_address.postcode"),
    ("bad region", {"shipping_address": {"region": "RU-XXX"}}, "shipping_address.region"),
    ("client sets a price", {"price": "1.00"}, "price"),
    ("client sets a status", {"status": "paid"}, "status"),
    ("duplicate sku", {"lines": [{"sku": "TEA-0001", "quantity": 1}] * 2}, "lines"),
]


@pytest.mark.parametrize(
    ("case", "change", "field"), BAD_ORDER_BODIES, ids=[c[0] for c in BAD_ORDER_BODIES]
)
def test_bad_order_input_is_400_in_one_shape_and_writes_nothing(
    world: World, case: str, change: dict[str, Any], field: str
) -> None:
    body = world.order_body(("TEA-0001", 1))
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        elif value is None:
            body.pop(key)
        else:
            body[key] = value
    before = row_counts()
    client = client_for(world.buyer.user)
    response = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=case)
    assert response.status_code == 400, response.json()
    payload = response.json()
    assert set(payload) == ERROR_KEYS
    assert field in payload["fields"], payload
    assert row_counts() == before


def test_malformed_json_and_wrong_content_type_are_4xx_in_one_shape(world: World) -> None:
    client = client_for(world.buyer.user)
    before = row_counts()
    broken = client.post(
        "/api/v1/orders/", "{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="m"
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "malformed_request"
    assert set(broken.json()) == ERROR_KEYS
    text = client.post("/api/v1/orders/", "x", content_type="text/plain", HTTP_IDEMPOTENCY_KEY="t")
    assert text.status_code == 415
    assert set(text.json()) == ERROR_KEYS
    assert row_counts() == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/register/", {"email": "not-an-email", "password": "x"}),
        ("/api/v1/auth/token/", {"email": "a@b.ru"}),
        ("/api/v1/webhooks/", {"url": "ftp://example.com/hook"}),
        ("/api/v1/checkout/quote/", {"lines": [{"sku": "TEA-0001", "quantity": 0}]}),
    ],
)
def test_other_write_endpoints_reject_bad_input(
    world: World, path: str, body: dict[str, Any]
) -> None:
    before = row_counts()
    response = client_for(world.buyer.user).post(path, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["fields"]
    assert row_counts() == before


def test_pay_with_bad_token_or_body_is_400(world: World) -> None:
    number = place(world, ("TEA-0001", 1)).json()["number"]
    client = client_for(world.buyer.user)
    for body in ({}, {"token": "tok_unknown"}, {"token": 5, "extra": 1}):
        response = client.post(f"/api/v1/orders/{number}/pay/", body, format="json")
        assert response.status_code == 400, body
        assert set(response.json()) == ERROR_KEYS
    assert Payment.objects.count() == 0


def test_another_buyers_order_is_404_for_read_pay_cancel_and_events(world: World) -> None:
    number = place(world, ("TEA-0001", 1)).json()["number"]
    intruder = client_for(world.other_buyer.user)
    calls = [
        ("get", f"/api/v1/orders/{number}/"),
        ("get", f"/api/v1/orders/{number}/events/"),
        ("post", f"/api/v1/orders/{number}/pay/"),
        ("post", f"/api/v1/orders/{number}/cancel/"),
    ]
    for method, path in calls:
        response = getattr(intruder, method)(path, {"token": "tok_approve"}, format="json")
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    listing = intruder.get("/api/v1/orders/").json()
    assert listing["count"] == 0 and listing["results"] == []
    assert Order.objects.get(number=number).status == "pending_payment"
    assert Payment.objects.count() == 0


def test_orders_require_authentication(api: Any, world: World) -> None:
    response = api.get("/api/v1/orders/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_order_list_query_count_does_not_grow_with_orders(world: World) -> None:
    client = client_for(world.buyer.user)
    place(world, ("TEA-0001", 1), key="a")
    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/v1/orders/").status_code == 200
    for i in range(5):
        place(world, ("TEA-0001", 1), ("BOOT-0002", 1), key=f"b{i}")
    with CaptureQueriesContext(connection) as six:
        response = client.get("/api/v1/orders/")
    assert response.json()["count"] == 6
    # token, count, page, lines, parcels, shipments and their parcels
    assert len(one.captured_queries) == len(six.captured_queries) == 7


def test_placing_an_order_takes_the_same_queries_for_1_and_10_lines(world: World) -> None:
    from tests.factories import ProductFactory
    from warehouses.services import stock_receive

    skus: list[str] = []
    for i in range(10):
        product = ProductFactory.create(sku=f"BULK-{i:03d}", weight_g=100)
        stock_receive(warehouse_id=world.hrb.id, product_id=product.id, quantity=10)
        skus.append(product.sku)
    client_for(world.buyer.user)  # the token exists before counting
    reference_caches_clear()  # count reference reads both times
    with CaptureQueriesContext(connection) as one:
        assert place(world, (skus[0], 1), key="one").status_code == 201
    reference_caches_clear()
    with CaptureQueriesContext(connection) as ten:
        assert place(world, *[(s, 1) for s in skus], key="ten").status_code == 201
    assert len(ten.captured_queries) == len(one.captured_queries)

"""SBP (the Faster Payments System) through YooKassa and the sandbox: one
stage with a redirect confirmation, its receipt like a card's, an hour to
confirm, the card's notification road, and money that arrives too late
given back with its receipt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from catalogue.models import Merchant
from orders.models import Order
from payments.models import Payment
from payments.receipts.models import Receipt
from payments.receipts.services import receipts_send
from tests.conftest import World
from tests.test_receipts import (
    customer,
    goods_item,
    pay,
    place,
    shipping_item,
    supplier_details,
)
from tests.test_yookassa import notify
from tests.yookassa_server import FakeYooKassa, yookassa_for


@pytest.fixture
def yookassa(settings: Any) -> Iterator[FakeYooKassa]:
    with yookassa_for(settings) as fake:
        yield fake


@pytest.fixture
def merchant(world: World) -> Merchant:
    return supplier_details(world)


def test_an_sbp_order_pays_in_one_stage_with_its_receipt(
    world: World, yookassa: FakeYooKassa, merchant: Merchant
) -> None:
    order = place(world)
    response = pay(world, order, method="sbp")

    assert response.status_code == 202, response.json()
    body = response.json()
    payment = Payment.objects.get(id=body["id"])
    reference = payment.provider_reference
    assert (body["method"], body["status"]) == ("sbp", "requires_action")
    assert body["confirmation_url"] == f"{yookassa.url}/checkout/confirm/{reference}"
    (sent,) = yookassa.sent("/v3/payments")
    # The SDK adds its own name to the metadata and empty statements and transfers.
    assert sent.pop("metadata") == {
        "amur_key": f"{order.number}-1",
        "cms_name": "yookassa_sdk_python",
    }
    assert (sent.pop("statements"), sent.pop("transfers")) == ([], [])
    assert sent == {
        "amount": {"value": "1501.50", "currency": "RUB"},
        "payment_method_data": {"type": "sbp"},
        "capture": True,
        "confirmation": {
            "type": "redirect",
            "return_url": f"http://localhost:8000/api/v1/orders/{order.number}/",
        },
        "description": f"Amur {order.number}",
        "receipt": {
            "customer": customer(world),
            "items": [
                goods_item(merchant, "1078.00", "full_prepayment"),
                shipping_item("423.50", "full_prepayment"),
            ],
            "tax_system_code": 1,
        },
    }
    assert payment.expires_at is not None
    assert timedelta(minutes=59) < payment.expires_at - payment.created_at <= timedelta(hours=1)

    # The buyer confirms in the bank's app; the same notification as a card's.
    yookassa.confirm(reference)
    assert notify("payment.succeeded", reference).json() == {"outcome": "captured"}
    payment.refresh_from_db()
    assert payment.status == "captured"
    assert Order.objects.get(id=order.id).status == "allocated"
    assert not [p for p in yookassa.paths("POST") if p.endswith("/capture")]
    receipt = Receipt.objects.get()
    (registered,) = yookassa.receipts_of(payment_id=reference)
    assert (receipt.status, receipt.provider_id) == ("succeeded", registered["id"])


def test_an_unconfirmed_sbp_payment_expires_after_an_hour(
    world: World, yookassa: FakeYooKassa, merchant: Merchant
) -> None:
    from commands.tasks import expire_unpaid_orders

    order = place(world)
    payment = Payment.objects.get(id=pay(world, order, method="sbp").json()["id"])
    # Past the order's own 30 minutes, the SBP payment's hour still runs.
    Order.objects.filter(id=order.id).update(created_at=timezone.now() - timedelta(minutes=45))
    Payment.objects.filter(id=payment.id).update(
        created_at=timezone.now() - timedelta(minutes=45),
        expires_at=timezone.now() + timedelta(minutes=15),
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert expire_unpaid_orders() == 0
    assert Order.objects.get(id=order.id).status == "pending_payment"

    Payment.objects.filter(id=payment.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert expire_unpaid_orders() == 2  # the payment voided, then the order cancelled
    payment.refresh_from_db()
    assert (payment.status, Order.objects.get(id=order.id).status) == ("voided", "cancelled")
    # YooKassa cancels the unconfirmed payment itself; its notification changes nothing.
    yookassa.expire(payment.provider_reference)
    assert notify("payment.canceled", payment.provider_reference).json() == {"outcome": "unchanged"}
    receipt = Receipt.objects.get()
    Receipt.objects.update(next_attempt_at=timezone.now())
    receipts_send()
    receipt.refresh_from_db()
    assert receipt.status == "canceled"


def test_sbp_through_the_sandbox_is_confirmed_on_its_page(world: World) -> None:
    order = place(world)
    response = pay(world, order, method="sbp")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["method"], body["status"]) == ("sbp", "requires_action")
    reference = Payment.objects.get(id=body["id"]).provider_reference

    with TestCase.captureOnCommitCallbacks(execute=True):
        confirmed = Client().post(
            f"/api/v1/payments/sandbox/confirm/{reference}/",
            {"outcome": "approve"},
            content_type="application/json",
        )
    assert confirmed.status_code == 200, confirmed.json()
    assert Payment.objects.get(id=body["id"]).status == "captured"
    receipt = Receipt.objects.get()
    assert (receipt.provider, receipt.status, receipt.payload["items"][0]["payment_mode"]) == (
        "sandbox",
        "succeeded",
        "full_prepayment",
    )


def test_a_card_payment_still_needs_its_token(world: World) -> None:
    order = place(world)
    response = pay(world, order, method="card")
    assert response.status_code == 400
    # In the buyer's language (ru).
    assert response.json()["fields"] == {"token": ["Для оплаты картой нужен токен."]}
    assert not Payment.objects.exists() and not Receipt.objects.exists()


def test_sbp_money_arriving_after_the_cancel_goes_back_with_its_receipt(
    world: World, yookassa: FakeYooKassa, merchant: Merchant
) -> None:
    from commands.cancel import order_cancel

    order = place(world)
    payment = Payment.objects.get(id=pay(world, order, method="sbp").json()["id"])
    reference = payment.provider_reference
    with TestCase.captureOnCommitCallbacks(execute=True):
        order_cancel(order_id=order.id, actor_id=None)
    # The buyer confirms in the bank's app anyway: YooKassa takes the money.
    yookassa.confirm(reference)

    assert notify("payment.succeeded", reference).json() == {"outcome": "late_capture"}

    (sent,) = yookassa.sent("/v3/refunds")
    assert sent["amount"] == {"value": "1501.50", "currency": "RUB"}
    assert sent["receipt"] == {
        "customer": customer(world),
        "items": [
            goods_item(merchant, "1078.00", "full_prepayment"),
            shipping_item("423.50", "full_prepayment"),
        ],
        "tax_system_code": 1,
    }
    (given_back,) = yookassa.refunds.values()
    assert list(Receipt.objects.values_list("kind", "status", "provider_id")) == [
        ("payment", "succeeded", yookassa.receipts_of(payment_id=reference)[0]["id"]),
        ("refund", "succeeded", yookassa.receipts_of(refund_id=given_back["id"])[0]["id"]),
    ]

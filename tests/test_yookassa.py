"""The YooKassa adapter: the official SDK against tests/yookassa_server.py,
a local server implementing the part of YooKassa's API Amur uses."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import TestCase
from rest_framework.test import APIClient

from commands.cancel import order_cancel
from commands.place import order_place
from commands.quote import LineRequest
from orders.models import Order
from orders.services import Address
from payments.models import LedgerEntry, Payment, PaymentEvent, ProviderNotification, Refund
from tests.conftest import World, client_for
from tests.factories import UserFactory
from tests.yookassa_server import FakeYooKassa, yookassa_for

WEBHOOK = "/api/v1/payments/webhooks/yookassa/"


@pytest.fixture
def yookassa(settings: Any) -> Iterator[FakeYooKassa]:
    with yookassa_for(settings) as fake:
        yield fake


def place(world: World) -> Order:
    return order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 1)],
        address=Address(**world.address()),
        payment_method="card",
    )


def pay(world: World, order: Order) -> dict[str, Any]:
    response = client_for(world.buyer.user).post(
        f"/api/v1/orders/{order.number}/pay/", {"token": "yk-checkout-token"}, format="json"
    )
    assert response.status_code == 202, response.json()
    body: dict[str, Any] = response.json()
    return body


def notify(event: str, object_id: str) -> Any:
    """YooKassa's notification, and what Amur does after its commit (the
    provider calls it queued, as the worker makes them)."""
    body = {"type": "notification", "event": event, "object": {"id": object_id, "status": "x"}}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return APIClient().post(WEBHOOK, body, format="json")


def written() -> dict[str, int]:
    return {
        m.__name__: m._default_manager.count()
        for m in (Payment, PaymentEvent, ProviderNotification, LedgerEntry, Refund)
    }


def test_create_confirm_by_notification_capture_and_refund(
    world: World, yookassa: FakeYooKassa
) -> None:
    order = place(world)
    body = pay(world, order)
    payment = Payment.objects.get(id=body["id"])
    reference = payment.provider_reference
    assert (body["status"], body["provider"]) == ("requires_action", "yookassa")
    assert body["confirmation_url"] == f"{yookassa.url}/checkout/confirm/{reference}"
    sent = yookassa.payments[reference]
    assert sent["amount"] == {"value": f"{order.total_rub:.2f}", "currency": "RUB"}
    assert [r for r in yookassa.requests if r[1] == "/v3/payments"] == [
        ("POST", "/v3/payments", f"{order.number}-1")
    ]

    yookassa.confirm(reference)
    response = notify("payment.waiting_for_capture", reference)

    assert response.status_code == 200, response.json()
    assert response.json() == {"outcome": "capture_needed"}
    assert yookassa.paths("POST")[-1] == f"/v3/payments/{reference}/capture"
    assert yookassa.payments[reference]["status"] == "succeeded"
    payment.refresh_from_db()
    assert payment.status == "captured" and payment.captured_at is not None
    assert list(payment.events.values_list("kind", flat=True)) == [
        "created",
        "requires_action",
        "authorised",
        "captured",
    ]
    assert Order.objects.get(id=order.id).status == "allocated"
    entries = LedgerEntry.objects.filter(transaction__payment=payment)
    assert sum(e.debit for e in entries) == sum(e.credit for e in entries) == payment.amount

    # YooKassa's own success notification after the capture changes nothing.
    before = written()
    assert notify("payment.succeeded", reference).json() == {"outcome": "unchanged"}
    assert written() == before

    operator = client_for(UserFactory.create(email="ops@amur.example", is_staff=True))
    refund = operator.post(
        f"/api/v1/ops/payments/{payment.id}/refund/",
        {"amount": "100.00", "reason": "damaged box"},
        format="json",
    )
    assert refund.status_code == 201, refund.json()
    refund_id = refund.json()["provider_reference"]
    assert yookassa.refunds[refund_id]["amount"] == {"value": "100.00", "currency": "RUB"}
    assert yookassa.refunds[refund_id]["payment_id"] == reference
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("partially_refunded", Decimal("100.00"))
    assert notify("refund.succeeded", refund_id).json() == {"outcome": "unchanged"}


def test_a_duplicate_notification_changes_nothing(world: World, yookassa: FakeYooKassa) -> None:
    order = place(world)
    reference = Payment.objects.get(id=pay(world, order)["id"]).provider_reference
    yookassa.confirm(reference)
    assert notify("payment.waiting_for_capture", reference).json() == {"outcome": "capture_needed"}
    before = written()
    captures = yookassa.paths("POST").count(f"/v3/payments/{reference}/capture")

    again = notify("payment.waiting_for_capture", reference)

    # Read back, the payment is captured now, as Amur has it: nothing to do.
    assert again.status_code == 200 and again.json() == {"outcome": "unchanged"}
    assert written() == before
    assert yookassa.paths("POST").count(f"/v3/payments/{reference}/capture") == captures == 1


def test_the_same_notification_twice_is_acted_on_once(world: World, yookassa: FakeYooKassa) -> None:
    order = place(world)
    reference = Payment.objects.get(id=pay(world, order)["id"]).provider_reference
    yookassa.decline(reference, "insufficient_funds")
    assert notify("payment.canceled", reference).json() == {"outcome": "failed"}
    before = written()

    again = notify("payment.canceled", reference)

    assert again.status_code == 200 and again.json() == {"outcome": "duplicate"}
    assert written() == before
    assert list(ProviderNotification.objects.values_list("provider", "key", "outcome")) == [
        ("yookassa", f"payment:{reference}:failed", "failed")
    ]


def test_a_forged_notification_the_read_back_does_not_confirm_is_ignored(
    world: World, yookassa: FakeYooKassa
) -> None:
    order = place(world)
    reference = Payment.objects.get(id=pay(world, order)["id"]).provider_reference
    before = written()

    # Claims success, but YooKassa says the buyer has not confirmed anything.
    response = notify("payment.succeeded", reference)

    assert response.status_code == 200 and response.json() == {"outcome": "unchanged"}
    assert written() == before
    assert Payment.objects.get(provider_reference=reference).status == "requires_action"
    assert Order.objects.get(id=order.id).status == "pending_payment"
    assert f"/v3/payments/{reference}/capture" not in yookassa.paths("POST")


def test_a_notification_for_an_unknown_payment_is_rejected(
    world: World, yookassa: FakeYooKassa
) -> None:
    before = written()
    unknown_to_yookassa = notify("payment.succeeded", "2f5b9f0e-0000-5000-8000-000000000000")
    assert unknown_to_yookassa.status_code == 404
    assert unknown_to_yookassa.json()["code"] == "unknown_payment"

    # Known to YooKassa (another shop's integration, say) but not made by Amur.
    yookassa.payments["foreign"] = {**yookassa.payments.get("x", {}), "id": "foreign"}
    yookassa.payments["foreign"].update(
        status="succeeded",
        paid=True,
        amount={"value": "10.00", "currency": "RUB"},
        created_at="2026-01-01T00:00:00.000Z",
    )
    unknown_to_amur = notify("payment.succeeded", "foreign")
    assert unknown_to_amur.status_code == 404
    assert unknown_to_amur.json()["code"] == "unknown_payment"
    assert notify("payment.succeeded", "").status_code == 400
    assert written() == before


def test_a_declined_confirmation_fails_the_payment_with_its_reason(
    world: World, yookassa: FakeYooKassa
) -> None:
    order = place(world)
    reference = Payment.objects.get(id=pay(world, order)["id"]).provider_reference
    yookassa.decline(reference, "3d_secure_failed")

    assert notify("payment.canceled", reference).json() == {"outcome": "failed"}

    payment = Payment.objects.get(provider_reference=reference)
    assert (payment.status, payment.decline_code) == ("failed", "authentication_failed")
    assert Order.objects.get(id=order.id).status == "pending_payment"


def test_an_order_cancelled_before_confirmation_cancels_the_held_money(
    world: World, yookassa: FakeYooKassa
) -> None:
    order = place(world)
    reference = Payment.objects.get(id=pay(world, order)["id"]).provider_reference
    order_cancel(order_id=order.id, actor_id=None, reason="changed my mind")
    assert Payment.objects.get(provider_reference=reference).status == "voided"

    # The buyer confirms anyway: the held money is released, never captured.
    yookassa.confirm(reference)
    assert notify("payment.waiting_for_capture", reference).json() == {"outcome": "cancel_needed"}
    assert f"/v3/payments/{reference}/capture" not in yookassa.paths("POST")
    assert f"/v3/payments/{reference}/cancel" in yookassa.paths("POST")
    assert yookassa.payments[reference]["status"] == "canceled"
    assert Payment.objects.get(provider_reference=reference).status == "voided"


def test_a_read_back_with_another_amount_is_refused_and_changes_nothing(
    world: World, yookassa: FakeYooKassa
) -> None:
    order = place(world)
    reference = Payment.objects.get(id=pay(world, order)["id"]).provider_reference
    yookassa.confirm(reference)
    # The shop's account holds one rouble for this payment, not the order's total.
    yookassa.payments[reference]["amount"] = {"value": "1.00", "currency": "RUB"}
    before = written()

    response = notify("payment.waiting_for_capture", reference)

    assert response.status_code == 409
    assert response.json()["code"] == "amount_mismatch"
    assert response.json()["reported"] == {"amount": "1.00", "currency": "RUB"}
    assert response.json()["expected"] == {"amount": f"{order.total_rub:.2f}", "currency": "RUB"}
    assert written() == before
    assert Payment.objects.get(provider_reference=reference).status == "requires_action"
    assert yookassa.paths("POST")[-1] == "/v3/payments"

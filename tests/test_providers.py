"""The sandbox provider's realistic paths: 3-D Secure, results that come later
by a signed notification, decline reasons; and the provider webhook's
verification and idempotency."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import TestCase
from django.utils import translation
from rest_framework.test import APIClient

from commands.cancel import order_cancel
from commands.place import order_place
from commands.quote import LineRequest
from commands.tasks import sandbox_notifications_sweep
from notifications.signing import headers_build
from orders.models import Order
from orders.services import Address
from payments.models import (
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentEvent,
    ProviderNotification,
    SandboxDispatch,
)
from payments.providers import decline_message
from payments.providers.sandbox import SandboxProvider
from tests.conftest import World, client_for

WEBHOOK = "/api/v1/payments/webhooks/sandbox/"
SECRET = "whsec_c2FuZGJveC1kZXZlbG9wbWVudC1vbmx5LXNlY3JldA=="
Capture = Callable[..., Any]


def place(world: World) -> Order:
    return order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 1)],
        address=Address(**world.address()),
        payment_method="card",
    )


def pay(world: World, order: Order, token: str) -> Any:
    return client_for(world.buyer.user).post(
        f"/api/v1/orders/{order.number}/pay/",
        {"token": token},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )


def meta(headers: dict[str, str]) -> dict[str, Any]:
    return {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}


def signed(body: dict[str, Any], msg_id: str, *, secret: str = SECRET, age: int = 0) -> Any:
    raw = json.dumps(body).encode()
    headers = headers_build(
        secret=secret, msg_id=msg_id, timestamp=int(time.time()) - age, body=raw
    )
    return APIClient().post(
        WEBHOOK,
        raw,
        content_type="application/json",
        **meta(headers),
    )


def captured_body(reference: str) -> dict[str, Any]:
    return {
        "type": "payment.captured",
        "data": {"reference": reference, "status": "captured", "decline_code": ""},
    }


def written() -> dict[str, int]:
    return {
        m.__name__: m._default_manager.count()
        for m in (Payment, PaymentEvent, ProviderNotification, LedgerTransaction, LedgerEntry)
    }


def balanced(payment: Payment) -> bool:
    entries = LedgerEntry.objects.filter(transaction__payment=payment)
    return sum(e.debit for e in entries) == sum(e.credit for e in entries) == payment.amount


def test_tok_approve_stays_a_synchronous_capture(world: World) -> None:
    order = place(world)
    response = pay(world, order, "tok_approve")
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["confirmation_url"]) == ("captured", "")
    assert Order.objects.get(id=order.id).status == "allocated"
    assert SandboxDispatch.objects.count() == 0


def test_3ds_approved_on_the_confirmation_page_captures_by_signed_notification(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    order = place(world)
    response = pay(world, order, "tok_3ds")
    assert response.status_code == 202
    body = response.json()
    payment = Payment.objects.get(id=body["id"])
    assert body["status"] == "requires_action"
    # Absolute, on the caller's host (no PUBLIC_BASE_URL here).
    assert body["confirmation_url"] == (
        f"http://testserver/api/v1/payments/sandbox/confirm/{payment.provider_reference}/"
    )
    assert Order.objects.get(id=order.id).status == "pending_payment"

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = APIClient().post(
            body["confirmation_url"], {"outcome": "approve"}, format="json"
        )

    assert confirmed.status_code == 200, confirmed.json()
    payment.refresh_from_db()
    assert payment.status == "captured"
    assert list(payment.events.values_list("kind", flat=True)) == [
        "created",
        "requires_action",
        "captured",
    ]
    assert Order.objects.get(id=order.id).status == "allocated"
    assert balanced(payment)
    dispatch = SandboxDispatch.objects.get()
    assert (dispatch.event, dispatch.attempts, dispatch.last_error) == ("payment.captured", 1, "")
    assert dispatch.delivered_at is not None
    assert list(ProviderNotification.objects.values_list("key", "outcome")) == [
        (dispatch.msg_id, "captured")
    ]


def test_3ds_declined_fails_the_payment_with_a_reason(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    order = place(world)
    body = pay(world, order, "tok_3ds").json()
    with django_capture_on_commit_callbacks(execute=True):
        APIClient().post(body["confirmation_url"], {"outcome": "decline"}, format="json")

    payment = Payment.objects.get(id=body["id"])
    assert (payment.status, payment.decline_code) == ("failed", "authentication_failed")
    assert Order.objects.get(id=order.id).status == "pending_payment"
    with translation.override("en"):
        assert decline_message(payment.decline_code) == (
            "The card holder did not confirm the payment (3-D Secure)."
        )
    again = APIClient().post(body["confirmation_url"], {"outcome": "approve"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "payment_not_awaiting_confirmation"


@pytest.mark.parametrize(
    ("token", "status", "decline_code", "order_status"),
    [
        ("tok_async_approve", "captured", "", "allocated"),
        ("tok_async_decline", "failed", "card_declined", "pending_payment"),
    ],
)
def test_a_pending_payment_is_settled_by_the_later_notification(
    world: World,
    django_capture_on_commit_callbacks: Capture,
    token: str,
    status: str,
    decline_code: str,
    order_status: str,
) -> None:
    order = place(world)
    with django_capture_on_commit_callbacks(execute=True):
        response = pay(world, order, token)
        # The answer is given before the notification arrives.
        assert response.status_code == 202
        assert response.json()["status"] == "pending"

    payment = Payment.objects.get(id=response.json()["id"])
    assert (payment.status, payment.decline_code) == (status, decline_code)
    assert Order.objects.get(id=order.id).status == order_status


def test_immediate_declines_carry_their_reason_and_message(world: World) -> None:
    order = place(world)
    response = pay(world, order, "tok_expired_card")
    assert response.status_code == 402
    assert response.json()["decline_code"] == "expired_card"
    assert response.json()["message"] == "The card has expired."


def test_the_same_notification_twice_changes_nothing_the_second_time(world: World) -> None:
    order = place(world)
    payment = Payment.objects.get(id=pay(world, order, "tok_3ds").json()["id"])
    first = signed(captured_body(payment.provider_reference), "msg_1")
    assert first.status_code == 200 and first.json() == {"outcome": "captured"}
    before = written()

    second = signed(captured_body(payment.provider_reference), "msg_1")

    assert second.status_code == 200 and second.json() == {"outcome": "duplicate"}
    assert written() == before
    # Another notification of the same fact is stopped by the transition table.
    third = signed(captured_body(payment.provider_reference), "msg_2")
    assert third.json() == {"outcome": "unchanged"}
    assert written() == before
    assert LedgerTransaction.objects.filter(payment=payment).count() == 1


def test_a_notification_for_an_unknown_payment_is_rejected_and_writes_nothing(
    world: World,
) -> None:
    before = written()
    response = signed(captured_body("sbx_not_a_payment"), "msg_unknown")
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_payment"
    assert written() == before


@pytest.mark.parametrize(
    "tamper",
    ["unsigned", "wrong_secret", "stale", "body_changed", "garbage"],
)
def test_an_unverified_notification_is_rejected_and_writes_nothing(
    world: World, tamper: str
) -> None:
    order = place(world)
    payment = Payment.objects.get(id=pay(world, order, "tok_3ds").json()["id"])
    body = captured_body(payment.provider_reference)
    before = written()
    if tamper == "unsigned":
        response = APIClient().post(WEBHOOK, body, format="json")
    elif tamper == "wrong_secret":
        response = signed(body, "msg_x", secret="whsec_" + "b3RoZXI=")
    elif tamper == "stale":
        response = signed(body, "msg_x", age=3600)
    elif tamper == "body_changed":
        raw = json.dumps(body).encode()
        headers = headers_build(secret=SECRET, msg_id="msg_x", timestamp=int(time.time()), body=raw)
        response = APIClient().post(
            WEBHOOK,
            raw.replace(b"captured", b"failed"),
            content_type="application/json",
            **meta(headers),
        )
    else:
        response = signed({"type": "payment.captured"}, "msg_x")
    assert response.status_code == 400
    assert response.json()["code"] == "notification_rejected"
    assert written() == before
    assert Payment.objects.get(id=payment.id).status == "requires_action"


def test_a_new_attempt_voids_the_one_in_progress(world: World) -> None:
    order = place(world)
    first = Payment.objects.get(id=pay(world, order, "tok_3ds").json()["id"])
    assert pay(world, order, "tok_approve").status_code == 201
    first.refresh_from_db()
    assert first.status == "voided"
    # The buyer finishes the abandoned 3-D Secure anyway: that money goes back.
    refunds: list[str] = []
    original = SandboxProvider.refund

    def spy(self: SandboxProvider, **kwargs: Any) -> str:
        refunds.append(kwargs["reference"])
        return original(self, **kwargs)

    with (
        pytest.MonkeyPatch.context() as patch,
        TestCase.captureOnCommitCallbacks(execute=True),
    ):
        patch.setattr(SandboxProvider, "refund", spy)
        # The refund is asked of the provider after the notification commits.
        late = signed(captured_body(first.provider_reference), "msg_late")
    assert late.json() == {"outcome": "late_capture"}
    assert refunds == [first.provider_reference]
    assert Payment.objects.filter(order=order, status="captured").count() == 1


def test_cancelling_the_order_voids_a_payment_in_progress(world: World) -> None:
    order = place(world)
    payment = Payment.objects.get(id=pay(world, order, "tok_3ds").json()["id"])
    order_cancel(order_id=order.id, actor_id=None, reason="changed my mind")
    payment.refresh_from_db()
    assert payment.status == "voided"
    assert LedgerTransaction.objects.count() == 0


def test_the_sandbox_posts_to_the_public_url_when_one_is_set(
    world: World, settings: Any, django_capture_on_commit_callbacks: Capture, monkeypatch: Any
) -> None:
    settings.AMUR = {**settings.AMUR, "PUBLIC_BASE_URL": "https://amur.example"}
    posted: list[str] = []

    class Answer:
        def __init__(self, response: Any) -> None:
            self.status_code = response.status_code
            self.text = response.content.decode()

    def post(url: str, *, data: bytes, headers: dict[str, str], timeout: float) -> Answer:
        # The outside world ends here: the post arrives at Amur's own endpoint.
        posted.append(url)
        path = url.removeprefix("https://amur.example")
        return Answer(
            APIClient().post(path, data, content_type="application/json", **meta(headers))
        )

    monkeypatch.setattr("commands.pay.requests.post", post)
    order = place(world)
    with django_capture_on_commit_callbacks(execute=True):
        pay(world, order, "tok_async_approve")
    assert posted == ["https://amur.example/api/v1/payments/webhooks/sandbox/"]
    assert Order.objects.get(id=order.id).status == "allocated"


def test_the_sweep_sends_what_was_not_delivered(world: World) -> None:
    order = place(world)
    # Without on-commit callbacks running, the notification stays owed.
    pay(world, order, "tok_async_approve")
    dispatch = SandboxDispatch.objects.get()
    assert dispatch.delivered_at is None
    SandboxDispatch.objects.update(created_at=dispatch.created_at.replace(year=2020))

    assert sandbox_notifications_sweep() == 1

    assert SandboxDispatch.objects.get().delivered_at is not None
    assert Order.objects.get(id=order.id).status == "allocated"
    assert sandbox_notifications_sweep() == 0

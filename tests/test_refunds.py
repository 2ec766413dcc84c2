"""Refunds: partial and full, through the provider or by bank transfer; the
operator API (permissions, bad input, idempotency); cancellation after
capture; capture racing cancellation on PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from commands.cancel import order_cancel
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from commands.scans import cash_collect as payment_cod_collect
from core.errors import ApplicationError
from core.models import IdempotencyKey
from orders.models import Order
from orders.services import Address
from payments.ledger import ledger_accounts_ensure
from payments.models import (
    LedgerEntry,
    LedgerTransaction,
    Payment,
    PaymentEvent,
    ProviderCall,
    Refund,
)
from payments.providers.sandbox import SandboxProvider
from tests.conftest import World, client_for
from tests.factories import MerchantStaffFactory, UserFactory

D = Decimal
ERROR_KEYS = {"code", "message", "fields"}


def place(world: World, *lines: tuple[str, int], method: str = "card") -> Order:
    return order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        address=Address(**world.address()),
        payment_method=method,
    )


def paid(world: World, *lines: tuple[str, int]) -> Payment:
    order = place(world, *(lines or (("TEA-0001", 2),)))
    return payment_card_charge(order_id=order.id, token="tok_approve", actor_id=world.buyer.user_id)


def refund_url(payment: Payment | int) -> str:
    payment_id = payment if isinstance(payment, int) else payment.id
    return f"/api/v1/ops/payments/{payment_id}/refund/"


@pytest.fixture
def operator(world: World) -> Any:
    return client_for(UserFactory.create(email="ops@amur.example", is_staff=True))


def counts() -> dict[str, int]:
    return {
        m.__name__: m._default_manager.count()
        for m in (Refund, PaymentEvent, LedgerTransaction, LedgerEntry, IdempotencyKey, Payment)
    }


def component_balances(payment: Payment) -> dict[tuple[str, int | None], Decimal]:
    out: dict[tuple[str, int | None], Decimal] = defaultdict(Decimal)
    for code, merchant_id, debit, credit in LedgerEntry.objects.filter(
        transaction__payment=payment
    ).values_list("account__code", "merchant_id", "debit", "credit"):
        out[(code, merchant_id)] += credit - debit
    return {k: v for k, v in out.items() if v}


def ledger_balanced() -> bool:
    rows = LedgerEntry.objects.values_list("transaction_id", "debit", "credit")
    per_txn: dict[int, Decimal] = defaultdict(Decimal)
    for txn, debit, credit in rows:
        per_txn[txn] += debit - credit
    return all(v == 0 for v in per_txn.values())


# --- partial and full ---------------------------------------------------------


def test_a_partial_then_a_full_refund(world: World, operator: Any) -> None:
    payment = paid(world)  # 2 teas: 2156.00 + shipping 572.00 = 2728.00 RUB
    assert payment.amount == D("2728.00")
    first = operator.post(
        refund_url(payment),
        {"amount": "500.00", "reason": "one tea arrived broken"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="r1",
    )
    assert first.status_code == 201, first.json()
    body = first.json()
    assert {k: body[k] for k in ("amount", "currency", "method", "reason")} == {
        "amount": "500.00",
        "currency": "RUB",
        "method": "card",
        "reason": "one tea arrived broken",
    }
    assert (body["payment_status"], body["payment_refunded_amount"]) == (
        "partially_refunded",
        "500.00",
    )
    assert body["order"] == payment.order.number and body["provider_reference"]
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("partially_refunded", D("500.00"))

    rest = operator.post(
        refund_url(payment), {"amount": "2228.00", "reason": "order returned"}, format="json"
    )
    assert rest.status_code == 201, rest.json()
    assert rest.json()["payment_status"] == "refunded"
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("refunded", D("2728.00"))
    refunds = list(payment.refunds.values_list("amount", "method", "provider_reference"))
    assert [(a, m) for a, m, _ref in refunds] == [(D("500.00"), "card"), (D("2228.00"), "card")]
    assert refunds[0][2] != refunds[1][2]  # one provider refund each
    events = list(payment.events.values_list("kind", "amount"))
    assert events == [
        ("created", D("2728.00")),
        ("captured", D("2728.00")),
        ("refunded", D("500.00")),
        ("refunded", D("2228.00")),
    ]
    operator_id = first.wsgi_request.user.pk
    assert set(payment.refunds.values_list("actor_id", flat=True)) == {operator_id}
    assert list(
        LedgerTransaction.objects.filter(payment=payment).values_list("kind", flat=True)
    ) == ["capture", "refund", "refund"]
    assert component_balances(payment) == {}  # everything given back
    # Nothing is left to refund.
    again = operator.post(refund_url(payment), {"amount": "0.01", "reason": "x"}, format="json")
    assert again.status_code == 422
    assert again.json()["code"] == "refund_exceeds_capture"


def test_a_refund_above_what_is_left_is_422_and_writes_nothing(world: World, operator: Any) -> None:
    payment = paid(world)
    assert (
        operator.post(
            refund_url(payment), {"amount": "728.00", "reason": "partial"}, format="json"
        ).status_code
        == 201
    )
    before = counts()
    response = operator.post(
        refund_url(payment),
        {"amount": "2000.01", "reason": "too much"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="over",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "refund_exceeds_capture"
    assert body["fields"] == {"amount": ["At most 2000.00 RUB can be refunded."]}
    assert body["refundable"] == {"amount": "2000.00", "currency": "RUB"}
    assert counts() == before
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("partially_refunded", D("728.00"))
    # The key was not spent on the failure: a corrected request may reuse it.
    ok = operator.post(
        refund_url(payment),
        {"amount": "2000.00", "reason": "too much"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="over",
    )
    assert ok.status_code == 201


def test_only_captured_payments_can_be_refunded(world: World, operator: Any) -> None:
    order = place(world, ("TEA-0001", 1))
    declined = payment_card_charge(order_id=order.id, token="tok_decline", actor_id=None)
    cod = Payment.objects.get(order=place(world, ("TEA-0001", 1), method="cod"))
    for payment in (declined, cod):
        before = counts()
        response = operator.post(
            refund_url(payment), {"amount": "1.00", "reason": "x"}, format="json"
        )
        assert response.status_code == 409
        assert response.json()["code"] == "payment_not_refundable"
        assert counts() == before


# --- permissions and input ------------------------------------------------------


def test_buyers_and_merchant_staff_may_not_refund(world: World) -> None:
    payment = paid(world)
    merchant_staff = MerchantStaffFactory.create(merchant=world.products[0].merchant).user
    before = counts()
    for user in (world.buyer.user, world.other_buyer.user, merchant_staff):
        response = client_for(user).post(
            refund_url(payment), {"amount": "1.00", "reason": "please"}, format="json"
        )
        assert response.status_code == 403, user
        assert set(response.json()) == ERROR_KEYS
        assert response.json()["code"] == "forbidden"
    anonymous = APIClient()
    assert (
        anonymous.post(
            refund_url(payment), {"amount": "1.00", "reason": "x"}, format="json"
        ).status_code
        == 401
    )
    assert counts() == before


BAD_BODIES = [
    ("empty", {}, "amount"),
    ("no reason", {"amount": "1.00"}, "reason"),
    ("blank reason", {"amount": "1.00", "reason": "   "}, "reason"),
    ("zero", {"amount": "0.00", "reason": "x"}, "amount"),
    ("negative", {"amount": "-5.00", "reason": "x"}, "amount"),
    ("a fraction of a kopek", {"amount": "1.005", "reason": "x"}, "amount"),
    ("not a number", {"amount": "lots", "reason": "x"}, "amount"),
    ("too large", {"amount": "1" + "0" * 15, "reason": "x"}, "amount"),
    ("unknown field", {"amount": "1.00", "reason": "x", "status": "refunded"}, "status"),
    ("reason too long", {"amount": "1.00", "reason": "x" * 301}, "reason"),
    (
        "a bank reference on a card refund",
        {"amount": "1.00", "reason": "x", "reference": "PP-1"},
        "reference",
    ),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES])
def test_bad_refund_input_is_400_in_one_shape_and_writes_nothing(
    world: World, operator: Any, case: str, body: dict[str, Any], field: str
) -> None:
    payment = paid(world)
    before = counts()
    response = operator.post(refund_url(payment), body, format="json", HTTP_IDEMPOTENCY_KEY=case)
    assert response.status_code == 400, response.json()
    payload = response.json()
    assert set(payload) == ERROR_KEYS
    assert field in payload["fields"], payload
    assert counts() == before
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("captured", D(0))


def test_malformed_json_and_unknown_payments(world: World, operator: Any) -> None:
    payment = paid(world)
    broken = operator.post(refund_url(payment), "{nope", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["code"] == "malformed_request"
    missing = operator.post(refund_url(999999), {"amount": "1.00", "reason": "x"}, format="json")
    assert missing.status_code == 404 and set(missing.json()) == ERROR_KEYS


def test_a_repeated_idempotency_key_refunds_once(world: World, operator: Any) -> None:
    payment = paid(world)
    body = {"amount": "100.00", "reason": "late delivery"}
    first = operator.post(refund_url(payment), body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    second = operator.post(refund_url(payment), body, format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert payment.refunds.count() == 1
    other = operator.post(
        refund_url(payment), {**body, "amount": "1.00"}, format="json", HTTP_IDEMPOTENCY_KEY="same"
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


# --- cash on delivery: a recorded bank transfer -----------------------------------


def test_a_cash_on_delivery_refund_is_a_recorded_bank_transfer(
    world: World, operator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_provider(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("a bank transfer does not call the card provider")

    monkeypatch.setattr(SandboxProvider, "refund", no_provider)
    order = place(world, ("TEA-0001", 1), method="cod")
    payment = Payment.objects.get(order=order)
    payment_cod_collect(order_id=order.id, amount=payment.amount, currency="RUB", courier_id=3)
    response = operator.post(
        refund_url(payment),
        {"amount": "400.00", "reason": "goodwill", "reference": "PP-2026-0042"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["method"], response.json()["provider_reference"]) == (
        "bank_transfer",
        "PP-2026-0042",
    )
    # Without a reference, one is generated for the transfer's purpose line.
    rest = operator.post(
        refund_url(payment), {"amount": "1101.50", "reason": "return"}, format="json"
    )
    assert rest.status_code == 201
    assert rest.json()["provider_reference"].startswith(order.number)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("refunded", D("1501.50"))
    balances = component_balances(payment)
    # The cash stays with the courier until handed in; the buyer is owed the transfer.
    assert balances == {
        ("courier_cash_in_hand", None): D("-1501.50"),
        ("refunds_payable", None): D("1501.50"),
    }


# --- cancellation after capture ---------------------------------------------------


def test_cancelling_a_captured_order_refunds_it_in_full_with_ledger_entries(
    world: World,
) -> None:
    payment = paid(world, ("TEA-0001", 1), ("PHONE-0003", 1))
    order = Order.objects.get(id=payment.order_id)
    assert order.status == "allocated"
    order_cancel(order_id=order.id, actor_id=world.buyer.user_id, reason="changed my mind")
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("refunded", payment.amount)
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.method, refund.reason, refund.actor_id) == (
        payment.amount,
        "card",
        "changed my mind",
        world.buyer.user_id,
    )
    assert payment.events.filter(kind="refunded", amount=payment.amount).count() == 1
    assert list(
        LedgerTransaction.objects.filter(payment=payment).values_list("kind", flat=True)
    ) == ["capture", "refund"]
    assert component_balances(payment) == {}
    assert ledger_balanced()


def test_cancelling_after_a_partial_refund_refunds_the_rest(world: World) -> None:
    from commands.refunds import payment_refund

    payment = paid(world)
    payment_refund(payment_id=payment.id, amount=D("9.99"), reason="dent", actor_id=None)
    order_cancel(order_id=payment.order_id, actor_id=None)
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("refunded", D("2728.00"))
    assert list(payment.refunds.values_list("amount", flat=True)) == [D("9.99"), D("2718.01")]
    assert component_balances(payment) == {}


def test_cancelling_an_unpaid_order_posts_nothing(world: World) -> None:
    order = place(world, ("TEA-0001", 1))
    order_cancel(order_id=order.id, actor_id=None)
    assert LedgerTransaction.objects.count() == 0 and Refund.objects.count() == 0


# --- capture racing cancellation (PostgreSQL) ---------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_capture_racing_cancellation_ends_in_one_consistent_state(world: World) -> None:
    """Two threads, one paying and one cancelling the same pending order, many
    times over. Either the payment lands first and the cancellation refunds it
    in full, or the cancellation lands first and the payment is refused before
    the card is charged; never a captured payment on a cancelled order."""
    ledger_accounts_ensure()  # the chart is flushed between transactional tests
    outcomes = [race(place(world, ("TEA-0001", 1)).id) for _ in range(12)]
    assert not Payment.objects.filter(
        order__status="cancelled", status__in=["captured", "partially_refunded"]
    ).exists()
    assert ledger_balanced()
    print("race outcomes:", {o: outcomes.count(o) for o in set(outcomes)})


def race(order_id: int) -> str:
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def pay() -> Any:
        return payment_card_charge(order_id=order_id, token="tok_approve", actor_id=None)

    def cancel() -> Any:
        return order_cancel(order_id=order_id, actor_id=None, reason="race")

    def run(name: str, work: Any) -> None:
        try:
            barrier.wait()
            time.sleep(random.uniform(0, 0.01))
            results[name] = work()
        except ApplicationError as error:
            results[name] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=a) for a in (("pay", pay), ("cancel", cancel))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    assert isinstance(results.get("cancel"), Order), results  # a cancellation always goes through
    assert Order.objects.get(id=order_id).status == "cancelled"
    payments = list(Payment.objects.filter(order_id=order_id))
    if isinstance(results.get("pay"), ApplicationError):
        # Cancelled first: refused before the card is charged; nothing posted.
        assert results["pay"].code == "order_not_payable"
        assert payments == []
        assert not LedgerTransaction.objects.filter(order_id=order_id).exists()
        return "cancelled unpaid"
    assert isinstance(results.get("pay"), Payment), results
    [payment] = payments
    if payment.status == "voided":
        # The attempt was written first, the cancellation voided it before the
        # provider answered: the capture that came back is refunded at once,
        # and nothing was ever posted.
        calls = ProviderCall.objects.filter(payment=payment).order_by("id")
        assert [(c.kind, c.status) for c in calls] == [("charge", "done"), ("refund", "done")]
        assert not LedgerTransaction.objects.filter(order_id=order_id).exists()
        return "voided in flight, late capture refunded"
    # Paid first: the cancellation refunded the whole capture.
    assert (payment.status, payment.refunded_amount) == ("refunded", payment.amount)
    kinds = LedgerTransaction.objects.filter(payment=payment).values_list("kind", flat=True)
    assert list(kinds) == ["capture", "refund"]
    assert component_balances(payment) == {}
    return "paid then refunded"

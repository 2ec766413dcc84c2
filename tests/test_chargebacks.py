"""Card chargebacks: the card's bank takes a captured payment back, reported by
the provider's signed notification `payment.charged_back`."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from django.db.models import Sum

from commands.refunds import payment_refund
from commands.tasks import sandbox_notification_deliver
from core.errors import Conflict
from notifications.services import subscription_create
from orders.models import Order
from payments.chargebacks import payment_chargeback
from payments.models import LedgerEntry, LedgerTransaction, Payment, PaymentEvent, Refund
from payments.providers.sandbox import sandbox_chargeback_notify
from payments.receipts.models import Receipt
from payments.receipts.payloads import receipt_problems
from payments.receipts.services import receipts_send
from tests.conftest import World
from tests.factories import MerchantStaffFactory
from tests.receiver import webhook_receiver
from tests.test_providers import pay, place, signed, written


def captured_payment(world: World) -> Payment:
    order = place(world)
    return Payment.objects.get(id=pay(world, order, "tok_approve").json()["id"])


def chargeback_body(payment: Payment, amount: D, reference: str = "cb_1") -> dict[str, Any]:
    return {
        "type": "payment.charged_back",
        "data": {
            "reference": payment.provider_reference,
            "status": "charged_back",
            "decline_code": "",
            "amount": str(amount),
            "currency": payment.currency,
            "chargeback_reference": reference,
            "reason": "fraud: card holder does not recognise the payment",
        },
    }


def balance(code: str, **filters: Any) -> D:
    """credit - debit of an account."""
    sums = LedgerEntry.objects.filter(account__code=code, **filters).aggregate(
        d=Sum("debit"), c=Sum("credit")
    )
    return (sums["c"] or D(0)) - (sums["d"] or D(0))


def every_transaction_balances() -> bool:
    for txn in LedgerTransaction.objects.all():
        entries = list(txn.entries.all())
        if sum(e.debit for e in entries) != sum(e.credit for e in entries):
            return False
    return True


def test_a_signed_chargeback_takes_a_captured_payment_back(world: World) -> None:
    payment = captured_payment(world)
    merchant_id = world.products[0].merchant_id
    held = balance("merchant_payable", merchant_id=merchant_id)
    assert held > 0

    response = signed(chargeback_body(payment, payment.amount), "msg_cb")

    assert response.status_code == 200 and response.json() == {"outcome": "charged_back"}
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("charged_back", payment.amount)
    refund = Refund.objects.get(payment=payment)
    assert (refund.method, refund.amount, refund.provider_reference) == (
        "chargeback",
        payment.amount,
        "cb_1",
    )
    assert refund.reason == "chargeback: fraud: card holder does not recognise the payment"
    # The money is back on the buyer's card: a refund receipt of its own,
    # for the payment's items, settled cashless.
    receipt = Receipt.objects.get(payment=payment, kind="refund")
    paid = Receipt.objects.get(payment=payment, kind="payment")
    assert (receipt.refund_id, receipt.channel, receipt.amount, receipt.status) == (
        refund.id,
        "own",
        payment.amount,
        "pending",
    )
    assert receipt.payload == {
        "type": "refund",
        "send": True,
        "customer": paid.payload["customer"],
        "items": paid.payload["items"],
        "tax_system_code": paid.payload["tax_system_code"],
        "settlements": [
            {"type": "cashless", "amount": {"value": str(payment.amount), "currency": "RUB"}}
        ],
    }
    # The sweep sends it on its own (and asks after the payment's, which
    # this test's transaction never confirmed); the provider registers both.
    assert receipts_send() == 2
    assert list(
        Receipt.objects.filter(payment=payment).order_by("id").values_list("kind", "status")
    ) == [("payment", "succeeded"), ("refund", "succeeded")]
    assert list(payment.events.values_list("kind", flat=True)) == [
        "created",
        "captured",
        "charged_back",
    ]
    kinds = LedgerTransaction.objects.filter(payment=payment).order_by("id")
    assert list(kinds.values_list("kind", flat=True)) == ["capture", "chargeback"]
    assert every_transaction_balances()
    chargeback = kinds.get(kind="chargeback")
    # The merchant's whole share comes off its payable, the acquirer takes the total.
    assert chargeback.entries.get(account__code="merchant_payable").debit == held
    assert chargeback.entries.get(account__code="buyer_payments_in_transit").credit == (
        payment.amount
    )
    assert balance("merchant_payable", merchant_id=merchant_id) == D("0.00")
    assert balance("buyer_payments_in_transit") == D("0.00")
    # The order is left as it was; nothing captured is left to refund.
    assert Order.objects.get(id=payment.order_id).status == "allocated"
    with pytest.raises(Conflict) as refused:
        payment_refund(payment_id=payment.id, amount=D("1.00"), reason="late", actor_id=None)
    assert refused.value.code == "payment_not_refundable"


def test_the_same_chargeback_twice_changes_nothing_the_second_time(world: World) -> None:
    payment = captured_payment(world)
    assert signed(chargeback_body(payment, payment.amount), "msg_cb").status_code == 200
    before = written()
    refunds = Refund.objects.count()

    again = signed(chargeback_body(payment, payment.amount), "msg_cb")
    # The provider may resend the same chargeback under a new message id.
    resent = signed(chargeback_body(payment, payment.amount), "msg_cb_resent")
    direct = payment_chargeback(
        payment_id=payment.id,
        amount=payment.amount,
        reason="again",
        provider_reference="cb_1",
        actor_id=None,
    )

    assert again.json() == {"outcome": "duplicate"}
    assert resent.status_code == 200 and resent.json() == {"outcome": "unchanged"}
    assert direct == Refund.objects.get(payment=payment)
    assert (written(), Refund.objects.count()) == (before, refunds)
    # Another chargeback of a payment already charged back is refused.
    other = signed(chargeback_body(payment, payment.amount, reference="cb_2"), "msg_cb_2")
    assert other.status_code == 409 and other.json()["code"] == "payment_not_chargeable"
    assert (written(), Refund.objects.count()) == (before, refunds)


@pytest.mark.parametrize("token", ["tok_decline", "tok_3ds"])
def test_a_chargeback_of_a_payment_not_captured_is_refused_and_writes_nothing(
    world: World, token: str
) -> None:
    order = place(world)
    pay(world, order, token)
    payment = Payment.objects.get(order=order)
    before = written()

    response = signed(chargeback_body(payment, payment.amount), "msg_cb")

    assert response.status_code == 409
    assert response.json()["code"] == "payment_not_chargeable"
    assert written() == before and Refund.objects.count() == 0
    assert Payment.objects.get(id=payment.id).status == payment.status


def test_a_chargeback_of_a_refunded_payment_is_refused(world: World) -> None:
    payment = captured_payment(world)
    payment_refund(payment_id=payment.id, amount=payment.amount, reason="returned", actor_id=None)
    before = written()

    response = signed(chargeback_body(payment, payment.amount), "msg_cb")

    assert response.status_code == 409 and written() == before
    assert Payment.objects.get(id=payment.id).status == "refunded"


def test_a_chargeback_after_a_partial_refund_takes_only_the_remainder(world: World) -> None:
    payment = captured_payment(world)
    merchant_id = world.products[0].merchant_id
    payment_refund(payment_id=payment.id, amount=D("300.00"), reason="damaged", actor_id=None)

    # The bank reports the whole payment; only what is still captured is taken.
    response = signed(chargeback_body(payment, payment.amount), "msg_cb")

    assert response.json() == {"outcome": "charged_back"}
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("charged_back", payment.amount)
    chargeback = Refund.objects.get(payment=payment, method="chargeback")
    assert chargeback.amount == payment.amount - D("300.00")
    event = payment.events.get(kind=PaymentEvent.Kind.CHARGED_BACK)
    assert (event.amount, event.data["reported_amount"]) == (chargeback.amount, str(payment.amount))
    assert list(
        LedgerTransaction.objects.filter(payment=payment).values_list("kind", flat=True)
    ) == ["capture", "refund", "chargeback"]
    assert every_transaction_balances()
    assert balance("merchant_payable", merchant_id=merchant_id) == D("0.00")
    assert balance("buyer_payments_in_transit") == D("0.00")
    # Two refund receipts, each for its own money, items adding up to it.
    refunds = Receipt.objects.filter(payment=payment, kind="refund").order_by("id")
    assert [(r.amount, r.channel) for r in refunds] == [
        (D("300.00"), "with_refund"),
        (chargeback.amount, "own"),
    ]
    for receipt in refunds:
        assert receipt_problems(receipt.payload, amount=receipt.amount) == []


def test_a_chargeback_for_less_than_remains_takes_what_the_bank_reported(world: World) -> None:
    payment = captured_payment(world)
    merchant_id = world.products[0].merchant_id
    held = balance("merchant_payable", merchant_id=merchant_id)

    refund = payment_chargeback(
        payment_id=payment.id,
        amount=D("100.00"),
        reason="not as described",
        provider_reference="cb_part",
        actor_id=None,
    )

    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount, refund.amount) == (
        "charged_back",
        D("100.00"),
        D("100.00"),
    )
    assert every_transaction_balances()
    assert balance("buyer_payments_in_transit") == -(payment.amount - D("100.00"))
    assert D(0) < balance("merchant_payable", merchant_id=merchant_id) < held


def test_the_sandbox_delivers_its_own_chargeback_notification(world: World) -> None:
    payment = captured_payment(world)
    dispatch = sandbox_chargeback_notify(
        reference=payment.provider_reference,
        amount=payment.amount,
        currency=payment.currency,
        reason="fraud",
    )

    sandbox_notification_deliver(dispatch.id)

    dispatch.refresh_from_db()
    assert dispatch.delivered_at is not None and dispatch.last_error == ""
    payment.refresh_from_db()
    assert payment.status == "charged_back"
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.reason) == (payment.amount, "chargeback: fraud")


def test_a_chargeback_notification_without_its_amount_is_rejected(world: World) -> None:
    payment = captured_payment(world)
    body = chargeback_body(payment, payment.amount)
    del body["data"]["amount"]
    before = written()

    response = signed(body, "msg_cb")

    assert response.status_code == 400
    assert response.json()["code"] == "notification_rejected"
    assert written() == before


def test_a_chargeback_is_pushed_to_the_merchants_staff_only(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    payment = captured_payment(world)  # one tea: the first product's merchant
    mine = MerchantStaffFactory.create(merchant=world.products[0].merchant).user
    theirs = MerchantStaffFactory.create(merchant=world.products[1].merchant).user
    with webhook_receiver() as my_hooks, webhook_receiver() as their_hooks:
        subscription_create(owner_id=mine.id, url=my_hooks.url, event_types=[])
        subscription_create(owner_id=theirs.id, url=their_hooks.url, event_types=[])
        with django_capture_on_commit_callbacks(execute=True):
            response = signed(chargeback_body(payment, D("50.00"), "cb_9"), "msg_cb9")
        mine_bodies, theirs_bodies = my_hooks.bodies(), their_hooks.bodies()

    assert response.status_code == 200
    assert theirs_bodies == []
    assert [(b["type"], b["subject"], b["data"]) for b in mine_bodies] == [
        (
            "payment.charged_back",
            f"payment:{payment.id}",
            {
                "order": payment.order.number,
                "payment": payment.id,
                "amount": {"amount": "50.00", "currency": "RUB"},
                "reported": {"amount": "50.00", "currency": "RUB"},
                "reference": "cb_9",
                "reason": "chargeback: fraud: card holder does not recognise the payment",
            },
        )
    ]

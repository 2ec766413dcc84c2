"""54-FZ receipts: the payloads YooKassa gets for a card order, a partial
refund and the handover (checked by tests/yookassa_server.py as YooKassa
would; an SBP order's are in tests/test_sbp.py), cash on delivery through
the sandbox, the retries until the provider confirms, and the buyer's and
operators' views."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.test import Client, TestCase
from django.utils import timezone

from accounts.models import Courier
from catalogue.models import Merchant
from commands.pack import order_pack
from commands.place import order_place
from commands.quote import LineRequest
from orders.models import Order, OrderLine
from orders.services import Address
from payments.models import Payment, Refund
from payments.receipts.models import Receipt
from payments.receipts.payloads import receipt_problems
from payments.receipts.services import receipts_send
from shipping.tracking.models import TrackingEvent
from tests.conftest import World, client_for
from tests.factories import UserFactory
from tests.test_cod import cash, post_scans, scan, yesterday_at
from tests.test_yookassa import notify
from tests.yookassa_server import FakeYooKassa, receipt_error, yookassa_for

SUPPLIER_INN = "7707083893"  # a published valid company INN (check digit 3)
SUPPLIER_PHONE = "+8645187654321"


@pytest.fixture
def yookassa(settings: Any) -> Iterator[FakeYooKassa]:
    with yookassa_for(settings) as fake:
        yield fake


def supplier_details(world: World) -> Merchant:
    """The tea's merchant with the phone and INN its receipts print."""
    merchant = world.products[0].merchant
    Merchant.objects.filter(id=merchant.id).update(phone=SUPPLIER_PHONE, inn=SUPPLIER_INN)
    merchant.refresh_from_db()
    return merchant


@pytest.fixture
def merchant(world: World) -> Merchant:
    return supplier_details(world)


def place(world: World, method: str = "card", quantity: int = 1) -> Order:
    return order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", quantity)],
        address=Address(**world.address()),
        payment_method=method,
    )


def pay(world: World, order: Order, **body: Any) -> Any:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client_for(world.buyer.user).post(
            f"/api/v1/orders/{order.number}/pay/", body or {"token": "yk-token"}, format="json"
        )


def goods_item(merchant: Merchant, value: str, mode: str, quantity: str = "1.0") -> dict[str, Any]:
    return {
        "description": line_name(),
        "quantity": quantity,
        "amount": {"value": value, "currency": "RUB"},
        "vat_code": 1,
        "payment_mode": mode,
        "payment_subject": "commodity",
        "agent_type": "commissioner",
        "supplier": {"name": merchant.name, "phone": "8645187654321", "inn": SUPPLIER_INN},
    }


def line_name() -> str:
    """The one good's name as its order line has it (the product's Russian name)."""
    (name,) = set(OrderLine.objects.values_list("name", flat=True))
    return str(name)


def shipping_item(value: str, mode: str) -> dict[str, Any]:
    return {
        "description": "Доставка",
        "quantity": "1.0",
        "amount": {"value": value, "currency": "RUB"},
        "vat_code": 1,
        "payment_mode": mode,
        "payment_subject": "service",
    }


def customer(world: World) -> dict[str, str]:
    return {"email": world.buyer.user.email, "phone": "79221234567"}


def captured_by_yookassa(world: World, yookassa: FakeYooKassa, order: Order) -> Payment:
    response = pay(world, order)
    assert response.status_code == 202, response.json()
    payment = Payment.objects.get(id=response.json()["id"])
    yookassa.confirm(payment.provider_reference)
    assert notify("payment.waiting_for_capture", payment.provider_reference).status_code == 200
    payment.refresh_from_db()
    assert payment.status == "captured"
    return payment


def delivered(world: World, order: Order, courier: Courier) -> None:
    (parcel,) = order_pack(order_id=order.id)
    TrackingEvent.objects.filter(parcel=parcel).update(
        occurred_at=timezone.now() - timedelta(days=3)
    )
    _day, at = yesterday_at(15)
    post_scans(courier, scan(parcel, "delivered", at, f"dl-{order.number}"))
    assert Order.objects.get(id=order.id).status == "delivered"


# --- a card order ----------------------------------------------------------------


def test_a_card_order_sends_its_prepayment_receipt_with_the_payment(
    world: World, yookassa: FakeYooKassa, merchant: Merchant
) -> None:
    order = place(world)
    payment = captured_by_yookassa(world, yookassa, order)

    expected = {
        "customer": customer(world),
        "items": [
            goods_item(merchant, "1078.00", "full_prepayment"),
            shipping_item("423.50", "full_prepayment"),
        ],
        "tax_system_code": 1,
    }
    (sent,) = yookassa.sent("/v3/payments")
    assert sent["receipt"] == expected
    assert sent["capture"] is False and sent["payment_token"] == "yk-token"
    receipt = Receipt.objects.get()
    assert receipt.payload == expected
    (registered,) = yookassa.receipts_of(payment_id=payment.provider_reference)
    # Captured, registered at YooKassa and read back by the task the
    # capture's commit enqueued.
    assert (receipt.kind, receipt.status, receipt.provider_id) == (
        "payment",
        "succeeded",
        registered["id"],
    )
    assert (receipt.amount, receipt.payment_id, receipt.order_id) == (
        Decimal("1501.50"),
        payment.id,
        order.id,
    )
    assert receipt.registered_at is not None


def test_a_receipt_is_asked_about_until_the_provider_registers_it(
    world: World, yookassa: FakeYooKassa, merchant: Merchant
) -> None:
    yookassa.hold_receipts = True
    order = place(world)
    payment = captured_by_yookassa(world, yookassa, order)
    receipt = Receipt.objects.get()
    assert (receipt.status, receipt.attempts) == ("pending", 2)  # after the pay, the capture
    assert receipt.next_attempt_at > timezone.now()
    asked = len([p for p in yookassa.paths("GET") if p.startswith("/v3/receipts?")])

    Receipt.objects.update(next_attempt_at=timezone.now())
    assert receipts_send() == 0
    receipt.refresh_from_db()
    assert (receipt.status, receipt.attempts) == ("pending", 3)

    yookassa.receipts_register()
    assert receipts_send() == 0  # not due yet: backing off
    Receipt.objects.update(next_attempt_at=timezone.now())
    assert receipts_send() == 1
    receipt.refresh_from_db()
    (registered,) = yookassa.receipts_of(payment_id=payment.provider_reference)
    assert (receipt.status, receipt.provider_id) == ("succeeded", registered["id"])
    assert len([p for p in yookassa.paths("GET") if p.startswith("/v3/receipts?")]) == asked + 2
    # Settled: the sweep leaves it alone.
    Receipt.objects.update(next_attempt_at=timezone.now())
    assert receipts_send() == 0
    assert Receipt.objects.get().attempts == 4


def test_a_receipt_line_that_does_not_divide_by_its_quantity_is_two_lines(
    world: World, yookassa: FakeYooKassa, merchant: Merchant
) -> None:
    from tests.factories import rates_today

    rates_today(cny="11.1111")
    order = place(world, quantity=3)
    goods = order.goods_rub
    assert goods == Decimal("3266.66")  # 294 CNY at 11.1111, to the kopek
    response = pay(world, order)
    assert response.status_code == 202, response.json()

    (sent,) = yookassa.sent("/v3/payments")
    assert sent["receipt"]["items"][:2] == [
        goods_item(merchant, "1088.88", "full_prepayment", "1.0"),
        goods_item(merchant, "1088.89", "full_prepayment", "2.0"),
    ]
    assert sent["receipt"]["items"][2] == shipping_item(
        f"{order.shipping_rub:.2f}", "full_prepayment"
    )
    assert sent["amount"] == {"value": f"{order.total_rub:.2f}", "currency": "RUB"}


def test_a_partial_refund_sends_its_share_of_each_line(
    world: World, yookassa: FakeYooKassa, merchant: Merchant
) -> None:
    order = place(world)
    payment = captured_by_yookassa(world, yookassa, order)
    operator = client_for(UserFactory.create(email="ops@amur.example", is_staff=True))

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = operator.post(
            f"/api/v1/ops/payments/{payment.id}/refund/",
            {"amount": "100.00", "reason": "dented tin"},
            format="json",
        )
    assert response.status_code == 201, response.json()

    # 100.00 of 1,501.50 shared by each line's sum: 71.79 of the tea, 28.21 of
    # the shipping (the odd kopek to the line furthest below its exact share).
    expected = {
        "customer": customer(world),
        "items": [
            goods_item(merchant, "71.79", "full_prepayment"),
            shipping_item("28.21", "full_prepayment"),
        ],
        "tax_system_code": 1,
    }
    (sent,) = yookassa.sent("/v3/refunds")
    assert sent["receipt"] == expected
    assert sent["amount"] == {"value": "100.00", "currency": "RUB"}
    refund = Refund.objects.get()
    receipt = Receipt.objects.get(kind="refund")
    (registered,) = yookassa.receipts_of(refund_id=refund.provider_reference)
    assert (receipt.payload, receipt.status, receipt.provider_id) == (
        expected,
        "succeeded",
        registered["id"],
    )
    assert (receipt.refund_id, receipt.amount) == (refund.id, Decimal("100.00"))

    # The rest refunded: what is left of each line, the tea whole again.
    with TestCase.captureOnCommitCallbacks(execute=True):
        operator.post(
            f"/api/v1/ops/payments/{payment.id}/refund/",
            {"amount": "1401.50", "reason": "lost"},
            format="json",
        )
    assert yookassa.sent("/v3/refunds")[1]["receipt"]["items"] == [
        goods_item(merchant, "1006.21", "full_prepayment"),
        shipping_item("395.29", "full_prepayment"),
    ]


def test_the_handover_sends_a_settlement_receipt_once(
    world: World, yookassa: FakeYooKassa, merchant: Merchant, courier: Courier
) -> None:
    order = place(world)
    payment = captured_by_yookassa(world, yookassa, order)
    delivered(world, order, courier)

    assert receipts_send() == 1

    expected = {
        "type": "payment",
        "payment_id": payment.provider_reference,
        "send": True,
        "customer": customer(world),
        "items": [
            goods_item(merchant, "1078.00", "full_payment"),
            shipping_item("423.50", "full_payment"),
        ],
        "settlements": [{"type": "prepayment", "amount": {"value": "1501.50", "currency": "RUB"}}],
        "tax_system_code": 1,
    }
    (sent,) = yookassa.sent("/v3/receipts")
    assert sent == expected
    settlement = Receipt.objects.get(kind="settlement")
    assert (settlement.payload, settlement.status) == (expected, "succeeded")
    assert (
        settlement.provider_id
        == yookassa.receipts_of(payment_id=payment.provider_reference)[-1]["id"]
    )

    Receipt.objects.update(next_attempt_at=timezone.now())
    assert receipts_send() == 0
    assert len(yookassa.sent("/v3/receipts")) == 1
    assert Receipt.objects.filter(kind="settlement").count() == 1


# --- cash on delivery --------------------------------------------------------------


def test_cash_collected_on_delivery_gets_a_full_payment_receipt(
    world: World, merchant: Merchant, courier: Courier
) -> None:
    order = place(world, method="cod")
    (parcel,) = order_pack(order_id=order.id)
    TrackingEvent.objects.filter(parcel=parcel).update(
        occurred_at=timezone.now() - timedelta(days=3)
    )
    _day, at = yesterday_at(15)
    post_scans(courier, scan(parcel, "delivered", at, "dl-1"), cash(parcel, at, "c-1", "1501.50"))

    receipt = Receipt.objects.get()
    assert receipt.payload == {
        "type": "payment",
        "send": True,
        "customer": customer(world),
        "items": [
            goods_item(merchant, "1078.00", "full_payment"),
            shipping_item("423.50", "full_payment"),
        ],
        "settlements": [{"type": "cash", "amount": {"value": "1501.50", "currency": "RUB"}}],
        "tax_system_code": 1,
    }
    assert (receipt.kind, receipt.channel, receipt.provider, receipt.status) == (
        "payment",
        "own",
        "sandbox",
        "succeeded",
    )
    assert receipt.provider_id.startswith("sbx_rc_")
    # Delivered and paid at once: no settlement receipt follows.
    assert receipts_send() == 0
    assert Receipt.objects.count() == 1


# --- what YooKassa refuses ---------------------------------------------------------


def test_the_local_yookassa_refuses_what_yookassa_would() -> None:
    good = {
        "customer": {"email": "a@example.ru"},
        "items": [
            {
                "description": "Чай",
                "quantity": "1.0",
                "amount": {"value": "10.00", "currency": "RUB"},
                "vat_code": 1,
                "payment_mode": "full_prepayment",
                "payment_subject": "commodity",
            }
        ],
        "tax_system_code": 1,
    }
    item = good["items"][0]  # type: ignore[index]
    assert receipt_error(good, 1000) == ""
    assert receipt_error({**good, "customer": {}}, 1000) == (
        "Receipt customer must have an email or a phone"
    )
    assert receipt_error({**good, "items": [{**item, "description": "я" * 129}]}, 1000) == (
        "receipt.items[0].description must have 1 to 128 characters"
    )
    assert receipt_error({**good, "items": [{**item, "agent_type": "commissioner"}]}, 1000) == (
        "receipt.items[0].supplier.name is required with agent_type"
    )
    assert receipt_error(good, 1001) == "Receipt items do not add up to the amount"
    assert receipt_error(None, 1000) == "Receipt is missing or illegal"
    # Amur's own check (the sandbox's) finds the same.
    assert receipt_problems({**good, "customer": {}}, amount=Decimal("10.00")) == [
        "customer: an e-mail or a phone is required"
    ]


def test_a_long_name_is_cut_to_128_characters_and_accepted(
    world: World, yookassa: FakeYooKassa, merchant: Merchant
) -> None:
    name = "Пуэр " + "выдержанный " * 12
    assert len(name) > 128
    world.products[0].__class__.objects.filter(id=world.products[0].id).update(name_ru=name)
    order = place(world)
    assert pay(world, order).status_code == 202
    (sent,) = yookassa.sent("/v3/payments")
    assert sent["receipt"]["items"][0]["description"] == name[:128]


def test_an_order_with_no_contact_for_its_receipt_is_not_charged(
    world: World, yookassa: FakeYooKassa, merchant: Merchant
) -> None:
    order = place(world)
    world.buyer.user.__class__.objects.filter(id=world.buyer.user_id).update(email="")
    type(world.buyer).objects.filter(id=world.buyer.id).update(phone="")
    Order.objects.filter(id=order.id).update(recipient_phone="")
    response = pay(world, order)
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["problems"]) == (
        "receipt_not_possible",
        ["customer: an e-mail or a phone is required"],
    )
    assert yookassa.payments == {}
    assert not Payment.objects.exists() and not Receipt.objects.exists()


# --- the buyer's and operators' views -----------------------------------------------


def test_the_buyer_reads_the_orders_receipts(
    world: World, yookassa: FakeYooKassa, merchant: Merchant, django_assert_num_queries: Any
) -> None:
    order = place(world)
    payment = captured_by_yookassa(world, yookassa, order)
    receipt = Receipt.objects.get()
    client = client_for(world.buyer.user)
    url = f"/api/v1/orders/{order.number}/receipts/"

    with django_assert_num_queries(3):  # token, the order's id, its receipts
        response = client.get(url)

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": receipt.id,
            "kind": "payment",
            "status": "succeeded",
            "payment": payment.id,
            "refund": None,
            "amount": "1501.50",
            "currency": "RUB",
            "provider": "yookassa",
            "provider_id": receipt.provider_id,
            "payload": receipt.payload,
            "created_at": response.json()[0]["created_at"],
            "registered_at": response.json()[0]["registered_at"],
        }
    ]
    assert client_for(world.other_buyer.user).get(url).status_code == 404


def test_operators_see_receipts_in_the_admin(
    world: World, yookassa: FakeYooKassa, merchant: Merchant
) -> None:
    order = place(world)
    captured_by_yookassa(world, yookassa, order)
    operator = UserFactory.create(email="root@amur.example", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(operator)

    page = client.get("/admin/payments/receipt/")

    assert page.status_code == 200
    assert order.number in page.content.decode()
    assert site.is_registered(Receipt)

    # A receipt waiting out its backoff is asked about at once from the admin.
    Receipt.objects.update(status="pending", next_attempt_at=timezone.now() + timedelta(hours=1))
    with TestCase.captureOnCommitCallbacks(execute=True):
        done = client.post(
            "/admin/payments/receipt/",
            {"action": "send_again", "_selected_action": [Receipt.objects.get().id]},
        )
    assert done.status_code == 302
    assert Receipt.objects.get().status == "succeeded"


# --- refunds around the handover, late money, cash refunds -----------------------------


def refund(payment: Payment, amount: str) -> Any:
    operator = client_for(UserFactory.create(email="ops@amur.example", is_staff=True))
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = operator.post(
            f"/api/v1/ops/payments/{payment.id}/refund/",
            {"amount": amount, "reason": "returned"},
            format="json",
        )
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_settlement_after_a_partial_refund_credits_what_is_left(
    world: World, yookassa: FakeYooKassa, merchant: Merchant, courier: Courier
) -> None:
    order = place(world)
    payment = captured_by_yookassa(world, yookassa, order)
    refund(payment, "100.00")
    delivered(world, order, courier)

    assert receipts_send() == 1

    (sent,) = yookassa.sent("/v3/receipts")
    assert sent["items"] == [
        goods_item(merchant, "1006.21", "full_payment"),
        shipping_item("395.29", "full_payment"),
    ]
    assert sent["settlements"] == [
        {"type": "prepayment", "amount": {"value": "1401.50", "currency": "RUB"}}
    ]
    assert Receipt.objects.get(kind="settlement").amount == Decimal("1401.50")


def test_a_refund_after_the_handover_returns_a_full_payment(
    world: World, yookassa: FakeYooKassa, merchant: Merchant, courier: Courier
) -> None:
    order = place(world)
    payment = captured_by_yookassa(world, yookassa, order)
    delivered(world, order, courier)
    receipts_send()

    refund(payment, "100.00")

    (sent,) = yookassa.sent("/v3/refunds")
    assert sent["receipt"]["items"] == [
        goods_item(merchant, "71.79", "full_payment"),
        shipping_item("28.21", "full_payment"),
    ]
    assert list(Receipt.objects.values_list("kind", "status")) == [
        ("payment", "succeeded"),
        ("settlement", "succeeded"),
        ("refund", "succeeded"),
    ]


def test_cash_refunded_by_bank_transfer_gets_its_refund_receipt(
    world: World, merchant: Merchant, courier: Courier
) -> None:
    order = place(world, method="cod")
    (parcel,) = order_pack(order_id=order.id)
    TrackingEvent.objects.filter(parcel=parcel).update(
        occurred_at=timezone.now() - timedelta(days=3)
    )
    _day, at = yesterday_at(15)
    post_scans(courier, scan(parcel, "delivered", at, "dl-1"), cash(parcel, at, "c-1", "1501.50"))
    payment = Payment.objects.get(order=order)

    answer = refund(payment, "1501.50")

    receipt = Receipt.objects.get(kind="refund")
    assert receipt.payload == {
        "type": "refund",
        "send": True,
        "customer": customer(world),
        "items": [
            goods_item(merchant, "1078.00", "full_payment"),
            shipping_item("423.50", "full_payment"),
        ],
        "tax_system_code": 1,
        "settlements": [{"type": "cash", "amount": {"value": "1501.50", "currency": "RUB"}}],
    }
    assert (receipt.refund_id, receipt.provider, receipt.status) == (
        answer["id"],
        "sandbox",
        "succeeded",
    )


def test_shares_by_weight_add_up_and_give_odd_units_to_the_largest_remainders() -> None:
    from payments.splits import shares_by_weight

    assert shares_by_weight(
        total=100, weights={"a": Decimal(1), "b": Decimal(1), "c": Decimal(1)}
    ) == {
        "a": 34,
        "b": 33,
        "c": 33,
    }
    assert shares_by_weight(total=326666, weights={1: Decimal("98"), 2: Decimal("196")}) == {
        1: 108889,
        2: 217777,
    }
    assert shares_by_weight(total=0, weights={"a": Decimal(0)}) == {"a": 0}
    with pytest.raises(ValueError):
        shares_by_weight(total=5, weights={"a": Decimal(0)})


def test_the_sandbox_registers_a_card_orders_receipts_the_same_way(
    world: World, merchant: Merchant, courier: Courier
) -> None:
    from commands.pay import payment_card_charge

    order = place(world)
    with TestCase.captureOnCommitCallbacks(execute=True):
        payment = payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    assert payment.status == "captured"
    delivered(world, order, courier)

    assert receipts_send() == 1

    payment_receipt, settlement = Receipt.objects.order_by("id")
    assert (payment_receipt.provider, payment_receipt.status) == ("sandbox", "succeeded")
    assert payment_receipt.payload["items"] == [
        goods_item(merchant, "1078.00", "full_prepayment"),
        shipping_item("423.50", "full_prepayment"),
    ]
    assert (settlement.kind, settlement.status) == ("settlement", "succeeded")
    assert settlement.provider_id.startswith("sbx_rc_")
    assert settlement.provider_id != payment_receipt.provider_id
    assert settlement.payload["payment_id"] == payment.provider_reference
    assert settlement.payload["settlements"] == [
        {"type": "prepayment", "amount": {"value": "1501.50", "currency": "RUB"}}
    ]

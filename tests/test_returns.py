"""Returns (issue #15): a buyer returns units of a delivered order within the
law's window; staff decide; the return parcel travels and is received at a
Russian returns warehouse, restocked or written off; the buyer is refunded
through the refund path, and the ledger and the merchant's statement show
it. A parcel returned to sender closes its order the same way.

Amounts: one tea (98 CNY) at 11 RUB per CNY is 1078.00 RUB of goods, of
which the tea merchant's payable is 1024.10 and the 5 % fee 53.90; a pair of
boots (329 CNY) is 3619.00; shipping to Yekaterinburg is 423.50 for one tea
(the order costs 1501.50)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client, TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from commands.scans import cash_collect
from notifications.models import OutboxEvent
from orders.models import Order, OrderEvent, OrderLine
from orders.retention import recipients_anonymise
from orders.services import Address
from payments.models import LedgerEntry, LedgerTransaction, Payment, Refund
from payments.settlement import payables_release, statement_build, week_start_of
from shipping.fulfilment.models import FulfilmentOrder, FulfilmentOrderEvent, Parcel
from shipping.fulfilment.packing import PackedParcel
from shipping.returns.models import Return, ReturnEvent
from shipping.returns.services import return_deadline
from shipping.tracking.timeline import NewEvent, parcel_events_apply
from tests.conftest import World, client_for
from tests.factories import MerchantStaffFactory, UserFactory
from tests.test_split import admin_for
from warehouses.models import StockLevel, StockMovement
from warehouses.selectors import stock_audit_differences

D = Decimal
MSK = ZoneInfo("Europe/Moscow")


def place(world: World, *lines: tuple[str, int], method: str = "card") -> Order:
    return order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        address=Address(**world.address()),
        payment_method=method,
    )


def scanned(parcel: Parcel, *events: str, at: datetime | None = None) -> None:
    start = at or timezone.now() - timedelta(hours=1)
    parcel_events_apply(
        events=[
            NewEvent(
                parcel_id=parcel.id,
                event=event,
                occurred_at=start + timedelta(minutes=index),
                source="courier",
            )
            for index, event in enumerate(events)
        ]
    )


def delivered(world: World, *lines: tuple[str, int], method: str = "card", ago: int = 1) -> Order:
    """An order paid (or cash collected), packed, and delivered `ago` days ago."""
    order = place(world, *lines, method=method)
    if method == "card":
        payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    parcels = order_pack(order_id=order.id)
    for parcel in parcels:
        scanned(parcel, "departed", "delivered")
    if method == "cod":
        due = Payment.objects.get(order=order).amount
        cash_collect(order_id=order.id, amount=due, currency="RUB", courier_id=0)
    order.refresh_from_db()
    assert order.status == "delivered"
    Order.objects.filter(id=order.id).update(delivered_at=timezone.now() - timedelta(days=ago))
    order.refresh_from_db()
    return order


@pytest.fixture
def staff(world: World) -> Any:
    return client_for(UserFactory.create(email="ops@amur.example", is_staff=True))


@pytest.fixture
def buyer(world: World) -> Any:
    return client_for(world.buyer.user)


def ask(buyer: Any, order: Order, *lines: tuple[str, int], reason: str = "") -> Any:
    return buyer.post(
        f"/api/v1/orders/{order.number}/returns/",
        {"lines": [{"sku": sku, "quantity": n} for sku, n in lines], "reason": reason},
        format="json",
    )


def decide(client: Any, number: str, decision: str = "approve") -> Any:
    return client.post(
        f"/api/v1/ops/returns/{number}/decision/", {"decision": decision}, format="json"
    )


def ship(client: Any, number: str, tracking: str = "CDEK-1234567890") -> Any:
    return client.post(
        f"/api/v1/ops/returns/{number}/ship/",
        {"tracking_number": tracking, "carrier": "cdek"},
        format="json",
    )


def receive(client: Any, number: str, warehouse: str = "SVX", **body: Any) -> Any:
    # The refund is asked of the provider after commit, as in a request.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            f"/api/v1/ops/returns/{number}/receive/",
            {"warehouse": warehouse, **body},
            format="json",
        )


def entries(transaction: LedgerTransaction) -> list[tuple[str, int | None, D, D]]:
    return list(
        transaction.entries.order_by("id").values_list(
            "account__code", "merchant_id", "debit", "credit"
        )
    )


def balanced() -> bool:
    rows = LedgerEntry.objects.values_list("debit", "credit")
    return sum(d for d, _c in rows) == sum(c for _d, c in rows)


def return_webhooks(number: str) -> list[tuple[str, str]]:
    return [
        (event.payload["status"], event.payload["previous_status"])
        for event in OutboxEvent.objects.filter(type="return.status_changed").order_by(
            "created_at", "id"
        )
        if event.payload["return"] == number
    ]


# --- the buyer's return, end to end -------------------------------------------------


def test_a_return_of_some_units_restocks_them_and_refunds_their_goods_exactly(
    world: World, buyer: Any, staff: Any
) -> None:
    order = delivered(world, ("TEA-0001", 2), ("BOOT-0002", 1))
    tea, boots = world.products[0].merchant_id, world.products[1].merchant_id
    answer = ask(buyer, order, ("TEA-0001", 1), reason="не подошёл")
    assert answer.status_code == 201, answer.json()
    number = answer.json()["number"]
    assert (number, answer.json()["status"], answer.json()["lines"]) == (
        f"{order.number}-R1",
        "requested",
        [
            {
                "sku": "TEA-0001",
                "name": world.products[0].name_ru,
                "quantity": 1,
                "restocked": 0,
                "written_off": 0,
            }
        ],
    )
    assert decide(staff, number).json()["status"] == "approved"
    shipped = ship(staff, number).json()
    assert (shipped["status"], shipped["tracking_number"]) == ("in_transit", "CDEK-1234567890")

    answer = receive(staff, number)
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["status"], answer.json()["refund"], answer.json()["warehouse"]) == (
        "refunded",
        {"amount": "1078.00", "currency": "RUB"},
        "SVX",
    )
    # Back on the shelf in Yekaterinburg, as a movement of kind return.
    level = StockLevel.objects.get(warehouse=world.svx, product=world.products[0])
    assert (level.on_hand, level.reserved) == (1, 0)
    assert list(
        StockMovement.objects.filter(stock=level).values_list("kind", "on_hand_delta", "order_id")
    ) == [("return", 1, order.id)]
    assert stock_audit_differences() == []
    # The goods alone: the tea merchant's payable and the fee, not the boots,
    # the shipping or the duty.
    refund = Refund.objects.get(payment__order=order)
    assert (refund.amount, refund.status, refund.reason) == (
        D("1078.00"),
        "succeeded",
        f"return {number}",
    )
    posted = LedgerTransaction.objects.get(kind="refund", order=order)
    assert entries(posted) == [
        ("merchant_payable", tea, D("1024.10"), D("0.00")),
        ("platform_fee", None, D("53.90"), D("0.00")),
        ("buyer_payments_in_transit", None, D("0.00"), D("1078.00")),
    ]
    assert boots not in {e[1] for e in entries(posted)}
    assert balanced()
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.refunded_amount) == ("partially_refunded", D("1078.00"))
    # Every step audited and pushed to the buyer.
    steps = ["requested", "approved", "in_transit", "received", "refunded"]
    assert (
        list(
            ReturnEvent.objects.filter(return_request__number=number).values_list(
                "to_status", flat=True
            )
        )
        == steps
    )
    assert return_webhooks(number) == list(zip(steps, ["", *steps[:-1]], strict=True))
    last = OutboxEvent.objects.filter(type="return.status_changed").latest("created_at", "id")
    assert (last.subject, last.audience_id, last.payload) == (
        f"return:{number}",
        world.buyer.user_id,
        {
            "return": number,
            "order": order.number,
            "kind": "buyer",
            "status": "refunded",
            "previous_status": "received",
            "reason": "",
            "tracking_number": "CDEK-1234567890",
            "lines": [{"sku": "TEA-0001", "quantity": 1}],
            "refund": {"amount": "1078.00", "currency": "RUB"},
        },
    )
    # The buyer's e-mail, in Russian.
    assert (last.email_subject, last.email_to) == (
        f"Возврат {number}: Деньги за возврат возвращены",
        world.buyer.user.email,
    )
    listed = buyer.get(f"/api/v1/orders/{order.number}/returns/").json()
    assert [(r["number"], r["status"], len(r["events"])) for r in listed] == [
        (number, "refunded", 5)
    ]
    assert Order.objects.get(id=order.id).status == "delivered"


def test_returning_every_unit_refunds_all_that_is_left_shipping_and_duty_too(
    world: World, buyer: Any, staff: Any
) -> None:
    order = delivered(world, ("TEA-0001", 2))
    first = ask(buyer, order, ("TEA-0001", 1)).json()["number"]
    for step in (decide, ship, receive):
        step(staff, first)
    second = ask(buyer, order, ("TEA-0001", 1)).json()["number"]
    for step in (decide, ship):
        step(staff, second)
    answer = receive(staff, second).json()
    payment = Payment.objects.get(order=order)
    # The first return took its goods (1078.00); the last takes the rest.
    assert answer["refund"] == {"amount": str(payment.amount - D("1078.00")), "currency": "RUB"}
    assert (payment.status, payment.refunded_amount) == ("refunded", payment.amount)
    assert sorted(
        Refund.objects.filter(payment=payment).values_list("amount", flat=True)
    ) == sorted([D("1078.00"), payment.amount - D("1078.00")])
    level = StockLevel.objects.get(warehouse=world.svx, product=world.products[0])
    assert level.on_hand == 2
    assert stock_audit_differences() == []
    assert balanced()


def test_units_written_off_are_not_restocked_but_still_refunded(
    world: World, buyer: Any, staff: Any
) -> None:
    order = delivered(world, ("TEA-0001", 2), ("BOOT-0002", 1))
    number = ask(buyer, order, ("TEA-0001", 2)).json()["number"]
    decide(staff, number)
    ship(staff, number)
    wrong = receive(staff, number, lines=[{"sku": "TEA-0001", "restocked": 1, "written_off": 0}])
    assert (wrong.status_code, wrong.json()["code"], list(wrong.json()["fields"])) == (
        400,
        "invalid",
        ["TEA-0001"],
    )
    answer = receive(
        staff, number, lines=[{"sku": "TEA-0001", "restocked": 1, "written_off": 1}]
    ).json()
    assert (answer["lines"][0]["restocked"], answer["lines"][0]["written_off"]) == (1, 1)
    assert answer["refund"] == {"amount": "2156.00", "currency": "RUB"}
    assert StockLevel.objects.get(warehouse=world.svx, product=world.products[0]).on_hand == 1
    assert stock_audit_differences() == []


def test_a_cash_order_returned_is_refunded_by_bank_transfer(
    world: World, buyer: Any, staff: Any
) -> None:
    order = delivered(world, ("TEA-0001", 1), ("BOOT-0002", 1), method="cod")
    number = ask(buyer, order, ("BOOT-0002", 1)).json()["number"]
    decide(staff, number)
    ship(staff, number)
    assert receive(staff, number).json()["refund"] == {"amount": "3619.00", "currency": "RUB"}
    refund = Refund.objects.get(payment__order=order)
    assert (refund.method, refund.status, refund.provider_reference) == (
        "bank_transfer",
        "succeeded",
        f"{order.number}-RF{refund.payment_id}-1",
    )
    posted = LedgerTransaction.objects.get(kind="refund", order=order)
    assert entries(posted)[-1] == ("refunds_payable", None, D("0.00"), D("3619.00"))
    assert balanced()


# --- who may ask, when, and how much ------------------------------------------------


def test_the_window_is_seven_days_after_hand_over_or_three_months_without_written_terms() -> None:
    handed = datetime(2026, 3, 31, 23, 30, tzinfo=MSK)
    assert return_deadline(delivered_at=handed, terms_in_writing=True) == datetime(
        2026, 4, 8, tzinfo=MSK
    )
    # Three months on: 30 June is the last day (there is no 31 June).
    assert return_deadline(delivered_at=handed, terms_in_writing=False) == datetime(
        2026, 7, 1, tzinfo=MSK
    )
    # A UTC evening is already the next day in Moscow.
    late_utc = datetime(2026, 1, 10, 22, 0, tzinfo=ZoneInfo("UTC"))
    assert return_deadline(delivered_at=late_utc, terms_in_writing=True) == datetime(
        2026, 1, 19, tzinfo=MSK
    )


def test_a_return_after_the_window_is_refused_unless_the_terms_were_not_in_writing(
    world: World, buyer: Any
) -> None:
    order = delivered(world, ("TEA-0001", 1), ago=9)
    answer = ask(buyer, order, ("TEA-0001", 1))
    assert (answer.status_code, answer.json()["code"], answer.json()["fields"]) == (
        422,
        "return_window_closed",
        {"lines": ["TEA-0001"]},
    )
    tea = world.products[0].merchant
    tea.return_terms_in_writing = False
    tea.save()
    assert ask(buyer, order, ("TEA-0001", 1)).status_code == 201
    old = delivered(world, ("TEA-0001", 1), ago=100)
    assert ask(buyer, old, ("TEA-0001", 1)).json()["code"] == "return_window_closed"


def test_no_unit_is_returned_twice_and_a_rejected_return_frees_its_units(
    world: World, buyer: Any, staff: Any
) -> None:
    order = delivered(world, ("TEA-0001", 2))
    too_many = ask(buyer, order, ("TEA-0001", 3))
    assert (too_many.status_code, too_many.json()["code"]) == (422, "return_quantity_exceeded")
    number = ask(buyer, order, ("TEA-0001", 2)).json()["number"]
    assert ask(buyer, order, ("TEA-0001", 1)).json()["code"] == "return_quantity_exceeded"
    rejected = decide(staff, number, "reject")
    assert rejected.json()["status"] == "rejected"
    assert decide(staff, number, "reject").json()["status"] == "rejected"
    assert decide(staff, number, "approve").json()["code"] == "return_already_decided"
    assert ask(buyer, order, ("TEA-0001", 2)).status_code == 201


def test_only_a_delivered_order_of_ones_own_can_be_returned(world: World, buyer: Any) -> None:
    paid = place(world, ("TEA-0001", 1))
    payment_card_charge(order_id=paid.id, token="tok_approve", actor_id=None)
    answer = ask(buyer, paid, ("TEA-0001", 1))
    assert (answer.status_code, answer.json()["code"]) == (409, "order_not_returnable")
    order = delivered(world, ("TEA-0001", 1))
    other = client_for(world.other_buyer.user)
    assert ask(other, order, ("TEA-0001", 1)).status_code == 404
    unknown = ask(buyer, order, ("BOOT-0002", 1))
    assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid")
    assert Return.objects.count() == 0


def test_a_merchant_decides_only_returns_of_its_own_goods(world: World, buyer: Any) -> None:
    order = delivered(world, ("TEA-0001", 1), ("BOOT-0002", 1))
    tea = client_for(MerchantStaffFactory.create(merchant=world.products[0].merchant).user)
    boots = client_for(MerchantStaffFactory.create(merchant=world.products[1].merchant).user)
    only_tea = ask(buyer, order, ("TEA-0001", 1)).json()["number"]
    both = ask(buyer, order, ("BOOT-0002", 1)).json()["number"]
    assert decide(boots, only_tea).status_code == 403
    assert decide(tea, only_tea).json()["status"] == "approved"
    assert decide(tea, both).status_code == 403
    assert decide(boots, both, "reject").json()["status"] == "rejected"
    assert [r["number"] for r in tea.get("/api/v1/ops/returns/").json()] == [only_tea]
    # Staff of a merchant do not ship or receive: the operator's warehouse does.
    assert ship(tea, only_tea).status_code == 403


def test_a_return_is_received_only_in_transit_and_only_in_russia(
    world: World, buyer: Any, staff: Any
) -> None:
    order = delivered(world, ("TEA-0001", 1))
    number = ask(buyer, order, ("TEA-0001", 1)).json()["number"]
    assert ship(staff, number).json()["code"] == "return_not_approved"
    decide(staff, number)
    early = receive(staff, number)
    assert (early.status_code, early.json()["code"]) == (409, "return_not_receivable")
    ship(staff, number)
    china = receive(staff, number, warehouse="HRB")
    assert (china.status_code, china.json()["code"]) == (422, "not_returns_warehouse")
    assert receive(staff, number).json()["status"] == "refunded"
    again = receive(staff, number)
    assert (again.status_code, again.json()["code"]) == (409, "return_not_receivable")
    assert Refund.objects.filter(payment__order=order).count() == 1


def test_errors_speak_the_buyers_language(world: World, buyer: Any) -> None:
    order = delivered(world, ("TEA-0001", 1), ago=30)
    answer = buyer.post(
        f"/api/v1/orders/{order.number}/returns/",
        {"lines": [{"sku": "TEA-0001", "quantity": 1}]},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert answer.json()["message"] == "退货期限已过。"
    answer = ask(buyer, order, ("TEA-0001", 1))
    assert answer.json()["message"] == "Срок возврата этих товаров истёк."


def test_listing_returns_costs_the_same_queries_for_one_or_many(world: World, buyer: Any) -> None:
    order = delivered(world, ("TEA-0001", 3), ("BOOT-0002", 1))
    ask(buyer, order, ("TEA-0001", 1))
    url = f"/api/v1/orders/{order.number}/returns/"
    with CaptureQueriesContext(connection) as one:
        assert len(buyer.get(url).json()) == 1
    ask(buyer, order, ("TEA-0001", 1))
    ask(buyer, order, ("TEA-0001", 1), ("BOOT-0002", 1))
    with CaptureQueriesContext(connection) as three:
        assert len(buyer.get(url).json()) == 3
    assert len(three.captured_queries) == len(one.captured_queries)


def test_the_admin_decides_and_receives_returns_merchants_only_their_own(
    world: World, buyer: Any
) -> None:
    order = delivered(world, ("TEA-0001", 1), ("BOOT-0002", 1))
    tea = ask(buyer, order, ("TEA-0001", 1)).json()["number"]
    boots = ask(buyer, order, ("BOOT-0002", 1)).json()["number"]
    ids = dict(Return.objects.values_list("number", "id"))
    merchant = MerchantStaffFactory.create(merchant=world.products[0].merchant).user
    merchant.user_permissions.add(Permission.objects.get(codename="view_return"))
    page = Client()
    page.force_login(merchant)
    listed = page.get("/admin/shipping/return/")
    assert (listed.status_code, tea in listed.text, boots in listed.text) == (200, True, False)
    page.post(
        "/admin/shipping/return/", {"action": "approve", "_selected_action": [ids[tea], ids[boots]]}
    )
    assert dict(Return.objects.values_list("number", "status")) == {
        tea: "approved",
        boots: "requested",
    }
    operator = Client()
    operator.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    operator.post("/admin/shipping/return/", {"action": "reject", "_selected_action": [ids[boots]]})
    ship(client_for(UserFactory.create(is_staff=True)), tea)
    with TestCase.captureOnCommitCallbacks(execute=True):
        operator.post(
            "/admin/shipping/return/", {"action": "receive", "_selected_action": [ids[tea]]}
        )
    assert dict(Return.objects.values_list("number", "status")) == {
        tea: "refunded",
        boots: "rejected",
    }


# --- the merchant's statement -------------------------------------------------------


def test_a_return_after_the_payable_was_released_is_owed_back_on_the_statement(
    world: World, buyer: Any, staff: Any
) -> None:
    tea = world.products[0].merchant
    tea.return_terms_in_writing = False  # three months to return
    tea.save()
    order = delivered(world, ("TEA-0001", 1), ("BOOT-0002", 1), ago=20)
    assert payables_release(now=timezone.now()) == [order.id]
    number = ask(buyer, order, ("TEA-0001", 1)).json()["number"]
    for step in (decide, ship, receive):
        step(staff, number)
    posted = LedgerTransaction.objects.get(kind="refund", order=order)
    assert entries(posted)[0] == ("merchant_payable_released", tea.id, D("1024.10"), D("0.00"))
    statement = statement_build(merchant_id=tea.id, week_start=week_start_of(timezone.now()))
    assert statement is not None
    assert list(statement.lines.values_list("order_number", "refunds_rub", "net_rub")) == [
        (order.number, D("1024.10"), D("0.00"))
    ]
    boots = statement_build(
        merchant_id=world.products[1].merchant_id, week_start=week_start_of(timezone.now())
    )
    assert boots is not None
    assert list(boots.lines.values_list("refunds_rub", "net_rub")) == [(D("0.00"), D("3438.05"))]
    assert balanced()


# --- returned to sender -------------------------------------------------------------


def test_a_parcel_refused_and_returned_closes_its_order_restocks_and_refunds(
    world: World, staff: Any
) -> None:
    order = place(world, ("TEA-0001", 1))
    payment = payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    (parcel,) = order_pack(order_id=order.id)
    scanned(parcel, "departed", "out_for_delivery", "delivery_failed", "returned")
    order.refresh_from_db()
    assert order.status == "returned"
    assert list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True))[
        -2:
    ] == ["in_transit", "returned"]
    # The merchant's part came back with it, and the merchant is told so.
    (part,) = FulfilmentOrder.objects.filter(order=order)
    assert part.status == "returned"
    assert list(
        FulfilmentOrderEvent.objects.filter(fulfilment_order=part)
        .order_by("sequence")
        .values_list("to_status", flat=True)
    ) == ["pending", "ready", "packed", "shipped", "returned"]
    assert (
        OutboxEvent.objects.filter(
            type="fulfilment_order.status_changed",
            payload__fulfilment_order=part.number,
            payload__status="returned",
            payload__previous_status="shipped",
        ).count()
        == 1
    )
    ret = Return.objects.get(order=order)
    assert (ret.kind, ret.status, ret.parcel_id, ret.tracking_number) == (
        "return_to_sender",
        "in_transit",
        parcel.id,
        parcel.tracking_number,
    )
    # A second scan of the same return changes nothing.
    scanned(parcel, "returned")
    assert Return.objects.filter(order=order).count() == 1
    answer = receive(staff, ret.number).json()
    assert answer["refund"] == {"amount": "1501.50", "currency": "RUB"}
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("refunded", D("1501.50"))
    assert StockLevel.objects.get(warehouse=world.svx, product=world.products[0]).on_hand == 1
    assert stock_audit_differences() == []
    assert balanced()
    assert return_webhooks(ret.number) == [
        ("in_transit", ""),
        ("received", "in_transit"),
        ("refunded", "received"),
    ]
    # Closed as returned: its recipient's data go after the retention period.
    returned_at = Order.objects.get(id=order.id).returned_at
    assert returned_at is not None
    assert recipients_anonymise(now=returned_at + timedelta(days=1094)) == 0
    assert recipients_anonymise(now=returned_at + timedelta(days=1096)) == 1


def test_a_cash_parcel_returned_has_nothing_to_refund_and_its_cash_is_voided(
    world: World, staff: Any
) -> None:
    order = place(world, ("TEA-0001", 1), method="cod")
    (parcel,) = order_pack(order_id=order.id)
    scanned(parcel, "departed", "returned")
    ret = Return.objects.get(order=order)
    answer = receive(staff, ret.number).json()
    assert (answer["status"], answer["refund"]) == (
        "closed",
        {"amount": "0.00", "currency": "RUB"},
    )
    assert Payment.objects.get(order=order).status == "voided"
    assert not Refund.objects.filter(payment__order=order).exists()
    assert Order.objects.get(id=order.id).status == "returned"
    assert list(FulfilmentOrder.objects.filter(order=order).values_list("status", flat=True)) == [
        "returned"
    ]
    assert stock_audit_differences() == []


@pytest.mark.parametrize(
    ("language", "label"), [("zh-hans", "已退回发件人"), ("ru", "Возвращено отправителю")]
)
def test_the_merchant_finds_its_part_returned_in_its_language(
    world: World, language: str, label: str
) -> None:
    order = place(world, ("TEA-0001", 1), method="cod")
    (parcel,) = order_pack(order_id=order.id)
    scanned(parcel, "departed", "returned")
    (part,) = FulfilmentOrder.objects.filter(order=order)
    staff = MerchantStaffFactory.create(merchant=part.merchant, country="CN").user

    listing = admin_for(staff).get(
        "/admin/shipping/fulfilmentorder/?status__exact=returned", HTTP_ACCEPT_LANGUAGE=language
    )

    assert listing.status_code == 200
    text = listing.content.decode()
    assert part.number in text
    # In the list's status column and in the status filter.
    assert text.count(label) >= 2


@pytest.mark.parametrize(
    ("language", "label"),
    [
        ("ru", "Перевозчик вернул посылку отправителю."),
        ("zh-hans", "承运商已将包裹退回发件人。"),
        ("en", "The carrier brought the parcel back to the sender."),
    ],
)
def test_a_return_to_sender_reads_in_the_buyers_language(
    world: World, buyer: Any, language: str, label: str
) -> None:
    order = place(world, ("TEA-0001", 1), method="cod")
    (parcel,) = order_pack(order_id=order.id)
    scanned(parcel, "departed", "returned")

    listed = buyer.get(
        f"/api/v1/orders/{order.number}/returns/", HTTP_ACCEPT_LANGUAGE=language
    ).json()

    assert [
        (r["kind"], r["reason"], r["reason_label"], [e["reason_label"] for e in r["events"]])
        for r in listed
    ] == [("return_to_sender", "returned to sender", label, [label])]


def test_an_order_with_one_parcel_delivered_and_one_returned_is_delivered(
    world: World,
) -> None:
    order = place(world, ("TEA-0001", 1), ("BOOT-0002", 1))
    payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    lines = dict(OrderLine.objects.filter(order=order).values_list("sku", "id"))
    parcels = order_pack(
        order_id=order.id,
        parcels=[
            PackedParcel(world.hrb.id, {lines[sku]: 1}, grams, 300, 200, 100)
            for sku, grams in (("TEA-0001", 300), ("BOOT-0002", 1500))
        ],
    )
    scanned(parcels[0], "departed", "returned")
    assert Order.objects.get(id=order.id).status == "in_transit"
    scanned(parcels[1], "departed", "delivered")
    assert Order.objects.get(id=order.id).status == "delivered"
    assert Return.objects.get(order=order).parcel_id == parcels[0].id
    # Each merchant's part ends with its own parcel.
    parts = {p.fulfilment_order_id: p for p in Parcel.objects.filter(order=order)}
    assert sorted(
        (parts[fo.id].id, fo.status) for fo in FulfilmentOrder.objects.filter(order=order)
    ) == sorted([(parcels[0].id, "returned"), (parcels[1].id, "delivered")])


def test_a_parcel_brought_back_after_delivery_returns_only_units_not_asked_back_already(
    world: World, buyer: Any
) -> None:
    order = delivered(world, ("TEA-0001", 2))
    asked = ask(buyer, order, ("TEA-0001", 1)).json()["number"]
    (parcel,) = Parcel.objects.filter(order=order)
    scanned(parcel, "returned", at=timezone.now())
    back = Return.objects.get(order=order, kind="return_to_sender")
    assert list(back.lines.values_list("line__sku", "quantity")) == [("TEA-0001", 1)]
    # Delivered stays delivered, for the part as for its order.
    assert list(FulfilmentOrder.objects.filter(order=order).values_list("status", flat=True)) == [
        "delivered"
    ]
    assert Return.objects.get(number=asked).status == "requested"
    # The order was delivered: it stays so, the returns settle the money.
    assert Order.objects.get(id=order.id).status == "delivered"

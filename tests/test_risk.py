"""Risk rules and staff review: each rule at its threshold, held orders kept
from fulfilment, approve and reject with their stock and payment effects,
the review endpoint and admin actions for operator staff only, and rules
tuned in the database without a release."""

from __future__ import annotations

import importlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Buyer
from commands.cancel import order_cancel, orders_expire_unpaid
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest, checkout_quote
from commands.review import order_review_approve, order_review_reject
from core.errors import Conflict
from notifications.models import OutboxEvent
from orders.models import Order, OrderEvent
from orders.services import Address
from payments.models import Payment, Refund
from risk.models import RiskHold, RiskRule
from risk.rules import Facts, Rule, risk_evaluate, trip_describe
from tests.conftest import World, client_for
from tests.factories import MerchantStaffFactory, UserFactory
from warehouses.models import Reservation, StockLevel

D = Decimal
SEED = importlib.import_module("risk.migrations.0002_risk_rules_defaults")


@pytest.fixture
def rules(world: World) -> None:
    """The shipped defaults, whatever earlier transactional tests left."""
    RiskRule.objects.all().delete()
    for row in SEED.DEFAULTS:
        RiskRule.objects.create(**row)


def place(
    world: World, *lines: tuple[str, int], method: str = "card", buyer: Buyer | None = None
) -> Order:
    return order_place(
        user_id=(buyer or world.buyer).user_id,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        address=Address(**world.address()),
        payment_method=method,
    )


def age(buyer: Buyer, days: int) -> None:
    Buyer.objects.filter(id=buyer.id).update(created_at=timezone.now() - timedelta(days=days))
    buyer.refresh_from_db()


def reserved() -> dict[str, int]:
    return dict(StockLevel.objects.filter(reserved__gt=0).values_list("product__sku", "reserved"))


def statuses(order: Order) -> list[tuple[str, str, str]]:
    return list(
        OrderEvent.objects.filter(order=order)
        .order_by("sequence")
        .values_list("from_status", "to_status", "reason")
    )


def operator() -> Any:
    return UserFactory.create(email="ops@amur.example", is_staff=True, is_superuser=True)


def review_url(order: Order) -> str:
    return f"/api/v1/ops/orders/{order.number}/review/"


# The pure evaluation: a limit is the largest value allowed.

PER_HOUR = Rule(code="per-hour", kind="orders_per_hour", limit=D(5))
NEW_CAP = Rule(code="new", kind="new_account_cap", limit=D("30000.00"), account_age_days=7)
COD_CAP = Rule(code="cod", kind="cod_cap", limit=D("50000.00"))
COUNTRY = Rule(code="country", kind="card_country")


def tripped(rule: Rule, **facts: Any) -> list[str]:
    return [t.rule for t in risk_evaluate(rules=[rule], facts=Facts(**facts))]


def test_orders_per_hour_trips_above_its_limit() -> None:
    assert tripped(PER_HOUR, orders_last_hour=5) == []
    assert tripped(PER_HOUR, orders_last_hour=6) == ["per-hour"]
    assert tripped(PER_HOUR) == []  # unknown at this stage


def test_new_account_cap_trips_above_its_limit_for_young_accounts_only() -> None:
    young = timedelta(days=7) - timedelta(seconds=1)
    assert tripped(NEW_CAP, account_age=young, total_rub=D("30000.00")) == []
    assert tripped(NEW_CAP, account_age=young, total_rub=D("30000.01")) == ["new"]
    assert tripped(NEW_CAP, account_age=timedelta(days=7), total_rub=D("99999.00")) == []


def test_cod_cap_trips_above_its_limit_for_cash_orders_only() -> None:
    assert tripped(COD_CAP, payment_method="cod", total_rub=D("50000.00")) == []
    assert tripped(COD_CAP, payment_method="cod", total_rub=D("50000.01")) == ["cod"]
    assert tripped(COD_CAP, payment_method="card", total_rub=D("90000.00")) == []


def test_card_country_trips_when_it_differs_from_the_delivery_country() -> None:
    assert tripped(COUNTRY, card_country="RU", delivery_country="RU") == []
    assert tripped(COUNTRY, card_country="KZ", delivery_country="RU") == ["country"]
    assert tripped(COUNTRY, delivery_country="RU") == []


def test_trips_are_described_for_staff() -> None:
    from django.utils import translation

    [trip] = risk_evaluate(rules=[PER_HOUR], facts=Facts(orders_last_hour=6))
    with translation.override("en"):
        assert trip_describe(trip.as_data()) == "Orders per buyer per hour (per-hour): 6, limit 5"


def test_defaults_shipped_by_the_data_migration() -> None:
    assert {row["code"]: (row["kind"], row["limit"]) for row in SEED.DEFAULTS} == {
        "orders-per-hour": ("orders_per_hour", D(5)),
        "new-account-cap": ("new_account_cap", D("30000.00")),
        "card-country": ("card_country", None),
        "cod-cap": ("cod_cap", D("50000.00")),
    }
    assert SEED.DEFAULTS[1]["account_age_days"] == 7


# At placement.


def test_sixth_order_in_an_hour_is_held_not_the_fifth(world: World, rules: None) -> None:
    earlier = place(world, ("TEA-0001", 1))
    Order.objects.filter(id=earlier.id).update(created_at=timezone.now() - timedelta(minutes=61))
    fifth = [place(world, ("TEA-0001", 1)) for _ in range(5)][-1]
    assert fifth.status == "pending_payment"
    sixth = place(world, ("TEA-0001", 1))
    assert sixth.status == "on_hold"
    hold = RiskHold.objects.get(order=sixth)
    assert (hold.stage, hold.held_from, hold.decision) == ("placement", "pending_payment", "")
    assert hold.reasons == [
        {"rule": "orders-per-hour", "kind": "orders_per_hour", "observed": "6", "limit": "5"}
    ]
    event = OrderEvent.objects.get(order=sixth, to_status="on_hold")
    assert event.reason == "held for review"
    assert event.data == {"risk_hold": hold.id, "stage": "placement", "reasons": hold.reasons}
    # The stock stays reserved for the order while staff look at it.
    assert Reservation.objects.filter(order=sixth, status="active").count() == 1


def test_new_account_cap_holds_big_orders_of_young_accounts(world: World, rules: None) -> None:
    # 3 phones: 3897 CNY at 11 RUB plus shipping and duty, over 30,000 RUB.
    held = place(world, ("PHONE-0003", 3))
    assert held.total_rub > D("30000")
    assert held.status == "on_hold"
    assert RiskHold.objects.get(order=held).reasons[0]["rule"] == "new-account-cap"
    age(world.other_buyer, 7)
    assert place(world, ("PHONE-0003", 3), buyer=world.other_buyer).status == "pending_payment"


def test_rule_edits_apply_to_the_next_order_without_a_release(world: World, rules: None) -> None:
    total = checkout_quote(lines=[LineRequest("PHONE-0003", 1)], region="RU-SVE").total_rub
    RiskRule.objects.filter(code="new-account-cap").update(limit=total)
    assert place(world, ("PHONE-0003", 1)).status == "pending_payment"
    RiskRule.objects.filter(code="new-account-cap").update(limit=total - D("0.01"))
    assert place(world, ("PHONE-0003", 1)).status == "on_hold"
    RiskRule.objects.filter(code="new-account-cap").update(is_active=False)
    assert place(world, ("PHONE-0003", 1)).status == "pending_payment"


def test_held_card_order_cannot_be_paid_until_approved(world: World, rules: None) -> None:
    RiskRule.objects.filter(code="orders-per-hour").update(limit=0)
    order = place(world, ("TEA-0001", 2))
    assert order.status == "on_hold"
    with pytest.raises(Conflict):
        payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    staff = operator()
    approved = order_review_approve(order_id=order.id, actor_id=staff.id, note="known buyer")
    assert approved.status == "pending_payment"
    hold = RiskHold.objects.get(order=order)
    assert (hold.decision, hold.decided_by_id, hold.note) == ("approved", staff.id, "known buyer")
    payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    order.refresh_from_db()
    assert order.status == "allocated"
    assert statuses(order) == [
        ("", "pending_payment", ""),
        ("pending_payment", "on_hold", "held for review"),
        ("on_hold", "pending_payment", "approved on review"),
        ("pending_payment", "paid", "card captured"),
        ("paid", "allocated", "stock reserved"),
    ]
    approval = OrderEvent.objects.get(order=order, reason="approved on review")
    assert (approval.actor_id, approval.data) == (
        staff.id,
        {"risk_hold": hold.id, "decision": "approved", "note": "known buyer"},
    )


def test_approved_order_gets_the_full_unpaid_time_from_approval(world: World, rules: None) -> None:
    order = place(world, ("PHONE-0003", 3))
    forgotten = place(world, ("TEA-0001", 1), buyer=world.other_buyer)
    past = timezone.now() - timedelta(minutes=31)
    Order.objects.filter(id__in=[order.id, forgotten.id]).update(created_at=past)
    assert orders_expire_unpaid() == 1  # the held order does not expire
    order_review_approve(order_id=order.id, actor_id=None)
    assert orders_expire_unpaid() == 0
    RiskHold.objects.filter(order=order).update(decided_at=past)
    assert orders_expire_unpaid() == 1
    assert dict(Order.objects.values_list("id", "status")) == {
        order.id: "cancelled",
        forgotten.id: "cancelled",
    }


def test_cod_over_the_cap_is_held_then_confirmed_on_approval(world: World, rules: None) -> None:
    age(world.buyer, 30)
    # 4 phones: about 59,000 RUB, over the 50,000 RUB cash-on-delivery cap.
    order = place(world, ("PHONE-0003", 4), method="cod")
    assert order.status == "on_hold"
    assert RiskHold.objects.get(order=order).reasons[0]["rule"] == "cod-cap"
    assert Payment.objects.filter(order=order).count() == 0
    assert reserved() == {"PHONE-0003": 4}
    order_review_approve(order_id=order.id, actor_id=operator().id)
    order.refresh_from_db()
    assert order.status == "allocated"
    assert Payment.objects.get(order=order).status == "awaiting_cash"
    assert [s[:2] for s in statuses(order)][1:] == [
        ("pending_payment", "on_hold"),
        ("on_hold", "pending_payment"),
        ("pending_payment", "cod_confirmed"),
        ("cod_confirmed", "allocated"),
    ]


def test_rejecting_a_placement_hold_cancels_and_releases_stock(world: World, rules: None) -> None:
    order = place(world, ("PHONE-0003", 3))
    assert order.status == "on_hold"
    assert reserved() == {"PHONE-0003": 3}
    rejected = order_review_reject(order_id=order.id, actor_id=operator().id, note="stolen")
    assert rejected.status == "cancelled"
    assert reserved() == {}
    assert statuses(rejected)[-1] == ("on_hold", "cancelled", "rejected on review")
    assert RiskHold.objects.get(order=order).decision == "rejected"


# At card payment.


def pay(world: World, order: Order, **body: Any) -> Any:
    return client_for(world.buyer.user).post(
        f"/api/v1/orders/{order.number}/pay/", {"token": "tok_approve", **body}, format="json"
    )


def test_foreign_card_is_captured_and_the_order_held_after_paid(world: World, rules: None) -> None:
    order = place(world, ("TEA-0001", 2))
    response = pay(world, order, card_country="kz")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "captured"
    order.refresh_from_db()
    assert order.status == "on_hold"
    assert order.paid_at is not None
    hold = RiskHold.objects.get(order=order)
    assert (hold.stage, hold.held_from) == ("payment", "paid")
    assert hold.reasons == [
        {"rule": "card-country", "kind": "card_country", "observed": "KZ/RU", "limit": ""}
    ]
    assert not order.parcels.exists()
    paid_at = order.paid_at
    order_review_approve(order_id=order.id, actor_id=operator().id)
    order.refresh_from_db()
    assert order.status == "allocated"
    assert order.paid_at == paid_at
    assert [s[:2] for s in statuses(order)][2:] == [
        ("paid", "on_hold"),
        ("on_hold", "paid"),
        ("paid", "allocated"),
    ]


def test_a_foreign_card_confirmed_later_by_3ds_is_held_when_captured(
    world: World, rules: None, django_capture_on_commit_callbacks: Any
) -> None:
    order = place(world, ("TEA-0001", 2))
    body = pay(world, order, token="tok_3ds", card_country="KZ").json()
    assert body["status"] == "requires_action"
    assert Payment.objects.get(id=body["id"]).card_country == "KZ"

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = APIClient().post(
            body["confirmation_url"], {"outcome": "approve"}, format="json"
        )

    assert confirmed.status_code == 200
    assert Payment.objects.get(id=body["id"]).status == "captured"
    order.refresh_from_db()
    assert order.status == "on_hold"
    hold = RiskHold.objects.get(order=order)
    assert (hold.stage, hold.held_from) == ("payment", "paid")
    assert not Reservation.objects.filter(order=order, status="picked").exists()


def test_russian_card_by_default_is_not_held(world: World, rules: None) -> None:
    order = place(world, ("TEA-0001", 2))
    assert pay(world, order).status_code == 201
    order.refresh_from_db()
    assert order.status == "allocated"


def test_card_country_must_be_two_letters(world: World, rules: None) -> None:
    order = place(world, ("TEA-0001", 2))
    response = pay(world, order, card_country="RUS")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["card_country"]


def test_rejecting_a_paid_hold_refunds_the_capture(world: World, rules: None) -> None:
    order = place(world, ("TEA-0001", 2))
    pay(world, order, card_country="KZ")
    payment = Payment.objects.get(order=order)
    rejected = order_review_reject(order_id=order.id, actor_id=operator().id, note="fraud")
    assert rejected.status == "cancelled"
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == ("refunded", payment.amount)
    refund = Refund.objects.get(payment=payment)
    assert (refund.amount, refund.reason, refund.method) == (
        payment.amount,
        "rejected on review",
        "card",
    )
    assert reserved() == {}


# Buyers, the outbox, cancellation.


def test_buyer_sees_the_order_on_review_without_the_rule(world: World, rules: None) -> None:
    order = place(world, ("PHONE-0003", 3))
    client = client_for(world.buyer.user)
    detail = client.get(f"/api/v1/orders/{order.number}/")
    assert detail.json()["status"] == "on_hold"
    events = client.get(f"/api/v1/orders/{order.number}/events/")
    assert events.json()[-1]["reason"] == "held for review"
    for text in (detail.content, events.content):
        assert b"new-account-cap" not in text and b"30000" not in text
    outbox = OutboxEvent.objects.filter(subject=f"order:{order.number}").order_by("sequence")
    assert [(e.payload["status"], e.payload["reason"]) for e in outbox] == [
        ("pending_payment", ""),
        ("on_hold", "held for review"),
    ]
    order_review_reject(order_id=order.id, actor_id=None)
    assert outbox.last().payload["status"] == "cancelled"  # type: ignore[union-attr]


def test_buyer_cancelling_a_held_order_withdraws_the_hold(world: World, rules: None) -> None:
    order = place(world, ("PHONE-0003", 3))
    order_cancel(order_id=order.id, actor_id=world.buyer.user_id)
    assert RiskHold.objects.get(order=order).decision == "withdrawn"
    assert reserved() == {}
    with pytest.raises(Conflict):
        order_review_approve(order_id=order.id, actor_id=None)


# The review endpoint.


def test_review_endpoint_approves_once_and_repeats_idempotently(world: World, rules: None) -> None:
    order = place(world, ("PHONE-0003", 3))
    staff = client_for(operator())
    first = staff.post(review_url(order), {"decision": "approve", "note": "ok"}, format="json")
    assert first.status_code == 200, first.json()
    body = first.json()
    assert {k: body[k] for k in ("order", "status", "stage", "decision", "note")} == {
        "order": order.number,
        "status": "pending_payment",
        "stage": "placement",
        "decision": "approved",
        "note": "ok",
    }
    assert body["reasons"][0]["rule"] == "new-account-cap"
    events = OrderEvent.objects.filter(order=order).count()
    again = staff.post(review_url(order), {"decision": "approve"}, format="json")
    assert again.status_code == 200
    assert again.json()["decided_at"] == body["decided_at"]
    assert OrderEvent.objects.filter(order=order).count() == events
    other = staff.post(review_url(order), {"decision": "reject"}, format="json")
    assert other.status_code == 409
    assert other.json()["code"] == "order_already_reviewed"


def test_review_endpoint_is_for_operator_staff_only(world: World, rules: None) -> None:
    order = place(world, ("PHONE-0003", 3))
    body = {"decision": "approve"}
    merchant_user = UserFactory.create(email="seller@shop.example", is_staff=True)
    MerchantStaffFactory.create(user=merchant_user, merchant=world.products[2].merchant)
    for user in (world.buyer.user, merchant_user):
        response = client_for(user).post(review_url(order), body, format="json")
        assert response.status_code == 403
        assert response.json()["code"] == "forbidden"
    assert Client().post(review_url(order), body).status_code == 401
    staff = client_for(operator())
    missing = staff.post("/api/v1/ops/orders/AM0000NOPE/review/", body, format="json")
    assert missing.status_code == 404
    assert staff.post(review_url(order), {"decision": "maybe"}, format="json").status_code == 400
    order.refresh_from_db()
    assert order.status == "on_hold"


def test_review_of_an_order_never_held_is_a_conflict(world: World, rules: None) -> None:
    order = place(world, ("TEA-0001", 1))
    response = client_for(operator()).post(review_url(order), {"decision": "reject"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "order_not_on_hold"


# The admin.


def test_operator_approves_and_rejects_in_the_held_orders_admin(world: World, rules: None) -> None:
    age(world.other_buyer, 30)
    card = place(world, ("PHONE-0003", 3))
    cod = place(world, ("PHONE-0003", 4), method="cod", buyer=world.other_buyer)
    client = Client()
    client.force_login(operator())
    page = client.get("/admin/risk/riskhold/")
    assert page.status_code == 200
    assert card.number.encode() in page.content and cod.number.encode() in page.content
    hold_ids = dict(RiskHold.objects.values_list("order_id", "id"))
    url = "/admin/risk/riskhold/"
    client.post(url, {"action": "approve", "_selected_action": [str(hold_ids[cod.id])]})
    client.post(url, {"action": "reject", "_selected_action": [str(hold_ids[card.id])]})
    card.refresh_from_db()
    cod.refresh_from_db()
    assert (card.status, cod.status) == ("cancelled", "allocated")
    assert client.get(url).context["cl"].result_count == 0  # the queue is empty
    assert client.get(url + "?decision=all").context["cl"].result_count == 2


def test_merchant_staff_cannot_see_or_act_on_held_orders(world: World, rules: None) -> None:
    order = place(world, ("PHONE-0003", 3))
    merchant_user = UserFactory.create(
        email="seller@shop.example", is_staff=True, is_superuser=True
    )
    MerchantStaffFactory.create(user=merchant_user, merchant=world.products[2].merchant)
    client = Client()
    client.force_login(merchant_user)
    assert client.get("/admin/risk/riskhold/").status_code == 403
    assert client.get("/admin/risk/riskrule/").status_code == 403
    hold = RiskHold.objects.get(order=order)
    client.post("/admin/risk/riskhold/", {"action": "approve", "_selected_action": [str(hold.id)]})
    order.refresh_from_db()
    assert order.status == "on_hold"


def test_operator_edits_a_rule_in_the_admin(world: World, rules: None) -> None:
    client = Client()
    client.force_login(operator())
    rule = RiskRule.objects.get(code="orders-per-hour")
    response = client.post(
        f"/admin/risk/riskrule/{rule.id}/change/",
        {"code": rule.code, "kind": rule.kind, "limit": "0", "is_active": "on", "note": ""},
    )
    assert response.status_code == 302
    assert place(world, ("TEA-0001", 1)).status == "on_hold"


# Two reviewers at once (PostgreSQL).


def review_race(order_id: int, actor_id: int, approve_delay: float) -> dict[str, Any]:
    """Approve and reject the same order from two threads at once; approval
    may start a little later so that either can win."""
    import random
    import threading
    import time

    from django.db import connection

    from core.errors import ApplicationError

    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def run(name: str, service: Any) -> None:
        try:
            barrier.wait()
            time.sleep(random.uniform(0, 0.01) + (approve_delay if name == "approve" else 0))
            results[name] = service(order_id=order_id, actor_id=actor_id, note=name)
        except ApplicationError as error:
            results[name] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("approve", order_review_approve)),
        threading.Thread(target=run, args=("reject", order_review_reject)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_approve_racing_reject_on_a_paid_hold_ends_in_one_state(world: World) -> None:
    """Two operators decide the same paid hold at once, many times over: one
    decision wins, the other is a conflict; an approved order is allocated
    with its payment kept, a rejected one is cancelled, released and refunded."""
    from payments.ledger import ledger_accounts_ensure

    ledger_accounts_ensure()  # the chart is flushed between transactional tests
    RiskRule.objects.all().delete()
    RiskRule.objects.create(code="card-country", kind="card_country")
    staff = operator()
    outcomes: list[str] = []
    for i in range(8):
        order = place(world, ("TEA-0001", 1))
        payment_card_charge(
            order_id=order.id, token="tok_approve", actor_id=None, card_country="CN"
        )
        results = review_race(order.id, staff.id, approve_delay=0.2 * (i % 2))
        winners = [name for name, result in results.items() if isinstance(result, Order)]
        assert len(winners) == 1, results
        loser = ({"approve", "reject"} - set(winners)).pop()
        assert isinstance(results[loser], Conflict), results
        order.refresh_from_db()
        payment = Payment.objects.get(order=order)
        hold = RiskHold.objects.get(order=order)
        active = Reservation.objects.filter(order=order, status="active").count()
        if winners == ["approve"]:
            expected = ("allocated", "captured", "approved", 1)
        else:
            expected = ("cancelled", "refunded", "rejected", 0)
        assert (order.status, payment.status, hold.decision, active) == expected
        outcomes.append(winners[0])
    assert StockLevel.objects.get(warehouse=world.hrb, product__sku="TEA-0001").reserved == (
        outcomes.count("approve")
    )
    print("review race outcomes:", {o: outcomes.count(o) for o in set(outcomes)})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_buyers_orders_placed_at_once_are_counted_against_each_other(world: World) -> None:
    """Limit one order an hour, three orders of different goods at once (no
    stock row in common to queue them): the placements still count one after
    another, so exactly one passes and two wait for review."""
    import threading

    from django.db import connection

    RiskRule.objects.all().delete()
    RiskRule.objects.create(code="one-an-hour", kind="orders_per_hour", limit=D(1))
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def order(sku: str) -> None:
        try:
            start.wait()
            place(world, (sku, 1))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    skus = [product.sku for product in world.products]
    threads = [threading.Thread(target=order, args=(sku,)) for sku in skus]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    statuses = sorted(Order.objects.filter(buyer=world.buyer).values_list("status", flat=True))
    assert statuses == ["on_hold", "on_hold", "pending_payment"]

"""Cash on delivery: cash_collected scans capture the payment in the scans'
transaction; couriers' remittances; the daily reconciliation per courier;
buyers who refuse cash deliveries lose cash on delivery above a limit."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.utils import timezone, translation

from accounts.models import Courier
from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from orders.models import Order
from orders.services import Address
from payments.cod.models import CashCollection, CodReconciliation, CourierRemittance
from payments.cod.services import cod_day_of, cod_reconcile, cod_remittance_record
from payments.ledger import ledger_accounts_ensure
from payments.models import LedgerEntry, LedgerTransaction, Payment
from payments.tasks import reconcile_cod
from shipping.fulfilment.models import Parcel
from shipping.tracking.models import TrackingEvent
from tests.conftest import World, client_for, scans_post
from tests.factories import CourierFactory, MerchantStaffFactory, UserFactory

D = Decimal
MOSCOW = ZoneInfo("Europe/Moscow")
DUE = D("1501.50")  # one TEA-0001: 98 CNY * 11 + shipping 423.50


def place(world: World, sku: str = "TEA-0001", method: str = "cod", buyer: Any = None) -> Order:
    return order_place(
        user_id=(buyer or world.buyer).user_id,
        lines=[LineRequest(sku, 1)],
        address=Address(**world.address()),
        payment_method=method,
    )


def packed(world: World, method: str = "cod", buyer: Any = None) -> Parcel:
    """A packed parcel of one TEA-0001 whose label is two days old, so scans
    of yesterday come after it."""
    order = place(world, method=method, buyer=buyer)
    if method == "card":
        payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    (parcel,) = order_pack(order_id=order.id)
    TrackingEvent.objects.filter(parcel=parcel).update(
        occurred_at=timezone.now() - timedelta(days=3)
    )
    return parcel


def new_courier(world: World) -> Courier:
    courier = CourierFactory.create(regions=["RU-SVE"])
    courier.lanes.add(world.air)
    return courier


def scan(parcel: Parcel, event: str, at: datetime, scan_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "scan_id": scan_id,
        "tracking_number": parcel.tracking_number,
        "event": event,
        "occurred_at": at.isoformat(),
        **extra,
    }


def cash(parcel: Parcel, at: datetime, scan_id: str, amount: str) -> dict[str, Any]:
    return scan(parcel, "cash_collected", at, scan_id, amount=amount, currency="RUB")


def post_scans(courier: Courier, *scans: dict[str, Any]) -> dict[str, Any]:
    response = scans_post(client_for(courier.user), {"scans": list(scans)})
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()
    return body


def yesterday_at(hour: int) -> tuple[date, datetime]:
    day = cod_day_of(timezone.now()) - timedelta(days=1)
    return day, datetime.combine(day, time(hour), tzinfo=MOSCOW)


def balances() -> dict[str, Decimal]:
    """Debit minus credit per account, leaving out zero balances."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for code, debit, credit in LedgerEntry.objects.values_list("account__code", "debit", "credit"):
        out[code] += debit - credit
    return {code: value for code, value in out.items() if value}


def ledger_balanced() -> bool:
    per_txn: dict[int, Decimal] = defaultdict(Decimal)
    for txn, debit, credit in LedgerEntry.objects.values_list("transaction_id", "debit", "credit"):
        per_txn[txn] += debit - credit
    return bool(per_txn) and all(v == 0 for v in per_txn.values())


@pytest.fixture
def operator(world: World) -> Any:
    return client_for(UserFactory.create(email="cash@amur.example", is_staff=True))


# --- scans post the cash ----------------------------------------------------


def test_cash_collected_scan_captures_the_payment_once(world: World, courier: Courier) -> None:
    parcel = packed(world)
    _day, at = yesterday_at(15)
    batch = [scan(parcel, "delivered", at, "dl-1"), cash(parcel, at, "cash-1", "1501.50")]

    assert post_scans(courier, *batch) == {"accepted": 2, "duplicates": 0, "rejected": []}

    payment = Payment.objects.get(order=parcel.order)
    assert (payment.status, payment.amount) == ("captured", DUE)
    assert payment.events.last().data == {"courier_id": courier.id, "cash": True}  # type: ignore[union-attr]
    collection = CashCollection.objects.get()
    assert (collection.courier_id, collection.order_id, collection.scan_id) == (
        courier.id,
        parcel.order_id,
        "cash-1",
    )
    assert (collection.amount, collection.due, collection.outcome) == (DUE, DUE, "captured")
    assert collection.collected_at == at
    assert list(LedgerTransaction.objects.values_list("kind", flat=True)) == ["cod_collection"]
    assert ledger_balanced()
    assert balances()["courier_cash_in_hand"] == DUE

    # The courier's app retries the whole batch: the same scan ids count once.
    assert post_scans(courier, *batch) == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert CashCollection.objects.count() == 1
    assert LedgerTransaction.objects.count() == 1
    assert balances()["courier_cash_in_hand"] == DUE


def test_a_second_report_of_collected_cash_is_kept_but_not_counted(
    world: World, courier: Courier
) -> None:
    parcel = packed(world)
    _day, at = yesterday_at(15)
    post_scans(courier, cash(parcel, at, "cash-1", "1501.50"))
    post_scans(courier, cash(parcel, at + timedelta(minutes=1), "cash-2", "1501.50"))
    assert list(CashCollection.objects.order_by("id").values_list("scan_id", "outcome")) == [
        ("cash-1", "captured"),
        ("cash-2", "repeat"),
    ]
    assert LedgerTransaction.objects.count() == 1


def test_a_wrong_amount_is_held_as_cash_in_hand_not_lost(world: World, courier: Courier) -> None:
    parcel = packed(world)
    _day, at = yesterday_at(15)

    assert post_scans(courier, cash(parcel, at, "cash-1", "1351.50"))["accepted"] == 1

    payment = Payment.objects.get(order=parcel.order)
    assert payment.status == "awaiting_cash"
    collection = CashCollection.objects.get()
    assert (collection.amount, collection.due, collection.outcome) == (
        D("1351.50"),
        DUE,
        "unmatched",
    )
    assert list(LedgerTransaction.objects.values_list("kind", flat=True)) == ["cod_unmatched"]
    assert ledger_balanced()
    assert balances() == {
        "courier_cash_in_hand": D("1351.50"),
        "cod_cash_unmatched": D("-1351.50"),
    }


def test_cash_scans_on_card_orders_or_without_amounts_are_refused(
    world: World, courier: Courier
) -> None:
    card = packed(world, method="card")
    cod = packed(world)
    _day, at = yesterday_at(15)
    with translation.override("en"):
        body = post_scans(
            courier,
            cash(card, at, "c-1", "1501.50"),
            scan(cod, "cash_collected", at, "c-2"),
            cash(cod, at, "c-3", "0.00"),
            scan(cod, "delivered", at, "c-4", reason="refused"),
            scan(cod, "out_for_delivery", at, "c-5"),
            scan(cod, "delivery_failed", at, "c-6"),  # needs a reason
        )
    assert body["accepted"] == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (0, "no_cash_due"),
        (1, "invalid"),
        (2, "invalid"),
        (3, "invalid"),
        (5, "invalid"),
    ]
    assert CashCollection.objects.count() == 0
    assert LedgerTransaction.objects.filter(kind="cod_collection").count() == 0


# --- remittances ----------------------------------------------------------------


def test_remittance_posts_cash_from_the_courier_to_the_operator(
    world: World, courier: Courier, operator: Any
) -> None:
    parcel = packed(world)
    day, at = yesterday_at(15)
    post_scans(courier, cash(parcel, at, "cash-1", "1501.50"))
    url = f"/api/v1/ops/couriers/{courier.id}/remittances/"
    body = {"amount": "1501.50", "reference": "PKO-0042", "day": day.isoformat()}

    response = operator.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert response.status_code == 201, response.json()
    fields = ("courier", "amount", "currency", "reference", "day")
    assert {k: response.json()[k] for k in fields} == {
        "courier": courier.id,
        "amount": "1501.50",
        "currency": "RUB",
        "reference": "PKO-0042",
        "day": day.isoformat(),
    }
    replay = operator.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    again = operator.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="r-2")
    assert again.status_code == 409 and again.json()["code"] == "remittance_reference_used"

    remittance = CourierRemittance.objects.get()
    assert remittance.ledger_transaction is not None
    assert remittance.ledger_transaction.kind == "cod_remittance"
    assert ledger_balanced()
    balance = balances()
    assert "courier_cash_in_hand" not in balance  # all handed over
    assert balance["cash_at_operator"] == DUE


def test_remittance_endpoint_is_for_operator_staff_with_valid_input(
    world: World, courier: Courier, operator: Any
) -> None:
    url = f"/api/v1/ops/couriers/{courier.id}/remittances/"
    body = {"amount": "100.00", "reference": "PKO-1"}
    assert client_for(courier.user).post(url, body, format="json").status_code == 403
    unknown = operator.post(url, {**body, "tip": 1}, format="json")
    assert unknown.status_code == 400 and set(unknown.json()["fields"]) == {"tip"}
    negative = operator.post(url, {**body, "amount": "-5"}, format="json")
    assert negative.status_code == 400 and set(negative.json()["fields"]) == {"amount"}
    yuan = operator.post(url, {**body, "currency": "CNY"}, format="json")
    assert yuan.status_code == 400 and set(yuan.json()["fields"]) == {"currency"}
    missing = operator.post("/api/v1/ops/couriers/999999/remittances/", body, format="json")
    assert missing.status_code == 404
    future = timezone.now() + timedelta(days=1)
    late = operator.post(url, {**body, "received_at": future.isoformat()}, format="json")
    assert late.status_code == 400 and set(late.json()["fields"]) == {"received_at"}
    assert CourierRemittance.objects.count() == 0 and LedgerTransaction.objects.count() == 0


# --- daily reconciliation --------------------------------------------------------


def deliver_and_collect(world: World, courier: Courier, at: datetime, amount: str) -> Parcel:
    parcel = packed(world)
    n = Parcel.objects.count()
    post_scans(
        courier,
        scan(parcel, "out_for_delivery", at - timedelta(hours=2), f"o-{n}"),
        scan(parcel, "delivered", at, f"d-{n}"),
        cash(parcel, at, f"c-{n}", amount),
    )
    return parcel


def remit(courier: Courier, day: date, amount: str) -> None:
    cod_remittance_record(
        courier_id=courier.id,
        amount=D(amount),
        currency="RUB",
        reference=f"PKO-{courier.id}-{day}",
        received_at=timezone.now(),
        day=day,
        actor_id=None,
    )


def reconciliation(day: date) -> dict[int, tuple[Any, ...]]:
    return {
        row.courier_id: (
            row.expected,
            row.collected,
            row.remitted,
            row.collection_difference,
            row.remittance_difference,
            row.flagged,
            row.reasons,
        )
        for row in CodReconciliation.objects.filter(day=day)
    }


def test_three_couriers_one_short_by_150_rub_exactly_that_is_flagged(world: World) -> None:
    day, at = yesterday_at(14)
    ann, bob, cid = (new_courier(world) for _ in range(3))
    deliver_and_collect(world, ann, at, "1501.50")
    short = deliver_and_collect(world, bob, at, "1351.50")
    deliver_and_collect(world, cid, at + timedelta(hours=3), "1501.50")
    deliver_and_collect(world, cid, at + timedelta(hours=4), "1501.50")
    for courier, handed in ((ann, "1501.50"), (bob, "1351.50"), (cid, "3003.00")):
        remit(courier, day, handed)
    # Another day's work is not part of this day.
    deliver_and_collect(world, ann, at - timedelta(days=1), "1501.50")

    assert reconcile_cod.delay(day.isoformat()).get() == 1

    zero = D("0.00")
    expected = {
        ann.id: (DUE, DUE, DUE, zero, zero, False, []),
        bob.id: (DUE, D("1351.50"), D("1351.50"), D("-150.00"), zero, True, ["short_collection"]),
        cid.id: (D("3003.00"), D("3003.00"), D("3003.00"), zero, zero, False, []),
    }
    assert reconciliation(day) == expected
    flagged = CodReconciliation.objects.get(flagged=True)
    assert flagged.orders == [
        {"order": short.order.number, "due": "1501.50", "collected": "1351.50"}
    ]
    # Re-running the day keeps one row per courier with the same figures.
    cod_reconcile(day=day)
    assert CodReconciliation.objects.filter(day=day).count() == 3
    assert reconciliation(day) == expected
    assert ledger_balanced()


def test_a_courier_who_remits_150_rub_less_is_flagged_for_short_remittance(
    world: World,
) -> None:
    day, at = yesterday_at(11)
    ann, bob = new_courier(world), new_courier(world)
    deliver_and_collect(world, ann, at, "1501.50")
    deliver_and_collect(world, bob, at, "1501.50")
    remit(ann, day, "1501.50")
    remit(bob, day, "1351.50")
    unscanned = packed(world)  # delivered, but no cash reported
    post_scans(ann, scan(unscanned, "delivered", at + timedelta(hours=1), "d-x"))

    cod_reconcile(day=day)

    zero = D("0.00")
    assert reconciliation(day) == {
        ann.id: (
            D("3003.00"),
            DUE,
            DUE,
            -DUE,
            zero,
            True,
            ["short_collection"],
        ),
        bob.id: (DUE, DUE, D("1351.50"), zero, D("-150.00"), True, ["short_remittance"]),
    }
    # Bob still holds the 150 RUB; the cash Ann did not report is not in the books.
    assert balances()["courier_cash_in_hand"] == D("150.00")


def test_reconciliations_in_the_admin_and_api_are_for_operator_staff(
    world: World, operator: Any
) -> None:
    day, at = yesterday_at(12)
    courier = new_courier(world)
    deliver_and_collect(world, courier, at, "1400.00")
    cod_reconcile(day=day)

    listed = operator.get("/api/v1/ops/cod/reconciliations/", {"flagged": "true"})
    assert listed.status_code == 200
    assert [(r["courier"], r["reasons"]) for r in listed.json()["results"]] == [
        (courier.id, ["short_collection", "short_remittance"])
    ]
    assert (
        operator.get("/api/v1/ops/cod/reconciliations/", {"flagged": "false"}).json()["results"]
        == []
    )
    assert client_for(courier.user).get("/api/v1/ops/cod/reconciliations/").status_code == 403

    admin = UserFactory.create(email="root@amur.example", is_staff=True, is_superuser=True)
    browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    browser.force_login(admin)
    page = browser.get("/admin/payments/codreconciliation/?flagged__exact=1")
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    assert "-101.50" in page.content.decode()
    model_admin = site._registry[CodReconciliation]
    assert not model_admin.has_change_permission(page.wsgi_request)
    assert not model_admin.has_delete_permission(page.wsgi_request)
    added = browser.post(
        "/admin/payments/courierremittance/add/",
        {
            "courier": courier.id,
            "amount": "1400.00",
            "currency": "RUB",
            "reference": "PKO-77",
            "day": day.isoformat(),
            "received_at_0": day.isoformat(),
            "received_at_1": "20:00:00",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    remittance = CourierRemittance.objects.get()
    assert (remittance.amount, remittance.recorded_by_id) == (D("1400.00"), admin.id)
    assert remittance.ledger_transaction is not None
    cod_reconcile(day=day)
    assert reconciliation(day)[courier.id][-1] == ["short_collection"]

    # Merchants never see couriers' cash, even with the view permission.
    merchant = MerchantStaffFactory.create(merchant=world.products[0].merchant).user
    merchant.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_codreconciliation", "view_cashcollection", "add_courierremittance"]
        )
    )
    merchant_browser = Client()
    merchant_browser.force_login(merchant)
    for path in ("codreconciliation/", "cashcollection/", "courierremittance/add/"):
        assert merchant_browser.get(f"/admin/payments/{path}").status_code == 403


# --- refused cash deliveries -------------------------------------------------------


def refuse(world: World, courier: Courier, buyer: Any, n: int, reason: str = "refused") -> None:
    parcel = packed(world, buyer=buyer)
    _day, at = yesterday_at(10)
    post_scans(courier, scan(parcel, "delivery_failed", at, f"f-{n}", reason=reason))


def order_via_api(world: World, sku: str, method: str, key: str) -> Any:
    return client_for(world.buyer.user).post(
        "/api/v1/orders/",
        world.order_body((sku, 1), method=method),
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
        HTTP_ACCEPT_LANGUAGE="en",
    )


def test_two_refused_cash_deliveries_limit_cash_on_delivery(world: World, courier: Courier) -> None:
    refuse(world, courier, world.buyer, 1)
    refuse(world, courier, world.buyer, 2, reason="absent")  # not a refusal
    refuse(world, courier, world.other_buyer, 3)  # someone else's
    # 1299 CNY * 11 = 14,289 RUB: above the 5,000 RUB limit.
    assert order_via_api(world, "PHONE-0003", "cod", "k-1").status_code == 201

    refuse(world, courier, world.buyer, 4)
    with translation.override("en"):
        refused = order_via_api(world, "PHONE-0003", "cod", "k-2")
    assert refused.status_code == 422
    body = refused.json()
    assert body["code"] == "cod_not_available"
    assert body["fields"] == {"payment_method": ["Choose card payment."]}
    assert body["limit"] == {"amount": "5000", "currency": "RUB"}
    assert body["refusals"] == 2
    # Below the limit cash is still fine, and card always is.
    assert order_via_api(world, "TEA-0001", "cod", "k-3").status_code == 201
    assert order_via_api(world, "PHONE-0003", "card", "k-4").status_code == 201


def test_the_refusal_threshold_and_limit_are_settings(
    world: World, courier: Courier, settings: Any
) -> None:
    settings.AMUR = {**settings.AMUR, "COD_REFUSAL_THRESHOLD": 1, "COD_REFUSED_LIMIT_RUB": D(1000)}
    refuse(world, courier, world.buyer, 1)
    assert order_via_api(world, "TEA-0001", "cod", "k-1").status_code == 422


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_cash_reported_twice_at_once_is_captured_once(
    world: World, courier: Courier
) -> None:
    """Two batches race with the same collection under different scan ids
    (a phone and its retry queue): one captures, the other is a repeat."""
    ledger_accounts_ensure()  # the chart is flushed between transactional tests
    parcels = [packed(world) for _ in range(4)]
    _day, at = yesterday_at(15)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def report(prefix: str) -> None:
        try:
            barrier.wait()
            post_scans(courier, *(cash(p, at, f"{prefix}-{p.id}", "1501.50") for p in parcels))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=report, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(thread.is_alive() for thread in threads)

    outcomes = defaultdict(list)
    for order_id, outcome in CashCollection.objects.values_list("order_id", "outcome"):
        outcomes[order_id].append(outcome)
    assert {tuple(sorted(v)) for v in outcomes.values()} == {("captured", "repeat")}
    assert len(outcomes) == 4
    assert LedgerTransaction.objects.filter(kind="cod_collection").count() == 4
    assert set(Payment.objects.values_list("status", flat=True)) == {"captured"}
    assert ledger_balanced()
    assert balances()["courier_cash_in_hand"] == 4 * DUE

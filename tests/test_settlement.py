"""Merchant settlement: payables released after the returns window (once,
for what is still held), refunds after a release, weekly statements whose
totals are the ledger's movements, as CSV, PDF, API and admin.

Amounts: one tea (98 CNY) at 11 RUB per CNY is 1078.00 RUB of goods; with the
5 % fee the tea merchant's payable is 1024.10 and the fee 53.90; shipping to
Yekaterinburg is 423.50, so the order costs 1501.50. One pair of boots
(329 CNY) is 3619.00 of goods and 3438.05 payable."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from catalogue.models import Merchant
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from commands.refunds import payment_refund
from core.errors import Conflict, InvalidTransition
from orders.models import Order, OrderStatus
from orders.services import Address, orders_transition
from payments.ledger import ledger_post
from payments.models import LedgerEntry, LedgerTransaction, Payment, SettlementStatement
from payments.settlement import (
    payables_release,
    statement_build,
    statement_issue,
    statements_build_weekly,
    week_bounds,
    week_start_of,
)
from payments.statement_documents import statement_csv, statement_pdf
from payments.tasks import release_payables
from tests.conftest import World, client_for
from tests.factories import MerchantStaffFactory, UserFactory
from tests.test_documents import pdf_text

D = Decimal
WINDOW = timedelta(days=14)
RELEASED = "merchant_payable_released"


def paid_order(world: World, *lines: tuple[str, int]) -> tuple[Order, Payment]:
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines or [("TEA-0001", 1)]],
        address=Address(**world.address()),
        payment_method="card",
    )
    payment = payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    assert payment.status == "captured"
    return order, payment


def deliver(order: Order, at: datetime) -> None:
    for status in (OrderStatus.PACKED, OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED):
        orders_transition(order_ids=[order.id], to=status)
    # The delivery happened `at` (the transition stamps the present).
    Order.objects.filter(id=order.id).update(delivered_at=at)


def balance(code: str, merchant: Merchant, **filters: Any) -> Decimal:
    total = D("0.00")
    for debit, credit in LedgerEntry.objects.filter(
        account__code=code, merchant=merchant, **filters
    ).values_list("debit", "credit"):
        total += credit - debit
    return total


def refund(payment: Payment, amount: str) -> None:
    payment_refund(payment_id=payment.id, amount=D(amount), reason="returned", actor_id=None)


@pytest.fixture
def tea(world: World) -> Merchant:
    merchant = world.products[0].merchant
    merchant.name_zh = "哈尔滨茶叶有限公司"
    merchant.save()
    return merchant


# --- release -------------------------------------------------------------------


def test_nothing_is_released_before_the_returns_window_closes(world: World, tea: Merchant) -> None:
    order, _payment = paid_order(world)
    now = timezone.now()
    deliver(order, now - WINDOW + timedelta(minutes=1))
    assert payables_release(now=now) == []
    assert not LedgerTransaction.objects.filter(kind="payable_release").exists()
    assert balance("merchant_payable", tea) == D("1024.10")


def test_the_payable_is_released_once_when_the_window_closes(world: World, tea: Merchant) -> None:
    order, _payment = paid_order(world, ("TEA-0001", 1), ("BOOT-0002", 1))
    boots = world.products[1].merchant
    now = timezone.now()
    deliver(order, now - WINDOW)
    assert payables_release(now=now) == [order.id]
    posted = LedgerTransaction.objects.get(kind="payable_release")
    assert (posted.order_id, posted.payment_id) == (order.id, None)
    assert list(
        posted.entries.order_by("id").values_list("account__code", "merchant_id", "debit", "credit")
    ) == [
        ("merchant_payable", tea.id, D("1024.10"), D("0.00")),
        (RELEASED, tea.id, D("0.00"), D("1024.10")),
        ("merchant_payable", boots.id, D("3438.05"), D("0.00")),
        (RELEASED, boots.id, D("0.00"), D("3438.05")),
    ]
    assert (balance("merchant_payable", tea), balance(RELEASED, tea)) == (D(0), D("1024.10"))
    # The next hourly run, and a later one, release nothing more.
    assert payables_release(now=now) == []
    assert payables_release(now=now + timedelta(days=30)) == []
    assert LedgerTransaction.objects.filter(kind="payable_release").count() == 1


def test_the_database_refuses_a_second_release_of_an_order(world: World) -> None:
    order, _payment = paid_order(world)
    deliver(order, timezone.now() - WINDOW)
    payables_release(now=timezone.now())
    merchant_id = world.products[0].merchant_id
    with pytest.raises(IntegrityError), transaction.atomic():
        ledger_post(
            kind="payable_release",
            order_id=order.id,
            lines=[
                ("merchant_payable", D("1.00"), D(0), merchant_id),
                (RELEASED, D(0), D("1.00"), merchant_id),
            ],
        )


def test_undelivered_and_fully_refunded_orders_are_not_released(world: World) -> None:
    on_the_way, _payment = paid_order(world)
    refunded, payment = paid_order(world)
    deliver(refunded, timezone.now() - WINDOW * 2)
    refund(payment, "1501.50")
    assert payables_release(now=timezone.now() + WINDOW * 3) == []
    assert on_the_way.id not in payables_release(now=timezone.now() + WINDOW * 3)


def test_a_refund_after_the_release_is_owed_back_by_the_merchant(
    world: World, tea: Merchant
) -> None:
    order, payment = paid_order(world)
    refund(payment, "150.15")  # 10 %: the merchant's share is 102.41
    deliver(order, timezone.now() - WINDOW)
    assert payables_release(now=timezone.now()) == [order.id]
    assert balance(RELEASED, tea) == D("921.69")
    refund(payment, "300.30")  # another 20 %: 204.82 of it is the merchant's
    posted = LedgerTransaction.objects.filter(kind="refund").last()
    assert posted is not None
    assert list(
        posted.entries.filter(merchant=tea).values_list("account__code", "debit", "credit")
    ) == [(RELEASED, D("204.82"), D("0.00"))]
    assert (balance("merchant_payable", tea), balance(RELEASED, tea)) == (D(0), D("716.87"))
    # Everything back: the merchant owes all it was released.
    refund(payment, "1051.05")
    assert (balance("merchant_payable", tea), balance(RELEASED, tea)) == (D(0), D(0))
    debits = sum(e.debit for e in LedgerEntry.objects.all())
    assert debits == sum(e.credit for e in LedgerEntry.objects.all())


def test_the_release_task_runs_the_service(world: World) -> None:
    order, _payment = paid_order(world)
    deliver(order, timezone.now() - WINDOW - timedelta(hours=1))
    assert release_payables.delay().get() == 1
    assert release_payables.delay().get() == 0


# --- statements -------------------------------------------------------------------


@pytest.fixture
def week(world: World, tea: Merchant) -> dict[str, Any]:
    """Three orders of tea released this week: A whole; B with boots; C with
    a 10 % refund before the release and 20 % after it."""
    now = timezone.now()
    a, _pa = paid_order(world)
    b, _pb = paid_order(world, ("TEA-0001", 1), ("BOOT-0002", 1))
    c, pc = paid_order(world)
    refund(pc, "150.15")
    deliver(a, now - WINDOW - timedelta(days=3))
    deliver(b, now - WINDOW - timedelta(days=2))
    deliver(c, now - WINDOW - timedelta(days=1))
    assert sorted(payables_release(now=now)) == sorted([a.id, b.id, c.id])
    refund(pc, "300.30")
    boots = world.products[1].merchant_id
    return {"a": a, "b": b, "c": c, "pc": pc, "boots": boots, "week_start": week_start_of(now)}


def ledger_movement(merchant: Merchant, week_start: Any) -> Decimal:
    start, end = week_bounds(week_start)
    return balance(
        RELEASED, merchant, transaction__created_at__gte=start, transaction__created_at__lt=end
    )


def test_a_statement_lists_each_order_and_its_totals_are_the_ledgers(
    week: dict[str, Any], tea: Merchant
) -> None:
    statement = statement_build(merchant_id=tea.id, week_start=week["week_start"])
    assert statement is not None
    assert (statement.status, statement.period_end - statement.period_start) == (
        "draft",
        timedelta(days=6),
    )
    lines = list(
        statement.lines.values_list(
            "order_number", "goods_rub", "fee_rub", "refunds_rub", "net_rub", "net_cny"
        )
    )
    assert lines == [
        (week["a"].number, D("1078.00"), D("53.90"), D("0.00"), D("1024.10"), D("93.10")),
        (week["b"].number, D("1078.00"), D("53.90"), D("0.00"), D("1024.10"), D("93.10")),
        # 102.41 refunded before the release, 204.82 after it.
        (week["c"].number, D("1078.00"), D("53.90"), D("307.23"), D("716.87"), D("65.17")),
    ]
    assert (
        statement.goods_rub,
        statement.fee_rub,
        statement.refunds_rub,
        statement.net_rub,
        statement.net_cny,
    ) == (D("3234.00"), D("161.70"), D("307.23"), D("2765.07"), D("251.37"))
    assert statement.net_rub == ledger_movement(tea, week["week_start"]) == D("2765.07")
    # Boots: only order B, and only its share.
    boots = statement_build(merchant_id=week["boots"], week_start=week["week_start"])
    assert boots is not None
    assert list(boots.lines.values_list("goods_rub", "fee_rub", "net_rub")) == [
        (D("3619.00"), D("180.95"), D("3438.05"))
    ]


def test_a_draft_is_rebuilt_in_place_and_an_issued_statement_is_fixed(
    week: dict[str, Any], tea: Merchant
) -> None:
    first = statement_build(merchant_id=tea.id, week_start=week["week_start"])
    again = statement_build(merchant_id=tea.id, week_start=week["week_start"])
    assert first is not None and again is not None
    assert again.id == first.id and again.lines.count() == 3
    assert SettlementStatement.objects.count() == 1
    with pytest.raises(Conflict) as open_week:
        statement_issue(statement_id=first.id, actor_id=None)
    assert open_week.value.code == "statement_period_open"
    # A merchant with no movement that week gets no statement.
    other = Merchant.objects.create(code="idle", name="Idle")
    assert statement_build(merchant_id=other.id, week_start=week["week_start"]) is None
    # Not a Monday.
    with pytest.raises(Exception) as not_monday:
        statement_build(merchant_id=tea.id, week_start=week["week_start"] + timedelta(days=1))
    assert getattr(not_monday.value, "code", "") == "invalid"


def test_last_weeks_statements_are_built_and_issued_and_later_refunds_land_in_this_week(
    week: dict[str, Any], tea: Merchant
) -> None:
    # Move the whole history a week back, then refund again today.
    LedgerTransaction.objects.update(created_at=timezone.now() - timedelta(days=7))
    last_monday = week["week_start"] - timedelta(days=7)
    refund(week["pc"], "300.30")  # 204.82 more from the tea merchant
    issued = statements_build_weekly(now=timezone.now())
    assert {(s.merchant_id, s.status, s.period_start) for s in issued} == {
        (tea.id, "issued", last_monday),
        (week["boots"], "issued", last_monday),
    }
    statement = SettlementStatement.objects.get(merchant=tea, period_start=last_monday)
    assert statement.net_rub == D("2765.07") == ledger_movement(tea, last_monday)
    assert statement.issued_at is not None
    assert list(statement.events.values_list("from_status", "to_status")) == [
        ("", "draft"),
        ("draft", "draft"),
        ("draft", "issued"),
    ]
    # Issued: a rebuild leaves it alone, issuing again is refused.
    assert statement_build(merchant_id=tea.id, week_start=last_monday) == statement
    with pytest.raises(InvalidTransition):
        statement_issue(statement_id=statement.id, actor_id=None)
    # This week: only the refund charged back on an order released earlier.
    now_statement = statement_build(merchant_id=tea.id, week_start=week["week_start"])
    assert now_statement is not None
    assert list(
        now_statement.lines.values_list(
            "order_number", "goods_rub", "fee_rub", "refunds_rub", "net_rub", "net_cny"
        )
    ) == [(week["c"].number, D("0.00"), D("0.00"), D("204.82"), D("-204.82"), D("-18.62"))]
    assert now_statement.net_rub == ledger_movement(tea, week["week_start"]) == D("-204.82")
    # Running the weekly build again changes nothing.
    assert [s.id for s in statements_build_weekly(now=timezone.now())] == [s.id for s in issued]


def test_the_csv_is_the_statement(week: dict[str, Any], tea: Merchant) -> None:
    statement = statement_build(merchant_id=tea.id, week_start=week["week_start"])
    assert statement is not None
    rows = list(csv.reader(io.StringIO(statement_csv(statement=statement))))
    a, b, c = (week[key].number for key in "abc")
    day = {
        key: week[key].__class__.objects.get(id=week[key].id).delivered_at.date().isoformat()
        for key in "abc"
    }
    assert rows == [
        [
            "order_number",
            "fulfilment_orders",
            "delivered_on",
            "goods_rub",
            "platform_fee_rub",
            "refunds_rub",
            "net_rub",
            "cny_rub_rate",
            "net_cny",
        ],
        # Each line names the merchant's own part of the order (B's boots are
        # the other merchant's part, -2).
        [a, f"{a}-1", day["a"], "1078.00", "53.90", "0.00", "1024.10", "11", "93.10"],
        [b, f"{b}-1", day["b"], "1078.00", "53.90", "0.00", "1024.10", "11", "93.10"],
        [c, f"{c}-1", day["c"], "1078.00", "53.90", "307.23", "716.87", "11", "65.17"],
        ["TOTAL", "", "", "3234.00", "161.70", "307.23", "2765.07", "", "251.37"],
    ]
    # The CSV's total is the ledger's.
    assert D(rows[-1][6]) == ledger_movement(tea, week["week_start"])
    assert sum(D(row[6]) for row in rows[1:-1]) == D(rows[-1][6])


def test_the_pdf_names_the_merchant_in_chinese_and_carries_the_totals(
    week: dict[str, Any], tea: Merchant
) -> None:
    statement = statement_build(merchant_id=tea.id, week_start=week["week_start"])
    assert statement is not None
    data = statement_pdf(statement=statement)
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    for expected in (
        "哈尔滨茶叶有限公司",
        "结算单",
        "Расчётная ведомость",
        week["a"].number,
        week["c"].number,
        "716.87",
        "2765.07",
        "251.37",
    ):
        assert expected in text, expected


# --- API and admin ------------------------------------------------------------------


def test_merchants_see_only_their_own_statements_through_the_api(
    world: World, week: dict[str, Any], tea: Merchant
) -> None:
    mine = statement_build(merchant_id=tea.id, week_start=week["week_start"])
    boots = world.products[1].merchant
    theirs = statement_build(merchant_id=boots.id, week_start=week["week_start"])
    assert mine is not None and theirs is not None
    tea_staff = client_for(MerchantStaffFactory.create(merchant=tea).user)

    listed = tea_staff.get("/api/v1/merchant/statements/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [mine.id]
    detail = tea_staff.get(f"/api/v1/merchant/statements/{mine.id}/")
    assert detail.status_code == 200
    body = detail.json()
    assert (body["merchant_name_zh"], body["net_rub"], body["net_cny"]) == (
        "哈尔滨茶叶有限公司",
        "2765.07",
        "251.37",
    )
    assert [line["net_rub"] for line in body["lines"]] == ["1024.10", "1024.10", "716.87"]
    got_csv = tea_staff.get(f"/api/v1/merchant/statements/{mine.id}/csv/")
    assert got_csv.status_code == 200 and got_csv["Content-Type"].startswith("text/csv")
    assert got_csv.content.decode() == statement_csv(statement=mine)
    got_pdf = tea_staff.get(f"/api/v1/merchant/statements/{mine.id}/pdf/")
    assert got_pdf.status_code == 200 and got_pdf["Content-Type"] == "application/pdf"

    for tail in ("", "csv/", "pdf/"):
        other = tea_staff.get(f"/api/v1/merchant/statements/{theirs.id}/{tail}")
        assert (other.status_code, other.json()["code"]) == (404, "not_found")

    operator = client_for(UserFactory.create(email="ops@amur.example", is_staff=True))
    assert {
        row["id"] for row in operator.get("/api/v1/merchant/statements/").json()["results"]
    } == {
        mine.id,
        theirs.id,
    }
    assert operator.get(f"/api/v1/merchant/statements/{theirs.id}/").status_code == 200
    buyer = client_for(world.buyer.user)
    assert buyer.get("/api/v1/merchant/statements/").status_code == 403
    assert buyer.get(f"/api/v1/merchant/statements/{mine.id}/pdf/").status_code == 403


def test_the_admin_shows_merchants_their_statements_and_downloads_them(
    world: World, week: dict[str, Any], tea: Merchant
) -> None:
    from django.contrib.auth.models import Permission

    mine = statement_build(merchant_id=tea.id, week_start=week["week_start"])
    theirs = statement_build(
        merchant_id=world.products[1].merchant_id, week_start=week["week_start"]
    )
    assert mine is not None and theirs is not None
    staff = MerchantStaffFactory.create(merchant=tea).user
    staff.user_permissions.add(Permission.objects.get(codename="view_settlementstatement"))
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/payments/settlementstatement/")
    assert page.status_code == 200
    assert list(page.context["cl"].queryset.values_list("id", flat=True)) == [mine.id]
    actions = dict(admin.site._registry[SettlementStatement].get_action_choices(page.wsgi_request))
    assert set(actions) - {""} == {"download_csv", "download_pdf"}
    download = client.post(
        "/admin/payments/settlementstatement/",
        {"action": "download_csv", "_selected_action": [mine.id]},
    )
    assert download.status_code == 200
    assert download.content.decode() == statement_csv(statement=mine)
    # Another merchant's statement cannot be picked by id.
    assert client.get(f"/admin/payments/settlementstatement/{theirs.id}/change/").status_code == 302


def test_ledger_totals_per_merchant_and_week_match_every_statement(
    world: World, week: dict[str, Any]
) -> None:
    built = [
        statement_build(merchant_id=merchant_id, week_start=week["week_start"])
        for merchant_id in {p.merchant_id for p in world.products}
    ]
    per_merchant: dict[int, Decimal] = defaultdict(Decimal)
    start, end = week_bounds(week["week_start"])
    for merchant_id, debit, credit in LedgerEntry.objects.filter(
        account__code=RELEASED, transaction__created_at__gte=start, transaction__created_at__lt=end
    ).values_list("merchant_id", "debit", "credit"):
        per_merchant[merchant_id] += credit - debit
    assert {s.merchant_id: s.net_rub for s in built if s is not None} == dict(per_merchant)


def test_merchant_staff_open_their_statements_in_the_admin_without_a_grant(
    world: World, week: dict[str, Any], tea: Merchant
) -> None:
    mine = statement_build(merchant_id=tea.id, week_start=week["week_start"])
    theirs = statement_build(merchant_id=week["boots"], week_start=week["week_start"])
    assert mine is not None and theirs is not None
    # No group, no permission: a merchant's staff may always read its own.
    staff = MerchantStaffFactory.create(merchant=tea).user
    client = Client()
    client.force_login(staff)
    index = client.get("/admin/")
    assert index.status_code == 200
    assert "/admin/payments/settlementstatement/" in index.content.decode()
    page = client.get("/admin/payments/settlementstatement/")
    assert page.status_code == 200
    assert list(page.context["cl"].queryset.values_list("id", flat=True)) == [mine.id]
    detail = client.get(f"/admin/payments/settlementstatement/{mine.id}/change/")
    assert detail.status_code == 200
    text = detail.content.decode()
    assert [line.order_number in text for line in mine.lines.all()] == [True] * 3
    assert client.get(f"/admin/payments/settlementstatement/{theirs.id}/change/").status_code == 302
    # Read-only: nothing to add, change or delete, and operator actions stay hidden.
    actions = dict(admin.site._registry[SettlementStatement].get_action_choices(page.wsgi_request))
    assert set(actions) - {""} == {"download_csv", "download_pdf"}
    assert client.post(f"/admin/payments/settlementstatement/{mine.id}/delete/").status_code == 403
    # Buyers are no staff: the admin is not theirs.
    buyer = Client()
    buyer.force_login(world.buyer.user)
    assert buyer.get("/admin/payments/settlementstatement/").status_code == 302

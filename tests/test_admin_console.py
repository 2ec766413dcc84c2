"""The merchant console: every admin page merchant staff can open is in their
language and their time zone; the dashboard's figures are the database's."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db.models import Sum
from django.test import Client
from django.utils import formats, timezone, translation

from commands.dashboard import (
    DASHBOARD_DAYS,
    LOW_STOCK_DEFAULT,
    PARCELS_ON_THE_WAY,
    departures_load,
    merchant_dashboard,
)
from commands.demo import demo_seed
from orders.models import Order, OrderLine, OrderStatus
from payments.models import LedgerEntry, SettlementStatement
from shipping.fulfilment.models import FulfilmentOrder, Parcel
from shipping.linehaul.models import Departure
from tests.admin_walk import admin_urls, english_messages, untranslated, walk
from warehouses.models import StockLevel

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MERCHANT_USER = "harbin-bear@merchant.example.cn"


@pytest.fixture
def shop(db: Any) -> User:
    demo_seed()
    return User.objects.get(username=MERCHANT_USER)


@pytest.mark.parametrize("language", ["ru", "zh-hans"])
def test_every_merchant_page_is_translated_and_in_shanghai_time(shop: User, language: str) -> None:
    client = Client()
    client.force_login(shop)
    # Every registered model's pages, and the product import and export.
    urls = [
        *admin_urls(shop),
        "/admin/catalogue/product/import/",
        "/admin/catalogue/product/export/",
    ]
    # The dashboard, and the shop's main pages at least, are walked.
    for must in ("/admin/", "/admin/shipping/fulfilmentorder/", "/admin/catalogue/product/"):
        assert must in urls
    assert "/admin/warehouses/stocklevel/" in urls
    assert "/admin/payments/settlementstatement/" in urls
    english = english_messages()
    problems = {}
    for page in walk(client, urls, language=language):
        assert page.status == 200, page.url
        assert 'lang="' + language + '"' in page.html, page.url
        bad = untranslated(page.texts, english)
        if bad:
            problems[page.url] = bad
    assert problems == {}

    # Times: the order page shows its placement in Harbin's time, and the
    # header names the zone.
    part = FulfilmentOrder.objects.filter(merchant__code="harbin-bear").order_by("id").first()
    assert part is not None
    html = client.get(f"/admin/shipping/fulfilmentorder/{part.id}/change/").content.decode()
    with translation.override(language):
        shown = formats.localize(timezone.localtime(part.created_at, SHANGHAI))
        utc = formats.localize(timezone.localtime(part.created_at, zoneinfo.ZoneInfo("UTC")))
    assert shown in html
    assert shown != utc and utc not in html
    assert "Asia/Shanghai" in html and "UTC+0800" in html


def test_operators_read_utc_and_a_chosen_zone(shop: User) -> None:
    from accounts.models import StaffPreference

    operator = User.objects.get(is_superuser=True)
    client = Client()
    client.force_login(operator)
    index = client.get("/admin/").content.decode()
    assert "<strong>UTC</strong>" in index
    # No "View site": Amur has no storefront page of its own to point to.
    assert 'href="/"' not in index
    StaffPreference.objects.create(user=operator, time_zone="Europe/Moscow")
    assert "<strong>Europe/Moscow</strong>" in client.get("/admin/").content.decode()


def test_dashboard_figures_equal_the_database(shop: User) -> None:
    merchant_id = shop.merchant_staff.merchant_id
    now = timezone.now()
    board = merchant_dashboard(merchant_id=merchant_id, now=now, tz=SHANGHAI)

    today = timezone.localtime(now, SHANGHAI).date()
    assert [d.day for d in board.days] == [
        today - timedelta(days=DASHBOARD_DAYS - 1 - n) for n in range(DASHBOARD_DAYS)
    ]
    lines = OrderLine.objects.filter(merchant_id=merchant_id).select_related("order")
    for day in board.days:
        of_day = [
            line
            for line in lines
            if line.order.status != OrderStatus.CANCELLED
            and timezone.localtime(line.order.created_at, SHANGHAI).date() == day.day
        ]
        assert day.orders == len({line.order_id for line in of_day})
        assert day.sales_cny == sum((line.line_total_cny for line in of_day), Decimal("0.00"))
    assert sum(d.orders for d in board.days) > 0

    statuses = {status: n for status, _label, n in board.by_status}
    for status in OrderStatus:
        expected = Order.objects.filter(lines__merchant_id=merchant_id, status=status).distinct()
        assert statuses[status.value] == expected.count()
    assert sum(statuses.values()) == (
        Order.objects.filter(lines__merchant_id=merchant_id).distinct().count()
    )

    parcels = Parcel.objects.filter(
        status__in=PARCELS_ON_THE_WAY, order__lines__merchant_id=merchant_id
    ).distinct()
    assert {row.lane.code: row.parcels for row in board.lanes} == {
        code: parcels.filter(lane__code=code).count()
        for code in parcels.values_list("lane__code", flat=True).distinct()
    }
    for row in board.lanes:
        oldest = parcels.filter(lane=row.lane).order_by("created_at").first()
        assert oldest is not None
        assert row.oldest_days == (now - oldest.created_at).days

    low = [
        level
        for level in StockLevel.objects.filter(product__merchant_id=merchant_id)
        if level.product.is_active
        and level.available
        < (
            level.low_stock_threshold
            if level.low_stock_threshold is not None
            else LOW_STOCK_DEFAULT
        )
    ]
    assert sorted(row.level.id for row in board.low_stock) == sorted(level.id for level in low)

    def balance(account: str) -> Decimal:
        entries = LedgerEntry.objects.filter(account__code=account, merchant_id=merchant_id)
        credit = entries.aggregate(s=Sum("credit"))["s"] or Decimal(0)
        debit = entries.aggregate(s=Sum("debit"))["s"] or Decimal(0)
        return credit - debit

    assert board.payable_held_rub == balance("merchant_payable")
    assert board.payable_released_rub == balance("merchant_payable_released")
    latest = SettlementStatement.objects.filter(merchant_id=merchant_id).latest("period_start")
    assert board.last_statement == latest

    # The page shows the same figures.
    client = Client()
    client.force_login(shop)
    page = client.get("/admin/").content.decode()
    with translation.override("ru"):
        held, net = formats.localize(board.payable_held_rub), formats.localize(latest.net_rub)
    assert f'id="payable-held">{held} ₽' in page
    assert f"<strong>{net} ₽</strong>" in page


def test_departures_load_counts_the_parcels_on_board(shop: User) -> None:
    rows = departures_load(now=timezone.now(), limit=50)
    assert rows
    for row in rows:
        on_board = Parcel.objects.filter(departure=row.departure)
        assert row.parcels == on_board.count()
        grams = sum(p.weight_g for p in on_board)
        assert row.weight_kg == (Decimal(grams) / 1000).quantize(Decimal("0.001"))
    assert {row.departure.id for row in rows} <= set(Departure.objects.values_list("id", flat=True))


def test_model_labels_catalogue_is_current() -> None:
    """A new model or field without its name in the catalogue would show in
    English: `make messages` rewrites the list, this test notices a stale one."""
    from pathlib import Path

    from django.conf import settings

    from commands.management.commands.labels_catalogue import labels_catalogue_text

    path = Path(settings.BASE_DIR) / "ecommerce" / "model_labels.py"
    assert path.read_text(encoding="utf-8") == labels_catalogue_text()

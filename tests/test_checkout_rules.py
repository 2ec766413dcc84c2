"""Checkout rules: duty as effective-dated data, per-parcel duty,
unpaid order expiry, throttled login, and the permission matrix."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from commands.cancel import orders_expire_unpaid
from commands.place import order_place
from commands.quote import LineRequest, checkout_quote
from core.cache import reference_caches_clear
from notifications.services import subscription_create
from orders.models import Order
from orders.services import Address
from shipping.customs.models import DutyRule
from tests.conftest import World, client_for
from tests.factories import MerchantStaffFactory
from warehouses.models import StockLevel
from warehouses.services import stock_receive


def quote_duty_eur(world: World, *lines: tuple[str, int], region: str = "RU-SVE") -> list[Decimal]:
    quote = checkout_quote(lines=[LineRequest(s, q) for s, q in lines], region=region)
    return [parcel.duty_eur for parcel in quote.parcels]


def test_a_newer_duty_rule_takes_effect_on_its_date_without_code(world: World) -> None:
    # 2 phones: EUR 310.63 in one parcel; the 2026 rule: 5 % of the whole value.
    assert quote_duty_eur(world, ("PHONE-0003", 2)) == [Decimal("15.53")]
    today = timezone.now().date()
    DutyRule.objects.create(
        valid_from=today + timedelta(days=1),
        value_threshold_eur=Decimal("200"),
        weight_threshold_kg=Decimal("31"),
        rate=Decimal("0.30"),
        min_eur_per_kg=Decimal("4"),
    )
    assert quote_duty_eur(world, ("PHONE-0003", 2)) == [Decimal("15.53")]  # not yet
    DutyRule.objects.create(
        valid_from=today,
        value_threshold_eur=Decimal("100"),
        weight_threshold_kg=Decimal("20"),
        rate=Decimal("0.15"),
        min_eur_per_kg=Decimal("2"),
    )
    reference_caches_clear()  # as the 30-second cache would expire
    # From today: 15 % of (310.63 - 100) = 31.59.
    assert quote_duty_eur(world, ("PHONE-0003", 2)) == [Decimal("31.59")]


def test_a_two_warehouse_order_pays_duty_on_the_purchase(world: World) -> None:
    # Harbin has sold out of tea, which only Suifenhe still holds; Suifenhe
    # has no phones: the order splits into one parcel per warehouse.
    stock_receive(warehouse_id=world.hrb.id, product_id=world.products[0].id, quantity=-50)
    quote = checkout_quote(
        lines=[LineRequest("TEA-0001", 1), LineRequest("PHONE-0003", 2)], region="RU-PRI"
    )
    by_warehouse = {p.warehouse: p for p in quote.parcels}
    assert sorted(by_warehouse) == ["HRB", "SFH"]
    assert by_warehouse["SFH"].items == {world.products[0].id: 1}
    # The 2026 rule measures the purchase: tea (EUR 11.72) and two phones
    # (EUR 310.63) together are over EUR 200, and pay 5 % of EUR 322.35 =
    # 16.12, shared by value: 0.59 (58.61 cents rounded up by the largest
    # remainder) and 15.53.
    assert by_warehouse["SFH"].duty_eur == Decimal("0.59")
    assert by_warehouse["HRB"].duty_eur == Decimal("15.53")
    assert quote.duty_rub == Decimal("54.28") + Decimal("1428.76")


def test_a_heavy_order_is_split_at_the_lanes_parcel_limit(world: World) -> None:
    stock_receive(warehouse_id=world.hrb.id, product_id=world.products[1].id, quantity=50)
    quote = checkout_quote(lines=[LineRequest("BOOT-0002", 30)], region="RU-SVE")
    assert [p.weight_g for p in quote.parcels] == [30000, 15000]
    assert all(p.weight_g <= world.air.max_parcel_weight_g for p in quote.parcels)


def test_unpaid_card_orders_expire_and_release_stock(world: World, settings: Any) -> None:
    address = Address(**world.address())
    old = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 2)],
        address=address,
        payment_method="card",
    )
    fresh = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 1)],
        address=address,
        payment_method="card",
    )
    cod = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 1)],
        address=address,
        payment_method="cod",
    )
    past = timezone.now() - timedelta(minutes=31)
    Order.objects.filter(id__in=[old.id, cod.id]).update(created_at=past)
    assert orders_expire_unpaid() == 1
    statuses = dict(Order.objects.values_list("id", "status"))
    assert statuses == {old.id: "cancelled", fresh.id: "pending_payment", cod.id: "allocated"}
    assert StockLevel.objects.get(warehouse=world.hrb, product__sku="TEA-0001").reserved == 2
    reason = Order.objects.get(id=old.id).events.last()
    assert reason is not None and reason.reason == "payment not received in time"


def test_login_and_registration_are_throttled(db: Any, monkeypatch: Any) -> None:
    from rest_framework.throttling import ScopedRateThrottle

    cache.clear()
    # DRF reads the rates once at import; patch them as the setting would.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth": "3/min"})
    client = APIClient()
    codes = [
        client.post("/api/v1/auth/token/", {"email": "a@b.ru", "password": "x"}).status_code
        for _ in range(4)
    ]
    assert codes == [400, 400, 400, 429]
    throttled = client.post("/api/v1/auth/register/", {})
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    cache.clear()


def test_permission_matrix_other_parties_get_404_and_lists_do_not_leak(world: World) -> None:
    """Two buyers and two merchants; every id-taking endpoint, called with
    the other party's id, is a 404, and no list shows the other's rows."""
    address = Address(**world.address())
    mine = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 1)],
        address=address,
        payment_method="card",
    )
    theirs = order_place(
        user_id=world.other_buyer.user_id,
        lines=[LineRequest("TEA-0001", 1)],
        address=address,
        payment_method="card",
    )
    my_hook = subscription_create(
        owner_id=world.buyer.user_id, url="http://127.0.0.1:9/a", event_types=[]
    )
    their_hook = subscription_create(
        owner_id=world.other_buyer.user_id, url="http://127.0.0.1:9/b", event_types=[]
    )
    merchant_a = MerchantStaffFactory.create().user
    merchant_b = MerchantStaffFactory.create().user
    parties = [
        (world.buyer.user, theirs.number, their_hook.id, mine.number),
        (world.other_buyer.user, mine.number, my_hook.id, theirs.number),
        (merchant_a, mine.number, my_hook.id, None),
        (merchant_b, theirs.number, their_hook.id, None),
    ]
    for user, foreign_order, foreign_hook, own_order in parties:
        client = client_for(user)
        for method, path in (
            ("get", f"/api/v1/orders/{foreign_order}/"),
            ("get", f"/api/v1/orders/{foreign_order}/events/"),
            ("post", f"/api/v1/orders/{foreign_order}/pay/"),
            ("post", f"/api/v1/orders/{foreign_order}/cancel/"),
            ("delete", f"/api/v1/webhooks/{foreign_hook}/"),
        ):
            response = getattr(client, method)(path, {"token": "tok_approve"}, format="json")
            assert response.status_code == 404, (user, path, response.status_code)
            assert response.json()["code"] == "not_found"
        orders = client.get("/api/v1/orders/").json()["results"]
        assert [o["number"] for o in orders] == ([own_order] if own_order else [])
        hooks = client.get("/api/v1/webhooks/").json()["results"]
        assert foreign_hook not in [h["id"] for h in hooks]
        # Operator endpoints are closed to buyers and to merchant staff alike.
        assert client.get("/api/v1/ops/departures/").status_code == 403
        assert client.post(f"/api/v1/ops/orders/{foreign_order}/pack/").status_code == 403
    assert set(Order.objects.values_list("status", flat=True)) == {"pending_payment"}

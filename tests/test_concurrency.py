"""No oversell and no deadlock under concurrent orders, over HTTP against
gunicorn with several workers on PostgreSQL."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from django.db.models import Sum

from tests.conftest import World
from tests.factories import ProductFactory, token_for
from tests.servers import gunicorn_server
from warehouses.models import StockLevel, StockMovement
from warehouses.services import stock_receive

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def ledger_matches_levels() -> bool:
    for level in StockLevel.objects.all():
        sums = StockMovement.objects.filter(stock=level).aggregate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
        )
        if (sums["on_hand"] or 0, sums["reserved"] or 0) != (level.on_hand, level.reserved):
            return False
    return True


def place_all(base: str, token: str, bodies: list[dict[str, Any]]) -> list[tuple[int, str]]:
    def place(body: dict[str, Any]) -> tuple[int, str]:
        response = requests.post(
            f"{base}/api/v1/orders/",
            json=body,
            headers={"Authorization": f"Token {token}", "Idempotency-Key": str(uuid.uuid4())},
            timeout=120,
        )
        return response.status_code, response.json().get("code", "")

    with ThreadPoolExecutor(max_workers=40) as pool:
        return list(pool.map(place, bodies))


def test_200_concurrent_orders_for_50_units_sell_exactly_50(world: World) -> None:
    hot = ProductFactory.create(sku="HOT-0001", weight_g=200)
    stock_receive(warehouse_id=world.hrb.id, product_id=hot.id, quantity=50)
    token = token_for(world.buyer.user)
    body = world.order_body(("HOT-0001", 1))
    with gunicorn_server(workers=4) as base:
        results = place_all(base, token, [body] * 200)
    assert Counter(results) == Counter({(201, ""): 50, (409, "out_of_stock"): 150})
    level = StockLevel.objects.get(product=hot, warehouse=world.hrb)
    assert (level.on_hand, level.reserved) == (50, 50)
    assert ledger_matches_levels()


def test_two_line_orders_in_opposite_order_neither_deadlock_nor_oversell(world: World) -> None:
    a = ProductFactory.create(sku="PAIR-A", weight_g=200)
    b = ProductFactory.create(sku="PAIR-B", weight_g=200)
    for product in (a, b):
        stock_receive(warehouse_id=world.hrb.id, product_id=product.id, quantity=50)
    token = token_for(world.buyer.user)
    forwards = world.order_body(("PAIR-A", 1), ("PAIR-B", 1))
    backwards = world.order_body(("PAIR-B", 1), ("PAIR-A", 1))
    with gunicorn_server(workers=4) as base:
        results = place_all(base, token, [forwards, backwards] * 100)
    assert all(status < 500 for status, _code in results)
    assert Counter(results) == Counter({(201, ""): 50, (409, "out_of_stock"): 150})
    reserved = dict(
        StockLevel.objects.filter(product__in=[a, b]).values_list("product__sku", "reserved")
    )
    assert reserved == {"PAIR-A": 50, "PAIR-B": 50}
    assert ledger_matches_levels()

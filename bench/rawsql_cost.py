"""What each hand-written statement of the checkout path saves: its ORM twin
against it, microseconds per call, in process on PostgreSQL, next to the time
of a whole placement (order_place) and of a whole checkout request. A
statement is kept hand-written only where the saving is a real share of the
request (docs/architecture.md, "Hand-written SQL").

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/rawsql_cost.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_recreate, database_url, django_env, manage, seed_run


def per_call(work: Callable[[], object], rounds: int) -> float:
    """Median of five runs of `rounds` calls, in microseconds per call."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            work()
        runs.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    url = database_url("amur_bench_rawsql")
    database_recreate(url)
    env = django_env(url)
    manage(env, "migrate", "--noinput", "-v", "0")
    seeded = seed_run(env, "seed.py", "4", "4", "1000000")
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "ecommerce.settings"
    import django

    django.setup()
    measure(seeded, args.rounds)


def measure(seeded: dict, rounds: int) -> None:
    from datetime import timedelta

    from django.conf import settings
    from django.db import connection, transaction
    from django.db.models import Count, F, Q, Subquery
    from django.test import Client
    from django.utils import timezone
    from knox.models import AuthToken

    from accounts.models import Buyer
    from accounts.selectors import token_get
    from catalogue.models import Product
    from commands.place import order_place
    from commands.quote import LineRequest
    from core.locking import Rank, lock_rows, locked_transaction
    from orders.models import Order, OrderEvent, OrderLine
    from orders.services import Address
    from risk.models import RiskRule
    from risk.selectors import risk_rules_active_and_orders_since
    from warehouses.models import StockLevel
    from warehouses.selectors import products_with_availability
    from warehouses.services import _locked_levels, _reserved_add

    settings.ALLOWED_HOSTS = ["*"]
    skus = seeded["skus"][:2]
    key = seeded["tokens"][0]
    token = AuthToken.objects.select_related("user").get(token_key=key[:15])
    buyer = Buyer.objects.get(user=token.user)
    products = list(Product.objects.filter(sku__in=skus))
    warehouse_ids = sorted(set(StockLevel.objects.values_list("warehouse_id", flat=True)))
    keys = sorted(
        StockLevel.objects.filter(product__in=products).values_list("warehouse_id", "product_id")
    )
    address = Address(
        recipient_name="Иван Петров",
        recipient_phone="+79221234567",
        region="RU-SVE",
        city="Екатеринбург",
        postcode="620014",
        street="ул. Малышева, 51",
    )
    since = timezone.now() - timedelta(hours=1)
    rows: list[tuple[str, float, float]] = []

    def pair(name: str, orm: Callable[[], object], raw: Callable[[], object]) -> None:
        with transaction.atomic():
            rows.append((name, per_call(orm, rounds), per_call(raw, rounds)))
            transaction.set_rollback(True)

    pair(
        "token with user and buyer",
        lambda: AuthToken.objects.select_related("user__buyer").filter(token_key=key[:15]).first(),
        lambda: token_get(key=key),
    )

    def products_orm() -> object:
        found = {p.sku: p for p in Product.objects.filter(sku__in=skus, is_active=True)}
        return found, dict(
            (
                ((w, p), a)
                for w, p, a in StockLevel.objects.filter(
                    product__sku__in=skus, warehouse_id__in=warehouse_ids
                ).values_list("warehouse_id", "product_id", F("on_hand") - F("reserved"))
            )
        )

    pair(
        "products with availability",
        products_orm,
        lambda: products_with_availability(skus=skus, warehouse_ids=warehouse_ids),
    )

    def lock_orm() -> object:
        with locked_transaction():
            return lock_rows(
                StockLevel.objects.filter(
                    warehouse_id__in={w for w, _p in keys}, product_id__in={p for _w, p in keys}
                ),
                rank=Rank.STOCK,
            )

    def lock_raw() -> object:
        with locked_transaction():
            return _locked_levels(keys)

    pair("stock levels locked", lock_orm, lock_raw)
    level_ids = list(StockLevel.objects.filter(product__in=products).values_list("id", flat=True))

    locked_levels = list(StockLevel.objects.filter(id__in=level_ids))

    def add_orm() -> None:
        # The levels are locked: their values are known, bulk_update can set them.
        StockLevel.objects.bulk_update(locked_levels, ["reserved"])

    pair(
        "reserved units added",
        add_orm,
        lambda: _reserved_add({level_id: 0 for level_id in level_ids}),
    )

    def risk_orm() -> object:
        rules = list(RiskRule.objects.filter(is_active=True, kind__in=["orders_per_hour"]))
        return rules, Order.objects.filter(buyer_id=buyer.id, created_at__gt=since).count()

    pair(
        "risk rules and the last hour's orders",
        risk_orm,
        lambda: risk_rules_active_and_orders_since(
            kinds=["orders_per_hour"], buyer_id=buyer.id, since=since
        ),
    )
    del Count, Q, Subquery, OrderEvent, OrderLine

    def place() -> object:
        return order_place(
            user_id=buyer.user_id,
            lines=[LineRequest(sku=sku, quantity=1) for sku in skus],
            address=address,
            payment_method="cod",
            buyer=buyer,
        )

    with transaction.atomic():
        placement = per_call(place, max(rounds // 10, 20))
        transaction.set_rollback(True)
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    body = {
        "lines": [{"sku": sku, "quantity": 1} for sku in skus],
        "shipping_address": address.__dict__,
        "payment_method": "cod",
    }
    counter = iter(range(10**9))

    def request() -> object:
        response = client.post(
            "/api/v1/orders/",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=f"bench-{next(counter)}",
        )
        assert response.status_code == 201, response.content
        return response

    with transaction.atomic():
        checkout = per_call(request, max(rounds // 10, 20))
        transaction.set_rollback(True)
    print(
        f"one placement (order_place): {placement:8.0f} us; one checkout request: {checkout:8.0f} us"
    )
    print(f"{'statement':40} {'ORM us':>8} {'raw us':>8} {'saved':>8} {'of request':>10}")
    for name, orm, raw in rows:
        saved = orm - raw
        print(f"{name:40} {orm:8.0f} {raw:8.0f} {saved:8.0f} {saved / checkout:10.1%}")
    connection.close()


def place_once(buyer: object, skus: list[str], address: object) -> object:
    from commands.place import order_place
    from commands.quote import LineRequest

    return order_place(
        user_id=buyer.user_id,  # type: ignore[attr-defined]
        lines=[LineRequest(sku=sku, quantity=1) for sku in skus],
        address=address,  # type: ignore[arg-type]
        payment_method="cod",
        buyer=buyer,  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    main()

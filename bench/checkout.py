"""Checkout throughput: orders per second through the API (gunicorn, several
clients, PostgreSQL) against the same rows written by raw psycopg2
transactions, in the same run. Goal: ratio at least 0.25.

The server runs as deployed: DEBUG off and Celery on Redis (the order's
outbox event is enqueued, not delivered in the request), the raw phase writes
the same rows, outbox rows and the order's fulfilment orders included.

The HTTP clients use http.client over one keep-alive connection each rather
than requests: the clients share the server's cores, and what is measured is
the server, so they should take as little of them as they can.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/checkout.py
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_recreate, database_url, django_env, gunicorn, manage, seed_run

ADDRESS = {
    "recipient_name": "Иван Петров",
    "recipient_phone": "+79221234567",
    "region": "RU-SVE",
    "city": "Екатеринбург",
    "postcode": "620014",
    "street": "ул. Малышева, 51",
}


def run_clients(
    clients: int, per_client: int, work: Callable[[int, int], bool]
) -> tuple[float, int]:
    ok = [0] * clients

    def loop(index: int) -> None:
        for n in range(per_client):
            if work(index, n):
                ok[index] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(ok)


def http_phase(
    base: str, tokens: list[str], skus: list[str], clients: int, per_client: int, lines: int
) -> tuple[float, int]:
    address = urlsplit(base)
    connections = [
        http.client.HTTPConnection(address.hostname or "", address.port, timeout=60)
        for _ in range(clients)
    ]

    def work(index: int, n: int) -> bool:
        chosen = [skus[(index * per_client + n + k) % len(skus)] for k in range(lines)]
        body = {
            "lines": [{"sku": sku, "quantity": 1} for sku in dict.fromkeys(chosen)],
            "shipping_address": ADDRESS,
            "payment_method": "card",
        }
        connection = connections[index]
        connection.request(
            "POST",
            "/api/v1/orders/",
            body=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Token {tokens[(index * per_client + n) % len(tokens)]}",
                "Idempotency-Key": str(uuid.uuid4()),
            },
        )
        response = connection.getresponse()
        response.read()
        return response.status == 201

    try:
        return run_clients(clients, per_client, work)
    finally:
        for connection in connections:
            connection.close()


RAW_ORDER = """
INSERT INTO orders_order (number, status, payment_method, recipient_name, recipient_phone, region,
  city, postcode, street, currency, goods_cny, goods_rub, shipping_rub, duty_rub, total_rub,
  cny_rub_rate, eur_rub_rate, rates_date, plan, event_seq, created_at, updated_at, buyer_id)
VALUES (%s, 'pending_payment', 'card', %s, %s, %s, %s, %s, %s, 'RUB', %s, %s, %s, 0, %s,
  %s, %s, current_date, %s, 1, now(), now(), %s) RETURNING id
"""


def raw_phase(
    url: str, skus: list[str], clients: int, per_client: int, lines: int
) -> tuple[float, int]:
    connections = [psycopg2.connect(url) for _ in range(clients)]
    with connections[0].cursor() as cur:
        cur.execute("SELECT id FROM accounts_buyer ORDER BY id LIMIT 1")
        buyer_id = cur.fetchone()[0]
        cur.execute("SELECT user_id FROM accounts_buyer ORDER BY id LIMIT 1")
        user_id = cur.fetchone()[0]
        cur.execute("SELECT id FROM warehouses_warehouse WHERE code = 'HRB'")
        warehouse_id = cur.fetchone()[0]
    connections[0].commit()

    def work(index: int, n: int) -> bool:
        conn = connections[index]
        chosen = list(
            dict.fromkeys(skus[(index * per_client + n + k) % len(skus)] for k in range(lines))
        )
        with conn.cursor() as cur:
            key = str(uuid.uuid4())
            cur.execute(
                "INSERT INTO core_idempotencykey (user_id, key, fingerprint, method, path, status,"
                " locked_at, created_at, expires_at) VALUES (%s, %s, 'x', 'POST', '/api/v1/orders/',"
                " 'in_progress', now(), now(), now() + interval '24 hours') RETURNING id",
                (user_id, key),
            )
            key_id = cur.fetchone()[0]
            conn.commit()
            cur.execute(
                "SELECT id, price_cny, weight_g, merchant_id, name_ru, sku FROM catalogue_product"
                " WHERE sku = ANY(%s) AND is_active",
                (chosen,),
            )
            products = cur.fetchall()
            cur.execute(
                "SELECT id, product_id, on_hand, reserved FROM warehouses_stocklevel"
                " WHERE warehouse_id = %s AND product_id = ANY(%s) ORDER BY id FOR UPDATE",
                (warehouse_id, [p[0] for p in products]),
            )
            stock = {row[1]: row for row in cur.fetchall()}
            if any(stock[p[0]][2] - stock[p[0]][3] < 1 for p in products):
                conn.rollback()
                return False
            goods = sum((p[1] for p in products), Decimal(0))
            weight = sum(p[2] for p in products)
            shipping = (Decimal(25) + Decimal("4.5") * -(-weight // 100)) * Decimal("11.05")
            goods_rub = (goods * Decimal("11.05")).quantize(Decimal("0.01"))
            cur.execute(
                RAW_ORDER,
                (
                    "R" + key[:12],
                    ADDRESS["recipient_name"],
                    ADDRESS["recipient_phone"],
                    ADDRESS["region"],
                    ADDRESS["city"],
                    ADDRESS["postcode"],
                    ADDRESS["street"],
                    goods,
                    goods_rub,
                    shipping,
                    goods_rub + shipping,
                    Decimal("11.05"),
                    Decimal("92.48"),
                    json.dumps([{"warehouse_id": warehouse_id}]),
                    buyer_id,
                ),
            )
            order_id = cur.fetchone()[0]
            args = ",".join(
                cur.mogrify(
                    "(%s,%s,%s,%s,%s,1,%s,%s)", (order_id, p[0], p[3], p[5], p[4], p[1], p[1])
                ).decode()
                for p in products
            )
            cur.execute(
                "INSERT INTO orders_orderline (order_id, product_id, merchant_id, sku, name, quantity,"
                f" unit_price_cny, line_total_cny) VALUES {args} RETURNING id, product_id"
            )
            line_ids = cur.fetchall()
            cur.execute(
                "INSERT INTO orders_orderevent (order_id, sequence, from_status, to_status, reason,"
                " data, created_at) VALUES (%s, 1, '', 'pending_payment', '', '{}', now())",
                (order_id,),
            )
            ids = [stock[p[0]][0] for p in products]
            cur.execute(
                "UPDATE warehouses_stocklevel SET reserved = reserved + 1 WHERE id = ANY(%s)",
                (ids,),
            )
            cur.execute(
                "INSERT INTO warehouses_stockmovement (stock_id, kind, on_hand_delta, reserved_delta,"
                " order_id, reason, created_at) SELECT unnest(%s::bigint[]), 'reservation', 0, 1, %s,"
                " '', now()",
                (ids, order_id),
            )
            cur.execute(
                "INSERT INTO warehouses_reservation (order_id, line_id, stock_id, quantity, status,"
                " created_at) SELECT %s, unnest(%s::bigint[]), unnest(%s::bigint[]), 1, 'active', now()",
                (
                    order_id,
                    [line[0] for line in line_ids],
                    [stock[line[1]][0] for line in line_ids],
                ),
            )
            cur.execute(
                "INSERT INTO notifications_outboxevent (id, type, subject, sequence, payload,"
                " audience_id, audience_ids, email_to, email_subject, email_body, occurred_at,"
                " created_at) VALUES (%s, 'order.status_changed', %s, 1, '{}', %s, '[]', '', '',"
                " '', now(), now())",
                (str(uuid.uuid4()), f"order:{order_id}", user_id),
            )
            # The order's parts, one per merchant (one warehouse here): each
            # with its lines, its first step and its merchant's outbox event,
            # as the API writes them; and the buyer's saved identity, read to
            # be copied onto an order that crosses the border.
            cur.execute("SELECT id FROM accounts_buyeridentity WHERE buyer_id = %s", (buyer_id,))
            cur.fetchall()
            line_of_product = {line[1]: line[0] for line in line_ids}
            by_merchant: dict[int, list[tuple]] = {}
            for p in products:
                by_merchant.setdefault(p[3], []).append(p)
            parts = sorted(by_merchant.items())
            values = ",".join(
                cur.mogrify(
                    "(%s,%s,%s,%s,'pending',%s,1,now(),now())",
                    (order_id, merchant, warehouse_id, f"R{key[:12]}-{n}", sum(q[1] for q in ps)),
                ).decode()
                for n, (merchant, ps) in enumerate(parts, start=1)
            )
            cur.execute(
                "INSERT INTO shipping_fulfilmentorder (order_id, merchant_id, warehouse_id, number,"
                f" status, goods_cny, event_seq, created_at, updated_at) VALUES {values}"
                " RETURNING id"
            )
            part_ids = [row[0] for row in cur.fetchall()]
            cur.execute(
                "INSERT INTO shipping_fulfilmentorderline (fulfilment_order_id, line_id, quantity)"
                " SELECT unnest(%s::bigint[]), unnest(%s::bigint[]), 1",
                (
                    [pid for pid, (_m, ps) in zip(part_ids, parts, strict=True) for _p in ps],
                    [line_of_product[p[0]] for _m, ps in parts for p in ps],
                ),
            )
            cur.execute(
                "INSERT INTO shipping_fulfilmentorderevent (fulfilment_order_id, sequence,"
                " from_status, to_status, reason, created_at)"
                " SELECT unnest(%s::bigint[]), 1, '', 'pending', 'placed', now()",
                (part_ids,),
            )
            cur.execute(
                "INSERT INTO notifications_outboxevent (id, type, subject, sequence, payload,"
                " audience_id, audience_ids, email_to, email_subject, email_body, occurred_at,"
                " created_at) SELECT unnest(%s::uuid[]), 'fulfilment_order.status_changed',"
                " unnest(%s::text[]), 1, '{}', NULL, '[]', '', '', '', now(), now()",
                (
                    [str(uuid.uuid4()) for _ in part_ids],
                    [f"fulfilment_order:{pid}" for pid in part_ids],
                ),
            )
            cur.execute(
                "UPDATE core_idempotencykey SET status = 'complete', response_status = 201,"
                " response_body = '{}' WHERE id = %s",
                (key_id,),
            )
        conn.commit()
        return True

    try:
        return run_clients(clients, per_client, work)
    finally:
        for conn in connections:
            conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--orders", type=int, default=400, help="per phase")
    parser.add_argument("--lines", type=int, default=2)
    parser.add_argument("--skus", type=int, default=200)
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/6",
        help="the Celery broker, as deployed; '' runs the tasks in the web process instead",
    )
    args = parser.parse_args()

    url = database_url("amur_bench_checkout")
    database_recreate(url)
    env = {**django_env(url), "REDIS_URL": args.redis}
    if args.redis:
        # No worker runs: the order events queue up in the broker, as the
        # raw phase's outbox rows stay in the table.
        redis.Redis.from_url(args.redis).flushdb()
    manage(env, "migrate", "-v0")
    # Many buyers with a few orders each, as in real traffic: a handful of
    # buyers placing hundreds of orders an hour would (rightly) be held for
    # review by the orders-per-hour risk rule.
    buyers = max(args.clients, (args.orders + 2 * args.clients) // 3)
    seeded = seed_run(env, "seed.py", str(args.skus), str(buyers), "1000000")
    per_client = max(1, args.orders // args.clients)
    with gunicorn(env, args.workers) as base:
        http_phase(base, seeded["tokens"], seeded["skus"], args.clients, 2, args.lines)  # warm up
        http_seconds, http_ok = http_phase(
            base, seeded["tokens"], seeded["skus"], args.clients, per_client, args.lines
        )
    raw_seconds, raw_ok = raw_phase(url, seeded["skus"], args.clients, per_client, args.lines)
    if args.redis:
        redis.Redis.from_url(args.redis).flushdb()
    http_rate = http_ok / http_seconds
    raw_rate = raw_ok / raw_seconds
    print(
        f"clients={args.clients} gunicorn_workers={args.workers} lines={args.lines} orders={per_client * args.clients}"
    )
    print(
        f"api (HTTP, Django):   {http_ok} orders in {http_seconds:.2f} s = {http_rate:.1f} orders/s"
    )
    print(f"raw psycopg2:         {raw_ok} orders in {raw_seconds:.2f} s = {raw_rate:.1f} orders/s")
    print(f"ratio api/raw: {http_rate / raw_rate:.3f} (goal >= 0.25)")


if __name__ == "__main__":
    main()

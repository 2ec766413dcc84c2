"""Contention: orders per second with every client on one SKU against the
same clients spread over 1,000 SKUs, in one run (gunicorn, PostgreSQL).
Goal: hot / spread at least 0.3, with zero oversells.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/hot_sku.py
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

import psycopg2
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.checkout import ADDRESS, run_clients
from bench.common import database_recreate, database_url, django_env, gunicorn, manage, seed_run


def phase(
    base: str, tokens: list[str], skus: list[str], clients: int, per_client: int
) -> tuple[float, int]:
    sessions = [requests.Session() for _ in range(clients)]

    def work(index: int, n: int) -> bool:
        sku = skus[(index * per_client + n) % len(skus)]
        response = sessions[index].post(
            base + "/api/v1/orders/",
            json={
                "lines": [{"sku": sku, "quantity": 1}],
                "shipping_address": ADDRESS,
                "payment_method": "card",
            },
            headers={
                "Authorization": f"Token {tokens[index % len(tokens)]}",
                "Idempotency-Key": str(uuid.uuid4()),
            },
            timeout=120,
        )
        if response.status_code >= 500:
            raise RuntimeError(f"server error {response.status_code}: {response.text[:200]}")
        return response.status_code == 201

    return run_clients(clients, per_client, work)


def oversells(url: str) -> int:
    """Levels whose reservations exceed stock or disagree with the ledger."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            """
            SELECT count(*) FROM warehouses_stocklevel s
            LEFT JOIN (
                SELECT stock_id, sum(on_hand_delta) AS on_hand, sum(reserved_delta) AS reserved
                FROM warehouses_stockmovement GROUP BY stock_id
            ) m ON m.stock_id = s.id
            WHERE s.reserved > s.on_hand
               OR s.on_hand <> coalesce(m.on_hand, 0)
               OR s.reserved <> coalesce(m.reserved, 0)
            """
        )
        return int(cur.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--orders", type=int, default=480, help="per phase")
    args = parser.parse_args()

    url = database_url("amur_bench_hot_sku")
    database_recreate(url)
    env = django_env(url)
    manage(env, "migrate", "-v0")
    seeded = seed_run(env, "seed.py", "1000", str(args.clients), "1000000")
    skus, tokens = seeded["skus"], seeded["tokens"]
    per_client = max(1, args.orders // args.clients)
    with gunicorn(env, args.workers) as base:
        phase(base, tokens, skus, args.clients, 2)  # warm up
        spread_s, spread_ok = phase(base, tokens, skus, args.clients, per_client)
        hot_s, hot_ok = phase(base, tokens, skus[:1], args.clients, per_client)
    spread_rate, hot_rate = spread_ok / spread_s, hot_ok / hot_s
    bad = oversells(url)
    print(
        f"clients={args.clients} gunicorn_workers={args.workers} orders/phase={per_client * args.clients}"
    )
    print(
        f"spread over {len(skus)} SKUs: {spread_ok} orders in {spread_s:.2f} s = {spread_rate:.1f} orders/s"
    )
    print(f"one hot SKU:            {hot_ok} orders in {hot_s:.2f} s = {hot_rate:.1f} orders/s")
    print(f"ratio hot/spread: {hot_rate / spread_rate:.3f} (goal >= 0.3); oversold levels: {bad}")


if __name__ == "__main__":
    main()

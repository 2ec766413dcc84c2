"""Growth: courier scan ingest and public tracking reads with 10^5 and then
10^7 tracking events in the table, in one run. Goal: at 10^7 both within 0.8
of 10^5 (ingest rate at 10^7 / at 10^5 >= 0.8; tracking latency at 10^5 /
at 10^7 >= 0.8).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/growth.py

The database is migrated as deployed: tracking events partitioned by month
(core.partitions), partitions made for the last 12 months and 3 ahead. The
background events belong to parcels of their own (ten events each, a month
of the last year per parcel), written by INSERT ... SELECT FROM
generate_series on the server, so 10^7 rows take minutes, not hours.

Each phase (at 10^5, then at 10^7 events, after VACUUM ANALYZE):

- ingest: --clients courier devices post --batches batches of 1,000 scans
  (customs_presented, customs_released, out_for_delivery, interleaved as in
  bench/scans.py) to POST /api/v1/courier/scans/ on gunicorn; parcels of the
  phase's own, so no scan is a duplicate or comes after a final event;
- reads: GET /api/v1/tracking/{number} of --reads of those parcels (seven
  events each by then), one client at a time; median and 95th percentile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_recreate, database_url, django_env, gunicorn, manage, seed_run
from bench.scans import EVENTS, client_scans, http_bodies, http_phase, vacuum

SMALL, LARGE = 10**5, 10**7
EVENTS_PER_PARCEL = 10
CHUNK_PARCELS = 100_000  # background parcels per INSERT statement (10^6 events)
MONTHS = 12

PARTITIONS_MAKE = (
    "from datetime import timedelta; from django.utils import timezone;"
    " from core.partitions import TRACKING, partitions_ensure;"
    " today = timezone.now().date();"
    f" partitions_ensure(TRACKING, today=today, ahead=3, since=today - timedelta(days={MONTHS * 31}))"
)


def columns(cur, table: str, skip: set[str]) -> list[str]:
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
        " ORDER BY ordinal_position",
        [table],
    )
    return [name for (name,) in cur.fetchall() if name not in skip]


def background_parcels(cur, first: int, count: int, template: int) -> None:
    """`count` parcels copied from `template` (its order, lane, departure),
    numbered ZZ000000001CN onwards: never looked up, never scanned."""
    cols = columns(cur, "shipping_parcel", {"id", "tracking_number"})
    names = ", ".join(cols)
    cur.execute(
        f"INSERT INTO shipping_parcel ({names}, tracking_number)"
        f" SELECT {', '.join('t.' + c for c in cols)},"
        " 'ZZ' || lpad(g::text, 9, '0') || 'CN'"
        " FROM shipping_parcel t, generate_series(%s, %s) g WHERE t.id = %s",
        [first, first + count - 1, template],
    )


def background_events(cur, first: int, count: int) -> int:
    """Ten events for each background parcel numbered first..first+count-1,
    in one month of the last twelve per parcel; returns how many."""
    cur.execute(
        "INSERT INTO shipping_trackingevent (parcel_id, event, status, emsevt, occurred_at,"
        " recorded_at, location, source, data)"
        " SELECT p.id, (ARRAY['label_created', 'loaded', 'departed', 'arrived'])[k %% 4 + 1],"
        " (ARRAY['info_received', 'in_transit', 'in_transit', 'in_transit'])[k %% 4 + 1],"
        " (ARRAY['EMA', 'EMC', 'EXC', 'EMD'])[k %% 4 + 1],"
        " now() - make_interval(days => (g %% %s) * 30 + 2) + make_interval(mins => k * 7),"
        " now(), 'Harbin', 'system', '{}'::jsonb"
        " FROM generate_series(%s, %s) g"
        " JOIN shipping_parcel p ON p.tracking_number = 'ZZ' || lpad(g::text, 9, '0') || 'CN',"
        " generate_series(0, %s) k",
        [MONTHS, first, first + count - 1, EVENTS_PER_PARCEL - 1],
    )
    return cur.rowcount


def events_count(cur) -> int:
    cur.execute("SELECT count(*) FROM shipping_trackingevent")
    return int(cur.fetchone()[0])


def grow_to(url: str, target: int, state: dict[str, int]) -> float:
    """Add background parcels and events until the table holds `target` events."""
    started = time.perf_counter()
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        missing = target - events_count(cur)
        parcels = max(missing // EVENTS_PER_PARCEL, 0)
        for start in range(0, parcels, CHUNK_PARCELS):
            count = min(CHUNK_PARCELS, parcels - start)
            background_parcels(cur, state["next"], count, state["template"])
            background_events(cur, state["next"], count)
            state["next"] += count
            print(
                f"  ... {events_count(cur):,} events after {time.perf_counter() - started:.0f} s",
                flush=True,
            )
        total = events_count(cur)
    conn.close()
    vacuum(url)
    print(f"table at {total:,} events ({time.perf_counter() - started:.0f} s with VACUUM ANALYZE)")
    return time.perf_counter() - started


def reads(base: str, numbers: list[str]) -> list[float]:
    session = requests.Session()
    timings = []
    for number in numbers:
        started = time.perf_counter()
        response = session.get(f"{base}/api/v1/tracking/{number}/", timeout=30)
        timings.append(time.perf_counter() - started)
        if response.status_code != 200 or len(response.json()["events"]) < 4:
            raise RuntimeError(
                f"GET tracking {number}: {response.status_code} {response.text[:200]}"
            )
    return timings


def phase(
    env: dict[str, str], args: argparse.Namespace, token: str, numbers: list[str], label: str
) -> tuple[float, float, float]:
    now = datetime.now(UTC)
    per_client = len(numbers) // args.clients
    bodies = [
        http_bodies(
            client_scans(numbers[c * per_client : (c + 1) * per_client], now, f"{label}{c}-"),
            args.batch,
        )
        for c in range(args.clients)
    ]
    with gunicorn(env, args.workers) as base:
        reads(base, numbers[: args.clients])  # warm each worker's connection and caches
        seconds, accepted = http_phase(base, token, bodies)
        timings = reads(base, numbers[args.clients : args.clients + args.reads])
    rate = accepted / seconds
    median = statistics.median(timings) * 1000
    p95 = statistics.quantiles(timings, n=20)[-1] * 1000
    print(
        f"{label}: ingest {accepted:,} scans in {seconds:.2f} s = {rate:,.0f} scans/s;"
        f" GET tracking median {median:.2f} ms, p95 {p95:.2f} ms ({len(timings)} reads)"
    )
    return rate, median, p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=24, help="per phase, over all clients")
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--large", type=int, default=LARGE)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6"))
    args = parser.parse_args()

    per_phase = args.batches // args.clients * args.batch // len(EVENTS) * args.clients
    url = database_url("amur_bench_growth")
    database_recreate(url)
    queue = redis.Redis.from_url(args.redis)
    queue.delete("celery")
    env = {**django_env(url), "REDIS_URL": args.redis}
    manage(env, "migrate", "-v0")
    manage(env, "shell", "-c", PARTITIONS_MAKE)
    seeded = seed_run(env, "seed_parcels.py", str(2 * per_phase), "--stage", "in_transit")
    numbers = seeded["tracking_numbers"]
    small_set, large_set = numbers[:per_phase], numbers[per_phase : 2 * per_phase]
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT min(id) FROM shipping_parcel")
        state = {"template": cur.fetchone()[0], "next": 1}
    load_before = os.getloadavg()[0]

    grow_to(url, SMALL, state)
    small = phase(env, args, seeded["courier_token"], small_set, "at 10^5")
    queue.delete("celery")
    grow_seconds = grow_to(url, args.large, state)
    label = "at 10^7" if args.large == LARGE else f"at {args.large:,}"
    large = phase(env, args, seeded["courier_token"], large_set, label)
    queue.delete("celery")

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'shipping_trackingevent'::regclass"
        )
        partitions = cur.fetchone()[0]
    print(
        f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}"
        f" ({os.cpu_count()} CPUs); {partitions} tracking partitions;"
        f" growing to {args.large:,} took {grow_seconds:.0f} s"
    )
    print(f"ingest ratio (10^7 / 10^5 scans/s): {large[0] / small[0]:.3f} (goal >= 0.8)")
    print(f"tracking ratio (10^5 / 10^7 median ms): {small[1] / large[1]:.3f} (goal >= 0.8)")
    print(f"tracking ratio (10^5 / 10^7 p95 ms): {small[2] / large[2]:.3f}")


if __name__ == "__main__":
    main()

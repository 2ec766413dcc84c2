"""Courier scan ingest: scan events per second through the batch endpoint
(POST /api/v1/courier/scans/, batches of 1,000, several clients, gunicorn with
several workers, PostgreSQL, outbox tasks queued on Redis) against a COPY of
the same rows into shipping_trackingevent (psycopg2 copy_expert, one COPY and
commit per batch of 1,000, as many connections as clients), in the same run.
Goal: ratio at least 0.25.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/scans.py

The parcels have arrived in Yekaterinburg; each gets customs_presented,
customs_released and out_for_delivery, half an hour apart. Each client is a
courier device with its own parcels; its batches interleave the three events
(one group's presentations with the previous group's releases and the group
before's hand-overs), so every batch mixes all three and every scan changes a
parcel's status, as it does in production.

The endpoint stores the scans (events plus a pending row each) and enqueues
their application; applying them to the parcels (status, outbox event, the
orders' transitions) is a Celery task. No worker runs during the API phase, so
the rate is the endpoint's own. Then, in the same run, a Celery worker
(prefork, --apply-concurrency processes) drains what the API phase queued: the
benchmark prints how long until no scan is pending, counted from the worker's
start, the end-to-end rate (scans / (API time + apply time)) and checks that
every parcel ended out for delivery with three status changes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    celery_workers,
    database_recreate,
    database_url,
    django_env,
    gunicorn,
    manage,
    seed_run,
)

EVENTS = (
    # event, status, EMSEVT code, minutes before now
    ("customs_presented", "in_customs", "EDB", 90),
    ("customs_released", "in_transit", "EMF", 60),
    ("out_for_delivery", "out_for_delivery", "EDG", 30),
)
LOCATION = "Екатеринбург"


def client_scans(
    numbers: Sequence[str], now: datetime, prefix: str
) -> list[tuple[str, str, str, datetime, str, str, str]]:
    """The scans of one device, in upload order: (scan_id, tracking number,
    event, occurred_at, status, emsevt, location). Group g's presentations go
    with group g-1's releases and group g-2's hand-overs."""
    group = 334
    groups = [numbers[i : i + group] for i in range(0, len(numbers), group)]
    scans = []
    for step in range(len(groups) + len(EVENTS) - 1):
        for stage, (event, status, emsevt, minutes) in enumerate(EVENTS):
            g = step - stage
            if 0 <= g < len(groups):
                for k, number in enumerate(groups[g]):
                    at = now - timedelta(minutes=minutes, seconds=k % 600)
                    scans.append(
                        (f"{prefix}{number}-{stage}", number, event, at, status, emsevt, LOCATION)
                    )
    return scans


def chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_parallel(work: Sequence[list], do: callable) -> tuple[float, int]:
    done = [0] * len(work)

    def loop(index: int) -> None:
        for item in work[index]:
            done[index] += do(index, item)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(work))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sum(done)


def http_phase(base: str, token: str, per_client: list[list[bytes]]) -> tuple[float, int]:
    sessions = [requests.Session() for _ in per_client]
    headers = {
        "Authorization": f"Token {token}",
        "Content-Type": "application/json",
        "Accept-Language": "en",
    }

    def post(index: int, body: bytes) -> int:
        response = sessions[index].post(
            base + "/api/v1/courier/scans/", data=body, headers=headers, timeout=300
        )
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
        result = response.json()
        if result["rejected"]:
            raise RuntimeError(f"rejected scans: {result['rejected'][:3]}")
        return int(result["accepted"])

    return run_parallel(per_client, post)


def http_bodies(scans: list[tuple], batch: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "scans": [
                    {
                        "scan_id": scan_id,
                        "tracking_number": number,
                        "event": event,
                        "occurred_at": at.isoformat(),
                        "location": location,
                    }
                    for scan_id, number, event, at, _s, _e, location in chunk
                ]
            },
            ensure_ascii=False,
        ).encode()
        for chunk in chunks(scans, batch)
    ]


COPY_SQL = (
    "COPY shipping_trackingevent (parcel_id, event, status, emsevt, occurred_at, recorded_at,"
    " location, source, courier_id, scan_id, data) FROM STDIN"
)


def copy_buffers(
    scans: list[tuple], batch: int, parcel_ids: dict[str, int], courier_id: int
) -> list[str]:
    buffers = []
    for chunk in chunks(scans, batch):
        now = datetime.now(UTC).isoformat()
        buffers.append(
            "".join(
                f"{parcel_ids[number]}\t{event}\t{status}\t{emsevt}\t{at.isoformat()}\t{now}\t"
                f"{location}\tcourier\t{courier_id}\tcopy-{scan_id}\t{{}}\n"
                for scan_id, number, event, at, status, emsevt, location in chunk
            )
        )
    return buffers


def copy_phase(url: str, per_client: list[list[str]]) -> tuple[float, int]:
    connections = [psycopg2.connect(url) for _ in per_client]

    def copy(index: int, buffer: str) -> int:
        conn = connections[index]
        with conn.cursor() as cur:
            cur.copy_expert(COPY_SQL, io.StringIO(buffer))
            rows = cur.rowcount
        conn.commit()
        return rows

    try:
        return run_parallel(per_client, copy)
    finally:
        for conn in connections:
            conn.close()


def apply_phase(url: str, env: dict[str, str], concurrency: int) -> float:
    """Start a Celery worker on the queued tasks; seconds until no scan is
    pending (worker start-up included)."""
    started = time.perf_counter()
    workers = celery_workers(env, 1, concurrency)
    try:
        with psycopg2.connect(url) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                while True:
                    cur.execute("SELECT EXISTS (SELECT 1 FROM shipping_pendingevent)")
                    if not cur.fetchone()[0]:
                        return time.perf_counter() - started
                    if time.perf_counter() - started > 600:
                        raise RuntimeError("scans still pending after 10 minutes")
                    time.sleep(0.05)
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=60)


def parcels_by_state(url: str) -> dict[tuple[str, int], int]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT status, event_seq, count(*) FROM shipping_parcel GROUP BY 1, 2")
        return {(status, seq): n for status, seq, n in cur.fetchall()}


def vacuum(url: str) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()


def seed(env: dict[str, str], parcels: int) -> dict:
    return seed_run(env, "seed_parcels.py", str(parcels), "--stage", "in_transit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=64, help="per phase, over all clients")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--apply-concurrency", type=int, default=2)
    args = parser.parse_args()

    per_client_scans = args.batches // args.clients * args.batch
    per_client_parcels = per_client_scans // len(EVENTS)
    warm_parcels = args.clients * 20
    url = database_url("amur_bench_scans")
    database_recreate(url)
    queue = redis.Redis.from_url(args.redis)
    queue.flushdb()
    env = {**django_env(url), "REDIS_URL": args.redis}
    manage(env, "migrate", "-v0")
    seeded = seed(env, per_client_parcels * args.clients + warm_parcels)
    numbers = seeded["tracking_numbers"]
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT tracking_number, id FROM shipping_parcel")
        parcel_ids = dict(cur.fetchall())
        cur.execute("SELECT id FROM accounts_courier")
        courier_id = cur.fetchone()[0]
    vacuum(url)
    now = datetime.now(UTC)
    scans = [
        client_scans(numbers[c * per_client_parcels : (c + 1) * per_client_parcels], now, f"c{c}-")
        for c in range(args.clients)
    ]
    warm = [
        client_scans(numbers[-warm_parcels:][c * 20 : (c + 1) * 20], now, "warm-")
        for c in range(args.clients)
    ]
    bodies = [http_bodies(s, args.batch) for s in scans]
    warm_bodies = [http_bodies(s, args.batch) for s in warm]
    before = parcels_by_state(url)
    load_before = os.getloadavg()[0]
    with gunicorn(env, args.workers) as base:
        http_phase(base, seeded["courier_token"], warm_bodies)
        http_seconds, http_ok = http_phase(base, seeded["courier_token"], bodies)
    queued = queue.llen("celery")
    apply_seconds = apply_phase(url, env, args.apply_concurrency)
    states = parcels_by_state(url)
    queue.flushdb()
    buffers = [copy_buffers(s, args.batch, parcel_ids, courier_id) for s in scans]
    copy_seconds, copy_ok = copy_phase(url, buffers)

    http_rate, copy_rate = http_ok / http_seconds, copy_ok / copy_seconds
    print(
        f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)"
    )
    print(
        f"clients={args.clients} gunicorn_workers={args.workers} batch={args.batch}"
        f" scans/phase={sum(len(s) for s in scans)} parcels={len(numbers) - warm_parcels}"
        f" (tasks queued by the API phase: {queued})"
    )
    print(
        f"api (HTTP, Django):  {http_ok} scans in {http_seconds:.2f} s = {http_rate:,.0f} scans/s"
    )
    print(
        f"applied by a worker: {http_ok} scans in {apply_seconds:.2f} s after the API phase"
        f" = {http_ok / apply_seconds:,.0f} scans/s;"
        f" end to end {http_ok / (http_seconds + apply_seconds):,.0f} scans/s"
    )
    expected = {("out_for_delivery", seq + 3): n for (_status, seq), n in before.items()}
    print(
        f"parcels: before {before}, after {states}: "
        + ("each out for delivery after 3 changes" if states == expected else "NOT AS EXPECTED")
    )
    print(f"COPY (psycopg2):     {copy_ok} rows in {copy_seconds:.2f} s = {copy_rate:,.0f} rows/s")
    print(f"ratio api/copy: {http_rate / copy_rate:.3f} (goal >= 0.25)")


if __name__ == "__main__":
    main()

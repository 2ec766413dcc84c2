"""Webhook fan-out of a departure: from the departure call until a receiver on
loopback has every webhook (PostgreSQL, Redis, real Celery workers), against a
thread pool posting the same signed payloads straight to the same receiver, in
the same run. Goal: direct time / pipeline time at least 0.5.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test python bench/fanout.py

A closed departure carries 20,000 parcels, one per order, of 2,000 buyers.
Departing moves every parcel to in_transit and every order to in_transit, so
it records 40,000 events. They go to one storefront subscription with
all_events=True: the shape of a marketplace integration (the storefront, not
each buyer, runs the endpoint), and the hard case for delivery, as every
webhook goes to one endpoint. The departure is a management-style call of
shipping.services.departure_transition in this process; the outbox tasks run
on Celery workers (prefork) over Redis, as in production. Buyers have e-mail
addresses, so the workers also send the 40,000 e-mails (dummy backend).

The receiver is a separate process (a threaded HTTP/1.1 server with
keep-alive): it records each webhook-id and when the last new one arrived.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    celery_workers,
    database_recreate,
    database_url,
    django_env,
    manage,
    seed_run,
)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


def serve_receiver() -> None:
    """Run as a child process: prints its port, then serves until killed."""
    lock = threading.Lock()
    seen: set[str] = set()
    state = {"total": 0, "first": 0.0, "last": 0.0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            self.rfile.read(length)
            msg_id = self.headers.get("webhook-id", "")
            now = time.time()
            with lock:
                state["total"] += 1
                if msg_id not in seen:
                    seen.add(msg_id)
                    state["last"] = now
                    if not state["first"]:
                        state["first"] = now
            self.wfile.write(OK)

        def do_GET(self) -> None:
            with lock:
                if self.path == "/reset":
                    seen.clear()
                    state.update(total=0, first=0.0, last=0.0)
                body = json.dumps({**state, "unique": len(seen)}).encode()
            self.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )

        def log_message(self, format: str, *args: Any) -> None:
            return

    class Server(ThreadingHTTPServer):
        request_queue_size = 1024
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class ReceiverProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--receiver"], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/hooks"

    def stats(self) -> dict[str, Any]:
        return dict(requests.get(self.base + "/stats", timeout=10).json())

    def reset(self) -> None:
        requests.get(self.base + "/reset", timeout=10)

    def wait_for(
        self, expected: int, timeout: float, trace: list[tuple[float, int]] | None = None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if trace is not None:
                trace.append((time.time(), stats["unique"]))
            if stats["unique"] >= expected or time.monotonic() > deadline:
                return stats
            time.sleep(0.1)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def direct_phase(
    url: str, payloads: list[tuple[bytes, dict[str, str]]], threads: int
) -> tuple[float, int]:
    local = threading.local()

    def post(item: tuple[bytes, dict[str, str]]) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.trust_env = False  # no per-request walk over the environment
        body, headers = item
        response = session.post(url, data=body, headers=headers, timeout=30)
        return 1 if response.status_code == 200 else 0

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        ok = sum(pool.map(post, payloads, chunksize=64))
    return time.perf_counter() - started, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parcels", type=int, default=20_000)
    parser.add_argument("--buyers", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="per Celery worker")
    parser.add_argument("--threads", type=int, default=16, help="direct posting threads")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--trace", action="store_true", help="print webhooks received per second")
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        serve_receiver()
        return

    url = database_url("amur_bench_fanout")
    database_recreate(url)
    broker = redis.Redis.from_url(args.redis)
    broker.flushdb()
    env = {**django_env(url), "REDIS_URL": args.redis}
    manage(env, "migrate", "-v0")
    seeded = seed_run(
        env, "seed_parcels.py", str(args.parcels), "--buyers", str(args.buyers), "--stage", "loaded"
    )
    subprocess.run(["psql", url, "-qc", "VACUUM ANALYZE"], check=True)

    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "ecommerce.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from ecommerce.celery import app
    from notifications.models import OutboxEvent, WebhookAttempt, WebhookDelivery
    from notifications.services import subscription_create, webhook_body
    from notifications.signing import headers_build
    from shipping.linehaul.departures import departure_transition

    load_before = os.getloadavg()
    receiver = ReceiverProcess()
    workers: list[subprocess.Popen] = []
    try:
        storefront = get_user_model().objects.create_user(
            username="storefront@bench.ru", email="storefront@bench.ru"
        )
        subscription = subscription_create(
            owner_id=storefront.id, url=receiver.url, event_types=[], all_events=True
        )
        workers = celery_workers(env, args.workers, args.concurrency)
        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=1.0) or []) < args.workers:
            if time.monotonic() > deadline:
                raise RuntimeError("the Celery workers did not answer")

        started = time.time()
        departure_transition(
            departure_id=seeded["departure_id"], to="departed", actor_id=seeded["staff_user_id"]
        )
        committed = time.time()
        expected = OutboxEvent.objects.count()
        trace: list[tuple[float, int]] = []
        stats = receiver.wait_for(expected, args.timeout, trace)
        if stats["unique"] < expected:
            print(f"TIMEOUT: only {stats['unique']} of {expected} webhooks arrived")
        pipeline_seconds = stats["last"] - started
        time.sleep(2)  # anything arriving now is a duplicate
        stats = receiver.stats()
        statuses = dict(WebhookDelivery.objects.values_list("status").annotate(n=Count("id")))
        attempts = WebhookAttempt.objects.count()

        events = list(OutboxEvent.objects.order_by("created_at", "id"))
        stamp = int(time.time())
        payloads = []
        for event in events:
            body = webhook_body(event)
            headers = headers_build(
                secret=subscription.secret, msg_id=str(event.id), timestamp=stamp, body=body
            )
            headers["user-agent"] = "Amur-Webhooks/1"
            payloads.append((body, headers))
        receiver.reset()
        direct_seconds, direct_ok = direct_phase(receiver.url, payloads, args.threads)
        direct_stats = receiver.stats()
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        receiver.close()
        broker.flushdb()

    print(
        f"load average before/after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f}"
        f" ({os.cpu_count()} CPUs)"
    )
    print(
        f"parcels={args.parcels} buyers={args.buyers} events={expected}"
        f" celery_workers={args.workers}x{args.concurrency} direct_threads={args.threads}"
    )
    print(
        f"pipeline: departure committed after {committed - started:.2f} s; last webhook after"
        f" {pipeline_seconds:.2f} s; received {stats['unique']} unique / {stats['total']} posts;"
        f" deliveries {statuses}; attempts {attempts}"
    )
    print(
        f"direct:   {direct_ok} posts in {direct_seconds:.2f} s"
        f" ({direct_stats['unique']} unique received)"
    )
    print(f"ratio direct/pipeline: {direct_seconds / pipeline_seconds:.3f} (goal >= 0.5)")
    if args.trace:
        marks, second = [], committed - started
        for at, count in trace:
            if at - started >= second:
                marks.append(f"{at - started:.0f}s:{count}")
                second += 1
        print("received by time since the departure call:", " ".join(marks))


if __name__ == "__main__":
    main()

"""The whole path on the services stack: gunicorn-style HTTP (live server),
PostgreSQL, Redis and a real Celery worker process delivering the webhooks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.db import connection

from notifications.signing import signature_verify
from tests.flow import Http, expected_status_changes, make_staff_and_courier, run_order_to_delivery
from tests.receiver import webhook_receiver

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def celery_worker_process(live_server: Any) -> Iterator[subprocess.Popen[bytes]]:
    from ecommerce.celery import app

    app.control.purge()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "AMUR_VAR_DIR": str(ROOT / "var"),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ecommerce",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "-n",
            f"e2e-{os.getpid()}@%h",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(timeout=1.0):
            break
        assert process.poll() is None, "the Celery worker exited at start"
    else:
        process.kill()
        pytest.fail("the Celery worker did not answer within 60 s")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def real_http(base: str, token: str | None = None) -> Http:
    session = requests.Session()

    def send(method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        response = session.request(method, base + path, json=body, headers=headers, timeout=30)
        return response.status_code, response.json() if response.content else None

    http = Http(send)
    http.token = token
    return http


def test_order_to_delivery_on_postgres_redis_and_a_celery_worker(
    world: Any, live_server: Any, celery_worker_process: Any
) -> None:
    staff_token, courier_token = make_staff_and_courier()
    with webhook_receiver() as receiver:
        result = run_order_to_delivery(
            real_http(live_server.url),
            real_http(live_server.url, staff_token),
            real_http(live_server.url, courier_token),
            receiver.url,
        )
        expected = expected_status_changes(result["number"], result["tracking"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(receiver.received) < expected:
            time.sleep(0.2)
        time.sleep(1)  # nothing more may arrive
        received = list(receiver.received)

    assert result["order"]["status"] == "delivered"
    assert [e["event"] for e in result["track"]["events"]] == [
        "label_created",
        "loaded",
        "departed",
        "arrived",
        "customs_presented",
        "customs_released",
        "out_for_delivery",
        "delivered",
    ]
    assert expected == 12
    assert len(received) == expected
    assert len({r.headers["webhook-id"] for r in received}) == expected
    for hit in received:
        assert signature_verify(
            secret=result["secret"],
            msg_id=hit.headers["webhook-id"],
            timestamp=int(hit.headers["webhook-timestamp"]),
            body=hit.body,
            header=hit.headers["webhook-signature"],
        )

"""The outbox loses nothing when the broker is down: status changes commit,
and once Redis is back the beat sweep and a real worker deliver every
webhook exactly once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone
from kombu import pools

from notifications.models import OutboxEvent
from notifications.services import subscription_create
from shipping.fulfilment.models import Parcel
from shipping.fulfilment.numbers import s10_build
from shipping.tracking.timeline import NewEvent, parcel_events_apply
from tests.conftest import World
from tests.receiver import webhook_receiver
from tests.servers import ROOT, _free_port, served_database_url

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
PARCELS = 500


class OwnRedis:
    """A Redis server of the test's own, which the test can stop and start."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed for this test"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if (
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True
                ).stdout.strip()
                == "PONG"
            ):
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """Point this process's Celery producer at another broker."""
    from ecommerce.celery import app

    def reset() -> None:
        # Drop every pooled connection and the registry that hands them out,
        # so the next publish connects afresh to whichever broker is current.
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    previous = app.conf.broker_url
    reset()
    app.conf.broker_url = url
    try:
        yield
    finally:
        reset()
        app.conf.broker_url = previous


def celery_process(kind: str, redis_url: str, workdir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": served_database_url(), "REDIS_URL": redis_url}
    command = [sys.executable, "-m", "celery", "-A", "ecommerce", kind, "--loglevel=WARNING"]
    if kind == "beat":
        command += ["--schedule", str(workdir / "beat-schedule")]
    else:
        command += ["--concurrency=4", "-n", f"outage-{os.getpid()}@%h"]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def make_parcels(world: World) -> list[Parcel]:
    from commands.place import order_place
    from commands.quote import LineRequest
    from orders.services import Address

    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 1)],
        address=Address(**world.address()),
        payment_method="cod",
    )
    return Parcel.objects.bulk_create(
        [
            Parcel(
                order=order,
                warehouse=world.hrb,
                lane=world.air,
                departure=world.flight,
                tracking_number=s10_build("RX", 50_000_000 + i, "CN"),
                weight_g=300,
                length_mm=200,
                width_mm=100,
                height_mm=50,
                value_cny=98,
                promised_min_days=4,
                promised_max_days=7,
            )
            for i in range(PARCELS)
        ]
    )


def test_webhooks_survive_a_broker_outage(world: World, tmp_path: Path) -> None:
    redis = OwnRedis(tmp_path)
    with webhook_receiver() as receiver, celery_broker(redis.url):
        subscription_create(owner_id=world.buyer.user_id, url=receiver.url, event_types=[])
        parcels = make_parcels(world)
        OutboxEvent.objects.all().delete()  # only the outage's events are counted

        # Redis is down: every status change still commits.
        with transaction.atomic():
            parcel_events_apply(
                events=[
                    NewEvent(
                        parcel_id=p.id,
                        event="departed",
                        occurred_at=timezone.now(),
                        source="departure",
                        location="HRB",
                    )
                    for p in parcels
                ]
            )
        # A rolled-back change leaves nothing to send.
        with pytest.raises(RuntimeError), transaction.atomic():
            parcel_events_apply(
                events=[
                    NewEvent(
                        parcel_id=parcels[0].id,
                        event="arrived",
                        occurred_at=timezone.now(),
                        source="departure",
                    )
                ]
            )
            raise RuntimeError("rolled back")
        event_ids = set(OutboxEvent.objects.values_list("id", flat=True))
        assert len(event_ids) == PARCELS
        assert Parcel.objects.filter(status="in_transit").count() == PARCELS

        redis.start()
        worker = celery_process("worker", redis.url, tmp_path)
        beat = celery_process("beat", redis.url, tmp_path)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(receiver.received) < len(event_ids):
                time.sleep(0.5)
            time.sleep(2)  # anything more would be a duplicate
            received: list[Any] = list(receiver.received)
        finally:
            for process in (beat, worker):
                process.terminate()
                process.wait(timeout=30)
            redis.stop()

    ids = [hit.headers["webhook-id"] for hit in received]
    assert len(ids) == len(set(ids)) == PARCELS
    assert set(ids) == {str(e) for e in event_ids}

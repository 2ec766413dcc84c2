"""The broker's Redis behind Sentinel: the outbox's dispatch flag goes to the
master the sentinels name, so small recordings still share one queued
dispatch. A real Sentinel process watches the test Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from celery import current_app
from django.conf import settings
from django.db import transaction

from core.brokers import redis_client
from notifications import services, tasks
from notifications.services import PENDING_FLAG, event_record
from tests.factories import UserFactory
from tests.test_notifications import spec

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
MASTER = "amur-test"


@pytest.fixture
def sentinel_url(tmp_path: Path) -> Iterator[str]:
    """A Sentinel watching the test Redis; its URL, on the test Redis's db."""
    redis_url = urlsplit(settings.REDIS_URL)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {MASTER} {redis_url.hostname} {redis_url.port or 6379} 1\n"
    )
    process = subprocess.Popen(
        ["redis-server", str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        probe = redis.Redis(port=port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if probe.sentinel_get_master_addr_by_name(MASTER):
                    break
            except redis.RedisError:
                time.sleep(0.1)
        else:
            raise RuntimeError("sentinel did not start")
        yield f"sentinel://127.0.0.1:{port}{redis_url.path or '/0'}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_sentinel_url_reaches_the_master(sentinel_url: str) -> None:
    client = redis_client(sentinel_url, master_name=MASTER, timeout=1)
    client.set("amur:test:sentinel", "via-sentinel", ex=10)
    direct = redis.Redis.from_url(settings.REDIS_URL)
    assert direct.get("amur:test:sentinel") == b"via-sentinel"
    direct.delete("amur:test:sentinel")


def test_small_recordings_share_one_dispatch_through_sentinel(
    sentinel_url: str, monkeypatch: Any, settings: Any
) -> None:
    settings.REDIS_SENTINEL_MASTER = MASTER
    monkeypatch.setattr(current_app.conf, "broker_url", sentinel_url)
    services._redis_for.cache_clear()
    published: list[Any] = []
    monkeypatch.setattr(tasks.outbox_dispatch_pending, "delay", lambda: published.append(()))
    direct = redis.Redis.from_url(settings.REDIS_URL)
    direct.delete(PENDING_FLAG)
    user = UserFactory.create()
    try:
        for n in range(3):
            with transaction.atomic():
                event_record(spec=spec(user.id, n + 1))
        assert published == [()]
        assert direct.get(PENDING_FLAG) == b"1"  # set on the master, through the sentinel
    finally:
        direct.delete(PENDING_FLAG)
        services._redis_for.cache_clear()


def test_a_sentinel_redis_url_configures_celery_for_its_master() -> None:
    script = (
        "from ecommerce.celery import app; c = app.conf;"
        " print(c.broker_url, c.broker_transport_options['master_name'],"
        " c.result_backend_transport_options['master_name'])"
    )
    url = "sentinel://10.0.0.1:26379/2;sentinel://10.0.0.2:26379/2"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ecommerce.settings",
            "REDIS_URL": url,
            "REDIS_SENTINEL_MASTER": "amur-main",
        },
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    assert out.split() == [url, "amur-main", "amur-main"]

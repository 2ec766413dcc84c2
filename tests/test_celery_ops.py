"""Celery as operators run it: a queue per workload, time limits on every
task, no message waiting in Redis past its visibility timeout, one active beat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from core import queues
from ecommerce.celery import app
from notifications.tasks import _retries_scheduled

ROOT = Path(__file__).resolve().parent.parent
OWN_PREFIXES = (
    "commands.",
    "payments.",
    "shipping.",
    "orders.",
    "notifications.",
    "core.",
    "accounts.",
    "warehouses.",
    "risk.",
    "catalogue.",
)


def own_tasks() -> list[str]:
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if name.startswith(OWN_PREFIXES))


def test_every_task_has_a_queue_and_time_limits() -> None:
    names = own_tasks()
    assert len(names) >= 20
    assert sorted(queues.TASKS) == names
    for name in names:
        route = queues.TASKS[name]
        task = app.tasks[name]
        assert route.queue in queues.QUEUES
        assert app.amqp.router.route({}, name)["queue"].name == route.queue, name
        assert (task.soft_time_limit, task.time_limit) == (route.soft_seconds, route.hard_seconds)
        assert 0 < route.soft_seconds < route.hard_seconds


def test_workloads_are_split_as_documented() -> None:
    by_queue: dict[str, set[str]] = {name: set() for name in queues.QUEUES}
    for name, route in queues.TASKS.items():
        by_queue[route.queue].add(name)
    assert {"shipping.pending_events_apply", "notifications.outbox_dispatch"} <= by_queue[
        "realtime"
    ]
    assert by_queue["webhooks"] == {
        "notifications.webhooks_deliver",
        "notifications.webhook_deliver",
    }
    assert "notifications.emails_sweep" in by_queue["email"]
    assert "commands.provider_calls_run" in by_queue["payments"]
    assert {"shipping.lanes_plan", "payments.statements_weekly"} <= by_queue["batch"]
    # An unlisted task goes where a worker listens.
    assert app.conf.task_default_queue in queues.QUEUES
    assert [q.name for q in app.conf.task_queues] == list(queues.QUEUES)


def test_no_message_waits_in_the_broker_past_the_visibility_timeout() -> None:
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    longest_run = max(route.hard_seconds for route in queues.TASKS.values())
    assert visibility > queues.MAX_COUNTDOWN_SECONDS + longest_run
    # Celery's autoretry backoff is capped (retry_backoff_max) under the countdown limit.
    for name in own_tasks():
        task = app.tasks[name]
        if getattr(task, "autoretry_for", ()):
            assert getattr(task, "retry_backoff_max", 600) <= queues.MAX_COUNTDOWN_SECONDS, name


def test_webhook_retries_due_later_than_the_countdown_limit_are_left_to_the_sweep() -> None:
    now = timezone.now()
    retry_at = {
        1: now + timedelta(seconds=60),
        2: now + timedelta(seconds=62),
        3: now + timedelta(seconds=queues.MAX_COUNTDOWN_SECONDS + 60),
        4: now + timedelta(seconds=8640),
    }
    scheduled = _retries_scheduled(retry_at)
    assert [(ids, eta) for ids, eta in scheduled] == [([1, 2], retry_at[2])]


def test_the_weekly_statements_job_runs_daily_to_catch_up() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["settlement-statements-weekly"]
    assert entry["task"] == "payments.statements_weekly"
    assert entry["schedule"].day_of_week == set(range(7))


def queued_tasks(client: redis.Redis) -> Counter[str]:
    sent: Counter[str] = Counter()
    for queue in queues.QUEUES:
        for raw in client.lrange(queue, 0, -1):
            sent[json.loads(raw)["headers"]["task"]] += 1
    return sent


def beat_process(prefix: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "REDBEAT_KEY_PREFIX": prefix}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ecommerce", "beat", "--loglevel=INFO"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


@pytest.mark.services
def test_two_beat_processes_send_each_job_once(tmp_path: Path) -> None:
    """Two beats side by side for one period of the outbox sweep (15 s):
    the sweep is sent once, every job is sent by the beat holding the lock,
    and the other stands by having sent nothing."""
    assert settings.CELERY_BEAT_SCHEDULER == "redbeat.RedBeatScheduler"
    client = redis.Redis.from_url(settings.REDIS_URL)
    prefix = f"amur-test-beat-{uuid.uuid4().hex}"
    client.delete(*queues.QUEUES)
    logs = [tmp_path / "beat-1.log", tmp_path / "beat-2.log"]
    beats = [beat_process(prefix, log) for log in logs]
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not queued_tasks(client):
            time.sleep(0.5)
        time.sleep(5)  # a second beat sending too would have done so by now
        sent = queued_tasks(client)
        texts = [log.read_text(encoding="utf-8", errors="replace") for log in logs]
        assert all(process.poll() is None for process in beats), texts
    finally:
        for process in beats:
            process.terminate()
        for process in beats:
            process.wait(timeout=30)
        client.delete(*queues.QUEUES)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    assert sent["notifications.outbox_sweep"] == 1
    sends = sorted(text.count("Scheduler: Sending due task") for text in texts)
    assert sends == [0, sum(sent.values())]
    assert sorted(text.count("beat: Acquired lock") for text in texts) == [0, 1]


def test_the_redbeat_lock_outlives_the_beat_tick() -> None:
    # The holder renews its lock every tick; a standby takes over once it lapses.
    assert settings.CELERY_BEAT_MAX_LOOP_INTERVAL * 3 <= settings.CELERY_REDBEAT_LOCK_TIMEOUT

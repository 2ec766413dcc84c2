"""Liveness and readiness, Prometheus metrics with the operators' gauges,
JSON logs with request and task ids carried into tasks, Sentry without
personal data."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from celery.app.task import Context
from django.conf import settings
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from core import request_ids
from core.sentry import FILTERED, sentry_scrub
from ecommerce.celery import app
from notifications.emails import email_queue
from notifications.models import Email, OutboxEvent, WebhookDelivery
from notifications.services import subscription_create
from notifications.tasks import outbox_sweep
from shipping.tracking.models import PendingEvent, TrackingEvent
from tests.conftest import SCANS_URL, World, client_for
from tests.factories import UserFactory
from tests.test_pending_scans import batch
from tests.test_scans_fast import bulk_parcels

ROOT = Path(__file__).resolve().parent.parent


def test_healthz_is_liveness_and_needs_nothing(client: Client) -> None:
    # No database access allowed in this test: liveness must not depend on it.
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_answers_when_the_database_and_redis_do(db: Any, client: Client) -> None:
    response = client.get("/readyz")
    redis_state = "up" if settings.REDIS_URL else "not configured"
    assert (response.status_code, response.json()) == (
        200,
        {"status": "ok", "database": "up", "redis": redis_state},
    )


def test_readyz_is_unavailable_while_redis_is_down(db: Any, client: Client, settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert (response.status_code, response.json()) == (
        503,
        {"status": "unavailable", "database": "up", "redis": "down"},
    )


def scrape(client: Client) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = client.get("/metrics")
    assert response.status_code == 200
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


METRICS_TOKEN = "scrape-3f9c2a7e1b5d4c6a"


@pytest.mark.parametrize(
    ("authorization", "language", "message"),
    [
        (None, "en", "Metrics need the scraper's bearer token (METRICS_TOKEN)."),
        (f"Bearer {METRICS_TOKEN}x", "ru", "Для метрик нужен токен сборщика (METRICS_TOKEN)."),
        (f"Basic {METRICS_TOKEN}", "zh-hans", "读取指标需要采集器的令牌（METRICS_TOKEN）。"),
        ("Bearer", "en", "Metrics need the scraper's bearer token (METRICS_TOKEN)."),
    ],
    ids=["none", "wrong-token", "basic-scheme", "empty-bearer"],
)
def test_metrics_answer_only_the_scraper_with_the_token(
    db: Any, client: Client, settings: Any, authorization: str | None, language: str, message: str
) -> None:
    settings.METRICS_TOKEN = METRICS_TOKEN
    headers = {"Accept-Language": language}
    if authorization is not None:
        headers["Authorization"] = authorization
    refused = client.get("/metrics", headers=headers)
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert refused.json() == {"code": "not_authenticated", "message": message, "fields": {}}

    allowed = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert allowed.status_code == 200
    names = {f.name for f in text_string_to_metric_families(allowed.content.decode())}
    assert {"amur_pending_scans", "amur_outbox_lag_seconds"} <= names


def test_metrics_carry_requests_and_the_operators_gauges(
    world: World, courier: Any, client: Client
) -> None:
    empty = scrape(client)
    for gauge in (
        "amur_outbox_lag_seconds",
        "amur_pending_scans_oldest_age_seconds",
        "amur_pending_scans",
        "amur_emails_unsent",
        "amur_emails_unsent_oldest_age_seconds",
    ):
        assert empty[gauge] == {(): 0.0}, gauge
    assert "amur_webhook_deliveries_dead" not in empty

    # Scans recorded, not applied (the test's transaction never commits, so
    # the task that applies them never runs), 90 s ago.
    numbers = bulk_parcels(world, 2, 73_000_000)
    response = client_for(courier.user).post(SCANS_URL, batch(numbers, "m"), format="json")
    assert response.status_code == 200
    TrackingEvent.objects.filter(scan_id__startswith="m-").update(
        recorded_at=timezone.now() - timedelta(seconds=90)
    )
    # An event not fanned out for five minutes.
    OutboxEvent.objects.filter(dispatched_at__isnull=True).update(
        created_at=timezone.now() - timedelta(seconds=300)
    )
    # Two dead deliveries for one subscription, one for another.
    owner = UserFactory.create()
    first = subscription_create(owner_id=owner.id, url="https://a.example/hook", event_types=[])
    second = subscription_create(owner_id=owner.id, url="https://b.example/hook", event_types=[])
    events = list(OutboxEvent.objects.all()[:2])
    for subscription, event_rows in ((first, events), (second, events[:1])):
        for event in event_rows:
            WebhookDelivery.objects.create(
                event=event,
                event_created_at=event.created_at,
                subscription=subscription,
                status=WebhookDelivery.Status.DEAD,
                next_attempt_at=timezone.now(),
            )
    # Two unsent e-mails, the older one an hour old.
    email_queue(to="a@example.ru", subject="A", body="a")
    email_queue(to="b@example.ru", subject="B", body="b")
    Email.objects.filter(subject="A").update(created_at=timezone.now() - timedelta(hours=1))

    found = scrape(client)
    assert found["amur_pending_scans"] == {(): 6.0}
    assert 90 <= found["amur_pending_scans_oldest_age_seconds"][()] < 120
    assert 300 <= found["amur_outbox_lag_seconds"][()] < 330
    assert found["amur_webhook_deliveries_dead"] == {
        (("subscription", str(first.id)),): 2.0,
        (("subscription", str(second.id)),): 1.0,
    }
    assert found["amur_emails_unsent"] == {(): 2.0}
    assert 3600 <= found["amur_emails_unsent_oldest_age_seconds"][()] < 3630
    # django-prometheus counts the requests themselves, by view.
    name = "django_http_requests_total_by_view_transport_method_total"
    scans = (("method", "POST"), ("transport", "http"), ("view", "courier-scans"))
    scrapes = (("method", "GET"), ("transport", "http"), ("view", "metrics"))
    # The counters are the process's, since it started: count this test's requests.
    assert found[name][scans] - empty.get(name, {}).get(scans, 0.0) == 1.0
    assert found[name][scrapes] - empty.get(name, {}).get(scrapes, 0.0) == 1.0


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The root logger's records, formatted as in production (LOG_FORMAT=json)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    config: dict[str, Any] = settings.LOGGING
    formatter = dict(config["formatters"]["json"])
    factory = formatter.pop("()")
    module, _, name = factory.rpartition(".")
    handler.setFormatter(getattr(__import__(module, fromlist=[name]), name)(**formatter))
    handler.addFilter(request_ids.ContextFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_request_logs_json_with_its_request_id_echoed(
    db: Any, client: Client, log_lines: io.StringIO
) -> None:
    response = client.get("/api/v1/orders/", HTTP_X_REQUEST_ID="lb-7f3a-0001")
    assert response.status_code == 401
    assert response["X-Request-ID"] == "lb-7f3a-0001"
    (line,) = [r for r in records(log_lines) if r["logger"] == "django.request"]
    assert {"time", "level", "logger", "message", "request_id", "task_id"} <= set(line)
    assert line["status_code"] == 401  # a record's extra fields are kept as fields
    assert (line["level"], line["message"], line["request_id"], line["task_id"]) == (
        "WARNING",
        "Unauthorized: /api/v1/orders/",
        "lb-7f3a-0001",
        "",
    )
    # An id that is no sane token (too long, spaces) is replaced with a fresh one.
    response = client.get("/api/v1/orders/", HTTP_X_REQUEST_ID="x y" * 40)
    fresh = response["X-Request-ID"]
    assert len(fresh) == 32 and fresh != "x y" * 40


@pytest.mark.django_db(transaction=True)
def test_tasks_a_request_enqueues_log_its_request_id_and_their_task_id(
    world: World, courier: Any, log_lines: io.StringIO
) -> None:
    numbers = bulk_parcels(world, 1, 74_000_000)
    response = client_for(courier.user).post(
        SCANS_URL, batch(numbers, "t"), format="json", HTTP_X_REQUEST_ID="req-scan-42"
    )
    assert response.status_code == 200
    assert PendingEvent.objects.count() == 0  # the task ran, in process, after commit
    tasks = [r for r in records(log_lines) if r["logger"] == "celery.app.trace"]
    applied = [r for r in tasks if "shipping.pending_events_apply" in r["message"]]
    assert applied, tasks
    for line in applied:
        assert line["request_id"] == "req-scan-42"
        assert line["task_id"] and line["task_id"] in line["message"]
    # Outside the request, the ids are gone.
    logging.getLogger("amur.test").info("after")
    assert records(log_lines)[-1]["request_id"] == records(log_lines)[-1]["task_id"] == ""


@pytest.mark.services
def test_the_request_id_rides_in_the_message_and_the_worker_restores_it(db: Any) -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("realtime")
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    token = request_ids.request_id_var.set("req-broker-9")
    try:
        result = outbox_sweep.delay()
    finally:
        request_ids.request_id_var.reset(token)
        app.conf.task_always_eager = previous
    (raw,) = client.lrange("realtime", 0, -1)
    client.delete("realtime")
    message = json.loads(raw)
    assert message["headers"]["id"] == result.id
    assert message["headers"][request_ids.TASK_HEADER] == "req-broker-9"
    # A worker builds the task's request from the message headers.
    task = type("Task", (), {"request": Context(message["headers"])})()
    request_ids.task_context_enter(task_id=result.id, task=task)
    try:
        assert (request_ids.request_id_var.get(), request_ids.task_id_var.get()) == (
            "req-broker-9",
            result.id,
        )
    finally:
        request_ids.task_context_leave(task_id=result.id)
    assert (request_ids.request_id_var.get(), request_ids.task_id_var.get()) == ("", "")


def test_sentry_events_leave_without_personal_data() -> None:
    event = {
        "request": {
            "url": "https://amur.example/api/v1/account/recipient-identity/",
            "method": "PUT",
            "headers": {"Authorization": "Token abc", "User-Agent": "shop/1.0"},
            "cookies": {"sessionid": "s"},
            "data": {"passport": "4510 123456"},
            "query_string": "email=ivan@example.ru",
        },
        "user": {"id": 7, "email": "ivan@example.ru", "ip_address": "203.0.113.9"},
        "extra": {"order": {"number": "AM1", "recipient_phone": "+79001234567"}},
        "exception": {"values": [{"type": "ValueError", "value": "boom"}]},
    }
    assert sentry_scrub(event) == {
        "request": {
            "url": "https://amur.example/api/v1/account/recipient-identity/",
            "method": "PUT",
            "headers": {"Authorization": FILTERED, "User-Agent": "shop/1.0"},
        },
        "user": {"id": 7},
        "extra": {"order": {"number": "AM1", "recipient_phone": FILTERED}},
        "exception": {"values": [{"type": "ValueError", "value": "boom"}]},
    }


def test_sentry_is_off_without_a_dsn_and_scrubbing_with_one() -> None:
    code = (
        "import django; django.setup(); import sentry_sdk; c = sentry_sdk.get_client();"
        " print(c.is_active(), c.options['send_default_pii'], c.options['max_request_body_size'],"
        " c.options['before_send'].__name__ if c.options['before_send'] else None)"
    )
    env = {k: v for k, v in os.environ.items() if k != "SENTRY_DSN"}
    env["DJANGO_SETTINGS_MODULE"] = "ecommerce.settings"

    def run(**extra: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.strip()

    assert run().startswith("False")
    # A DSN whose host is this machine's port 9: nothing is ever sent here.
    assert run(SENTRY_DSN="http://public@127.0.0.1:9/1") == "True False never sentry_scrub"

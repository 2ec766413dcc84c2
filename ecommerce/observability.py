"""Liveness, readiness, Prometheus metrics and optional error reporting.

- `/healthz`: the process answers (liveness: restart it if not). It checks
  nothing else, so a database outage does not restart every web process.
- `/readyz`: the database and Redis answer (readiness: send traffic).
- `/metrics`: django-prometheus's request, response and model metrics, plus
  gauges read from the database at scrape time (OpsCollector); behind a
  bearer token when METRICS_TOKEN is set (production needs one).
- Sentry, when SENTRY_DSN is set, without personal data (core/sentry.py).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from typing import Any

import prometheus_client
import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.errors import ApplicationError, error_response
from notifications.models import Email, OutboxEvent, WebhookDelivery
from shipping.tracking.models import PendingEvent


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_up() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return False
    return True


def _redis_up() -> bool | None:
    """None: no Redis configured (the embedded mode needs none)."""
    if not settings.REDIS_URL:
        return None
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        return bool(client.ping())
    except redis.RedisError:
        return False


def readyz(request: HttpRequest) -> JsonResponse:
    database, broker = _database_up(), _redis_up()
    checks = {
        "database": "up" if database else "down",
        "redis": {None: "not configured", True: "up", False: "down"}[broker],
    }
    ready = database and broker is not False
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", **checks}, status=200 if ready else 503
    )


def _age_seconds(moment: Any) -> float:
    return max((timezone.now() - moment).total_seconds(), 0.0) if moment else 0.0


class OpsCollector(Collector):
    """What an operator pages on, read at scrape time. Each query has an
    index behind it: undispatched events (outbox_undispatched), dead
    deliveries (webhook_delivery_dead), unsent e-mail (email_unsent_due);
    pending scans are few by design (applied within seconds)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        oldest_event = OutboxEvent.objects.filter(dispatched_at__isnull=True).aggregate(
            oldest=Min("created_at")
        )["oldest"]
        yield GaugeMetricFamily(
            "amur_outbox_lag_seconds",
            "Age of the oldest outbox event not yet fanned out (0: none).",
            value=_age_seconds(oldest_event),
        )
        oldest_scan = (
            PendingEvent.objects.order_by("event_id")
            .values_list("event__recorded_at", flat=True)
            .first()
        )
        yield GaugeMetricFamily(
            "amur_pending_scans_oldest_age_seconds",
            "Age of the oldest recorded scan not yet applied to its parcel (0: none).",
            value=_age_seconds(oldest_scan),
        )
        yield GaugeMetricFamily(
            "amur_pending_scans",
            "Recorded scans not yet applied to their parcels.",
            value=PendingEvent.objects.count(),
        )
        dead = GaugeMetricFamily(
            "amur_webhook_deliveries_dead",
            "Dead-lettered webhook deliveries, per subscription.",
            labels=["subscription"],
        )
        for subscription_id, count in (
            WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DEAD)
            .values("subscription_id")
            .annotate(count=Count("id"))
            .order_by("subscription_id")
            .values_list("subscription_id", "count")
        ):
            dead.add_metric([str(subscription_id)], count)
        yield dead
        unsent = Email.objects.filter(sent_at__isnull=True).aggregate(
            count=Count("id"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "amur_emails_unsent", "E-mails not yet sent.", value=unsent["count"]
        )
        yield GaugeMetricFamily(
            "amur_emails_unsent_oldest_age_seconds",
            "Age of the oldest unsent e-mail (0: none).",
            value=_age_seconds(unsent["oldest"]),
        )


def _scraper_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return True
    scheme, _space, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def metrics(request: HttpRequest) -> HttpResponse:
    """The process's (or, under gunicorn, all workers') metrics, then the
    database gauges; only for a scraper with METRICS_TOKEN, when it is set."""
    if not _scraper_allowed(request):
        response = error_response(
            ApplicationError(
                _("Metrics need the scraper's bearer token (METRICS_TOKEN)."),
                code="not_authenticated",
                status_code=401,
            )
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.REGISTRY
    ops = prometheus_client.CollectorRegistry(auto_describe=False)
    ops.register(OpsCollector())
    body = prometheus_client.generate_latest(registry) + prometheus_client.generate_latest(ops)
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)

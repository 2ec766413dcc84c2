"""Webhook delivery: claim a batch of one subscription's deliveries, post
them signed over one keep-alive connection, record every attempt, schedule
retries with backoff, dead-letter and pause subscriptions that keep failing.

Each batch is claimed with a lease before any request goes out, so a second
worker (or a re-run of the same task) skips it instead of posting twice.
"""

from __future__ import annotations

import os
import random
import re
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import certifi
import urllib3
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from core.locking import Rank, lock_rows, locked_transaction
from notifications.emails import email_queue
from notifications.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from notifications.services import safe_enqueue, webhook_body
from notifications.signing import headers_build

# A batch's claim lasts for this many slow requests, plus the margin.
LEASE_REQUESTS = 10
LEASE_MARGIN_SECONDS = 30
# Delay before attempt n+1 after attempt n failed: about 4 hours over 8 attempts.
RETRY_DELAYS_SECONDS = (10, 60, 300, 900, 1800, 3600, 7200)


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff with +-20 % jitter, so retries do not arrive in waves."""
    base = RETRY_DELAYS_SECONDS[min(attempt - 1, len(RETRY_DELAYS_SECONDS) - 1)]
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


class WebhookClient:
    """Keep-alive connections for webhook requests, a pool per endpoint
    (urllib3). It keeps no cookies (one endpoint's must never reach another)
    and follows no redirects; it takes proxies from the environment as
    requests does (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) and verifies TLS with
    REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else certifi's bundle.

    urllib3 itself rather than requests on top of it: requests' preparing
    and merging of settings cost 0.15 ms per request more (0.47 against
    0.32 ms to a loopback endpoint), which a departure's 40,000 webhooks pay
    on the workers' cores (bench/fanout.py)."""

    def __init__(self) -> None:
        ca_certs = (
            os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or certifi.where()
        )
        self._options: dict[str, Any] = {
            "retries": False,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": ca_certs,
        }
        self._direct = urllib3.PoolManager(num_pools=50, **self._options)
        self._proxies = urllib.request.getproxies()
        self._proxied: dict[str, urllib3.ProxyManager] = {}

    def _manager(self, url: str) -> urllib3.PoolManager:
        parts = urllib.parse.urlsplit(url)
        proxy = self._proxies.get(parts.scheme)
        if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
            return self._direct
        if proxy not in self._proxied:
            self._proxied[proxy] = urllib3.ProxyManager(proxy, num_pools=50, **self._options)
        return self._proxied[proxy]

    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> WebhookAnswer:
        response = self._manager(url).request(
            "POST",
            url,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            redirect=False,
        )
        charset = _CHARSET.search(response.headers.get("content-type", ""))
        return WebhookAnswer(
            status_code=response.status,
            excerpt=response.data[:2000].decode(
                charset.group(1) if charset else "utf-8", errors="replace"
            )[:500],
        )


@dataclass(frozen=True)
class WebhookAnswer:
    status_code: int
    excerpt: str


_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)
# What a failed request raises: urllib3's errors (connection, timeout, TLS,
# protocol), the socket's, and a bad URL or charset.
_REQUEST_ERRORS = (urllib3.exceptions.HTTPError, OSError, ValueError, LookupError)
_clients: dict[int, WebhookClient] = {}


def webhook_client() -> WebhookClient:
    """This process's client (a forked worker makes its own: connections are
    not shared across processes). urllib3's pools are thread-safe."""
    client = _clients.get(os.getpid())
    if client is None:
        client = _clients[os.getpid()] = WebhookClient()
    return client


@dataclass
class DeliveryOutcome:
    """What a batch attempt left: each given delivery's status afterwards,
    when the failed ones are due again, and those claimed but released
    unattempted because the batch ran out of time (due now)."""

    statuses: dict[int, str] = field(default_factory=dict)
    retry_at: dict[int, datetime] = field(default_factory=dict)
    released: list[int] = field(default_factory=list)


@dataclass
class _Attempt:
    delivery: WebhookDelivery
    number: int
    requested_at: datetime
    duration_ms: int
    status_code: int | None
    error: str
    excerpt: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def permanent(self) -> bool:
        return self.status_code is not None and 400 <= self.status_code < 500


def _lease_seconds(timeout: float, size: int) -> float:
    """How long a batch holds its claim: room for up to LEASE_REQUESTS slow
    requests (each may take its connect and its read timeout) and the
    bookkeeping. A batch that runs longer stops and releases the rest."""
    return 2 * timeout * min(size, LEASE_REQUESTS) + LEASE_MARGIN_SECONDS


def _deliveries_claim(ids: Sequence[int], now: datetime, until: datetime) -> list[int]:
    """Claim the due, unlocked, pending ones among `ids`; count their attempt.

    Conditional, like an UPDATE ... WHERE: rows another worker holds are
    skipped, and the conditions are checked again once each row is locked."""
    with locked_transaction():
        claimed = [
            delivery.id
            for delivery in lock_rows(
                WebhookDelivery.objects.filter(
                    Q(locked_until__isnull=True) | Q(locked_until__lt=now),
                    id__in=ids,
                    status=WebhookDelivery.Status.PENDING,
                    next_attempt_at__lte=now,
                ).only("id"),
                rank=Rank.QUEUE,
                skip_locked=True,
            )
        ]
        if claimed:
            WebhookDelivery.objects.filter(id__in=claimed).update(
                locked_until=until, attempts=F("attempts") + 1
            )
    return claimed


def webhook_deliveries_attempt(
    *, delivery_ids: Sequence[int], client: WebhookClient | None = None
) -> DeliveryOutcome:
    """Try each due delivery among `delivery_ids` once, in one batch.

    Claims them together, sends them one after another over one keep-alive
    connection, then records every attempt and each delivery's new state in one
    transaction (bulk inserts and updates). 2xx is delivered; 4xx fails
    without retry; timeouts, connection errors and 5xx are retried with
    backoff, and dead-lettered after WEBHOOK_MAX_ATTEMPTS. A batch that runs
    short of its lease stops sending and releases the rest unattempted."""
    conf = settings.AMUR
    timeout = conf["WEBHOOK_TIMEOUT_SECONDS"]
    outcome = DeliveryOutcome()
    ids = sorted(set(delivery_ids))
    if not ids:
        return outcome
    now = timezone.now()
    lease = _lease_seconds(timeout, len(ids))
    claimed = _deliveries_claim(ids, now, now + timedelta(seconds=lease))
    if claimed:
        _deliveries_send(claimed, client or webhook_client(), timeout, lease, outcome)
    rest = [i for i in ids if i not in outcome.statuses]
    if rest:
        outcome.statuses.update(
            WebhookDelivery.objects.filter(id__in=rest).values_list("id", "status")
        )
    return outcome


def _deliveries_send(
    claimed: Sequence[int],
    client: WebhookClient,
    timeout: float,
    lease: float,
    outcome: DeliveryOutcome,
) -> None:
    deliveries = list(
        WebhookDelivery.objects.filter(id__in=claimed)
        .select_related("event", "subscription")
        .order_by("subscription_id", "id")
    )
    earlier = dict(
        WebhookAttempt.objects.filter(delivery_id__in=claimed)
        .values_list("delivery_id")
        .annotate(last=Max("number"))
    )
    # Stop sending while there is still time to record before the lease ends.
    send_until = time.monotonic() + lease - LEASE_MARGIN_SECONDS - 2 * timeout
    attempts: list[_Attempt] = []
    released: list[int] = []
    for delivery in deliveries:
        if attempts and time.monotonic() > send_until:
            released.append(delivery.id)
            continue
        event, subscription = delivery.event, delivery.subscription
        requested_at = timezone.now()
        body = webhook_body(event)
        headers = headers_build(
            secret=subscription.secret,
            msg_id=str(event.id),
            timestamp=int(requested_at.timestamp()),
            body=body,
        )
        headers["user-agent"] = "Amur-Webhooks/1"
        status_code: int | None = None
        error = excerpt = ""
        started = time.monotonic()
        try:
            answer = client.post(subscription.url, body, headers, timeout)
            status_code, excerpt = answer.status_code, answer.excerpt
        except _REQUEST_ERRORS as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempts.append(
            _Attempt(
                delivery=delivery,
                # Counted in the claim; a resent delivery continues its numbering.
                number=max(delivery.attempts, earlier.get(delivery.id, 0) + 1),
                requested_at=requested_at,
                duration_ms=int((time.monotonic() - started) * 1000),
                status_code=status_code,
                error=error,
                excerpt=excerpt,
            )
        )
    _attempts_record(attempts, released, outcome)


def _attempts_record(
    attempts: Sequence[_Attempt], released: Sequence[int], outcome: DeliveryOutcome
) -> None:
    max_attempts = settings.AMUR["WEBHOOK_MAX_ATTEMPTS"]
    now = timezone.now()
    delivered: dict[int | None, list[int]] = defaultdict(list)
    changed: list[WebhookDelivery] = []
    for attempt in attempts:
        delivery = attempt.delivery
        if attempt.delivered:
            delivered[attempt.status_code].append(delivery.id)
            outcome.statuses[delivery.id] = str(WebhookDelivery.Status.DELIVERED)
            continue
        delivery.locked_until = None
        delivery.last_status_code = attempt.status_code
        delivery.last_error = attempt.error or attempt.excerpt[:500]
        if attempt.permanent:
            delivery.status = WebhookDelivery.Status.FAILED
        elif delivery.attempts >= max_attempts:
            delivery.status = WebhookDelivery.Status.DEAD
        else:
            delivery.next_attempt_at = now + retry_delay(delivery.attempts)
            outcome.retry_at[delivery.id] = delivery.next_attempt_at
        outcome.statuses[delivery.id] = str(delivery.status)
        changed.append(delivery)
    for delivery_id in released:
        outcome.statuses[delivery_id] = str(WebhookDelivery.Status.PENDING)
    outcome.released = list(released)
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create(
            [
                WebhookAttempt(
                    delivery_id=a.delivery.id,
                    number=a.number,
                    requested_at=a.requested_at,
                    duration_ms=a.duration_ms,
                    status_code=a.status_code,
                    error=a.error,
                    response_excerpt=a.excerpt,
                )
                for a in attempts
            ],
            batch_size=1000,
        )
        for status_code, ids in delivered.items():
            WebhookDelivery.objects.filter(id__in=ids).update(
                status=WebhookDelivery.Status.DELIVERED,
                delivered_at=now,
                locked_until=None,
                last_status_code=status_code,
                last_error="",
            )
        if changed:
            WebhookDelivery.objects.bulk_update(
                changed,
                ["status", "locked_until", "last_status_code", "last_error", "next_attempt_at"],
                batch_size=500,
            )
        if released:
            WebhookDelivery.objects.filter(id__in=released).update(
                locked_until=None, attempts=F("attempts") - 1
            )
        runs: dict[int, list[bool]] = defaultdict(list)
        subscriptions: dict[int, WebhookSubscription] = {}
        for attempt in attempts:
            subscription = attempt.delivery.subscription
            subscriptions[subscription.id] = subscription
            runs[subscription.id].append(attempt.delivered)
        for subscription_id, oks in runs.items():
            _subscription_health_record(subscription=subscriptions[subscription_id], oks=oks)


def webhook_delivery_attempt(*, delivery_id: int, client: WebhookClient | None = None) -> str:
    """Try one delivery once. Returns its status afterwards."""
    outcome = webhook_deliveries_attempt(delivery_ids=[delivery_id], client=client)
    return outcome.statuses[delivery_id]


def _subscription_health_record(*, subscription: WebhookSubscription, oks: Sequence[bool]) -> None:
    """Count failures in a row over the outcomes of a batch, in sending order;
    pause the subscription once the count reaches WEBHOOK_MAX_ATTEMPTS."""
    limit = settings.AMUR["WEBHOOK_MAX_ATTEMPTS"]
    if all(oks):
        if subscription.consecutive_failures:
            WebhookSubscription.objects.filter(id=subscription.id).update(consecutive_failures=0)
        return
    # Failures in a row, the first run continuing the stored count.
    run = longest = subscription.consecutive_failures
    succeeded = False
    for ok in oks:
        if ok:
            run, succeeded = 0, True
        else:
            run += 1
            longest = max(longest, run)
    subscriptions = WebhookSubscription.objects.filter(id=subscription.id)
    if succeeded:
        subscriptions.update(consecutive_failures=run)
        paused = (
            subscriptions.filter(is_active=True).update(is_active=False, paused_at=timezone.now())
            if longest >= limit
            else 0
        )
    else:
        # Counted in the database: batches for one subscription may run at once.
        subscriptions.update(consecutive_failures=F("consecutive_failures") + len(oks))
        paused = subscriptions.filter(is_active=True, consecutive_failures__gte=limit).update(
            is_active=False, paused_at=timezone.now()
        )
    if paused and subscription.owner.email:
        owner_email = subscription.owner.email
        url = subscription.url
        email_queue(
            to=owner_email,
            subject="Amur: webhook subscription paused",
            body=f"Deliveries to {url} failed {limit} times in a row, so the subscription "
            "is paused. Fix the endpoint, then resume it in the admin.",
        )


def webhook_delivery_resend(*, delivery_id: int) -> None:
    """Staff action: send a delivery again, whatever became of it."""
    WebhookDelivery.objects.filter(id=delivery_id).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=timezone.now(),
        locked_until=None,
        attempts=0,
    )
    from notifications.tasks import webhooks_deliver

    transaction.on_commit(lambda: safe_enqueue(lambda: webhooks_deliver.delay([delivery_id])))

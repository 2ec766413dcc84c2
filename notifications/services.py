"""Writes for the outbox: record events in the caller's transaction, fan them
out to subscriptions, deliver signed webhooks and e-mail.

Tasks are only enqueued after commit, and every step is safe to run twice: a
lost enqueue (broker down) is picked up by the periodic sweep.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from celery import current_app
from django.conf import settings
from django.core.mail import send_mail
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from notifications.signing import headers_build, secret_generate

logger = logging.getLogger(__name__)

DISPATCH_CHUNK = 200
# Delay before attempt n+1 after attempt n failed: about 4 hours over 8 attempts.
RETRY_DELAYS_SECONDS = (10, 60, 300, 900, 1800, 3600, 7200)


@dataclass(frozen=True)
class EventSpec:
    type: str
    subject: str
    payload: dict[str, Any]
    occurred_at: datetime
    sequence: int = 1
    audience_id: int | None = None
    # More users whose subscriptions receive the event, e.g. a merchant's staff.
    audience_ids: tuple[int, ...] = ()
    email_to: str = ""
    email_subject: str = ""
    email_body: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def outbox_enqueue(event_ids: Sequence[str]) -> None:
    from notifications.tasks import outbox_dispatch

    for start in range(0, len(event_ids), DISPATCH_CHUNK):
        chunk = list(event_ids[start : start + DISPATCH_CHUNK])
        safe_enqueue(functools.partial(outbox_dispatch.delay, chunk))


def safe_enqueue(send: Callable[[], Any]) -> None:
    """Enqueue, but never fail the caller: the row is durable and the sweep
    re-enqueues what the broker did not take."""
    try:
        send()
    except Exception:
        if current_app.conf.task_always_eager:
            raise
        logger.warning("broker unavailable; the outbox sweep will retry", exc_info=True)


def events_record(*, events: Iterable[EventSpec]) -> list[OutboxEvent]:
    """Write events in the caller's transaction; dispatch after it commits."""
    rows = [
        OutboxEvent(
            type=spec.type,
            subject=spec.subject,
            sequence=spec.sequence,
            payload=json.loads(json.dumps(spec.payload, cls=DjangoJSONEncoder)),
            audience_id=spec.audience_id,
            audience_ids=sorted(set(spec.audience_ids)),
            email_to=spec.email_to,
            email_subject=spec.email_subject[:200],
            email_body=spec.email_body,
            occurred_at=spec.occurred_at,
        )
        for spec in events
    ]
    if not rows:
        return []
    OutboxEvent.objects.bulk_create(rows, batch_size=1000)
    ids = [str(row.id) for row in rows]
    transaction.on_commit(lambda: outbox_enqueue(ids))
    return rows


def event_record(*, spec: EventSpec) -> OutboxEvent:
    return events_record(events=[spec])[0]


def webhook_body(event: OutboxEvent) -> bytes:
    message = {
        "id": str(event.id),
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "sequence": event.sequence,
        "subject": event.subject,
        "data": event.payload,
    }
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def outbox_events_dispatch(*, event_ids: Sequence[str]) -> list[int]:
    """Create one delivery per matching subscription, once per event.

    Returns the ids of deliveries to attempt now."""
    now = timezone.now()
    with transaction.atomic():
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(id__in=event_ids, dispatched_at__isnull=True)
            .order_by("created_at")
        )
        if not events:
            return []
        audiences = {e.audience_id for e in events if e.audience_id is not None}
        audiences.update(user_id for e in events for user_id in e.audience_ids)
        subscriptions = list(
            WebhookSubscription.objects.filter(is_active=True).filter(
                Q(all_events=True) | Q(owner_id__in=audiences)
            )
        )
        deliveries = [
            WebhookDelivery(event=event, subscription=sub, next_attempt_at=now)
            for event in events
            for sub in subscriptions
            if sub.wants(event.type)
            and (
                sub.all_events
                or sub.owner_id == event.audience_id
                or sub.owner_id in event.audience_ids
            )
        ]
        WebhookDelivery.objects.bulk_create(deliveries, batch_size=1000, ignore_conflicts=True)
        OutboxEvent.objects.filter(id__in=[e.id for e in events]).update(dispatched_at=now)
    delivery_ids = list(
        WebhookDelivery.objects.filter(
            event_id__in=[e.id for e in events], status=WebhookDelivery.Status.PENDING
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
    return delivery_ids


def event_email_send(*, event_id: str) -> bool:
    """Send the event's e-mail at most once (claimed by a conditional update)."""
    now = timezone.now()
    claimed = (
        OutboxEvent.objects.filter(id=event_id, emailed_at__isnull=True)
        .exclude(email_to="")
        .update(emailed_at=now)
    )
    if not claimed:
        return False
    event = OutboxEvent.objects.get(id=event_id)
    try:
        send_mail(
            event.email_subject, event.email_body, settings.DEFAULT_FROM_EMAIL, [event.email_to]
        )
    except Exception:
        OutboxEvent.objects.filter(id=event_id).update(emailed_at=None)
        raise
    return True


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff with +-20 % jitter, so retries do not arrive in waves."""
    base = RETRY_DELAYS_SECONDS[min(attempt - 1, len(RETRY_DELAYS_SECONDS) - 1)]
    return timedelta(seconds=base * random.uniform(0.8, 1.2))


def webhook_delivery_attempt(*, delivery_id: int, session: requests.Session | None = None) -> str:
    """Try one delivery once. Returns its status afterwards."""
    conf = settings.AMUR
    timeout = conf["WEBHOOK_TIMEOUT_SECONDS"]
    now = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now),
        id=delivery_id,
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now,
    ).update(locked_until=now + timedelta(seconds=timeout + 30), attempts=F("attempts") + 1)
    if not claimed:
        return WebhookDelivery.objects.filter(id=delivery_id).values_list("status", flat=True)[0]
    delivery = WebhookDelivery.objects.select_related("event", "subscription").get(id=delivery_id)
    event, subscription = delivery.event, delivery.subscription
    body = webhook_body(event)
    stamp = int(now.timestamp())
    headers = headers_build(
        secret=subscription.secret, msg_id=str(event.id), timestamp=stamp, body=body
    )
    headers["user-agent"] = "Amur-Webhooks/1"
    status_code: int | None = None
    error = ""
    excerpt = ""
    started = time.monotonic()
    try:
        response = (session or requests).post(
            subscription.url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
        status_code = response.status_code
        excerpt = response.text[:500]
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)

    delivered = status_code is not None and 200 <= status_code < 300
    permanent = status_code is not None and 400 <= status_code < 500
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            requested_at=now,
            duration_ms=duration_ms,
            status_code=status_code,
            error=error,
            response_excerpt=excerpt,
        )
        update: dict[str, Any] = {
            "locked_until": None,
            "last_status_code": status_code,
            "last_error": error or ("" if delivered else excerpt[:500]),
        }
        if delivered:
            update.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=timezone.now())
        elif permanent:
            update["status"] = WebhookDelivery.Status.FAILED
        elif delivery.attempts >= conf["WEBHOOK_MAX_ATTEMPTS"]:
            update["status"] = WebhookDelivery.Status.DEAD
        else:
            update["next_attempt_at"] = timezone.now() + retry_delay(delivery.attempts)
        WebhookDelivery.objects.filter(id=delivery.id).update(**update)
        _subscription_health_record(subscription=subscription, ok=delivered)
    return str(update.get("status", WebhookDelivery.Status.PENDING))


def _subscription_health_record(*, subscription: WebhookSubscription, ok: bool) -> None:
    if ok:
        if subscription.consecutive_failures:
            WebhookSubscription.objects.filter(id=subscription.id).update(consecutive_failures=0)
        return
    WebhookSubscription.objects.filter(id=subscription.id).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    limit = settings.AMUR["WEBHOOK_MAX_ATTEMPTS"]
    paused = WebhookSubscription.objects.filter(
        id=subscription.id, is_active=True, consecutive_failures__gte=limit
    ).update(is_active=False, paused_at=timezone.now())
    if paused and subscription.owner.email:
        owner_email = subscription.owner.email
        url = subscription.url
        transaction.on_commit(
            lambda: send_mail(
                "Amur: webhook subscription paused",
                f"Deliveries to {url} failed {limit} times in a row, so the subscription "
                "is paused. Fix the endpoint, then resume it in the admin.",
                settings.DEFAULT_FROM_EMAIL,
                [owner_email],
                fail_silently=True,
            )
        )


def webhook_delivery_resend(*, delivery_id: int) -> None:
    """Staff action: send a delivery again, whatever became of it."""
    WebhookDelivery.objects.filter(id=delivery_id).update(
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at=timezone.now(),
        locked_until=None,
        attempts=0,
    )
    from notifications.tasks import webhook_deliver

    transaction.on_commit(lambda: safe_enqueue(lambda: webhook_deliver.delay(delivery_id)))


def subscription_create(
    *, owner_id: int, url: str, event_types: list[str], all_events: bool = False
) -> WebhookSubscription:
    return WebhookSubscription.objects.create(
        owner_id=owner_id,
        url=url,
        secret=secret_generate(),
        event_types=sorted(set(event_types)),
        all_events=all_events,
    )


def subscription_resume(*, subscription_id: int) -> None:
    WebhookSubscription.objects.filter(id=subscription_id).update(
        is_active=True, paused_at=None, consecutive_failures=0
    )


def outbox_due() -> tuple[list[str], list[int]]:
    """What the sweep must (re)enqueue: events not fanned out after a grace
    period, and deliveries whose retry time has come."""
    now = timezone.now()
    grace = now - timedelta(seconds=10)
    events = [
        str(pk)
        for pk in OutboxEvent.objects.filter(
            dispatched_at__isnull=True, created_at__lt=grace
        ).values_list("id", flat=True)[:5000]
    ]
    deliveries = list(
        WebhookDelivery.objects.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=now),
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
        ).values_list("id", flat=True)[:5000]
    )
    return events, deliveries

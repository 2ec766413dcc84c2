"""Writes for the outbox: record events in the caller's transaction, fan them
out to subscriptions, send e-mail (webhook delivery itself is in notifications.delivery).

Tasks are only enqueued after commit, and every step is safe to run twice: a
lost enqueue (broker down) is picked up by the periodic sweep.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
from celery import current_app
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from core.brokers import REDIS_SCHEMES, redis_client
from core.locking import Rank, lock_rows, locked_transaction
from core.rawsql import (
    COPY_FROM_ROWS,
    COPY_NULL,
    copy_available,
    copy_in,
    copy_text,
    insert_rows,
)
from notifications.emails import emails_record_for_events
from notifications.models import OutboxEvent, WebhookDelivery, WebhookSubscription
from notifications.signing import secret_generate

logger = logging.getLogger(__name__)

# Events per fan-out task; the chunks are fanned out in parallel.
DISPATCH_CHUNK = 200
# Deliveries per delivery task, all for one subscription: one claim, one
# keep-alive connection, one transaction to record them.
WEBHOOK_BATCH = 100


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


# A flag in the broker's Redis while a dispatch of all pending events is
# queued and not yet started. It expires on its own, so a lost task or a
# broker outage holds publishing back for a few seconds at most (the sweep
# has the events meanwhile).
PENDING_FLAG = "amur:outbox:dispatch-pending"
PENDING_FLAG_SECONDS = 5
# Events the pending dispatch takes per run (then it asks for another run).
PENDING_BATCH = 5000


def outbox_enqueue_recorded(event_ids: Sequence[str]) -> None:
    """After a commit that recorded events: a large recording is fanned out
    in parallel chunks at once; the events of small ones (a checkout's single
    event) share one queued dispatch of everything pending, so under load a
    publish to the broker is not paid per order. The flag needs the broker to
    be Redis; with another broker every commit publishes its own."""
    conf = current_app.conf
    if (
        len(event_ids) >= DISPATCH_CHUNK
        or conf.task_always_eager
        or not str(conf.broker_url).startswith(REDIS_SCHEMES)
    ):
        outbox_enqueue(event_ids)
    else:
        outbox_dispatch_request()


def outbox_dispatch_request() -> None:
    """Queue a dispatch of every pending event, unless one is queued already."""
    from notifications.tasks import outbox_dispatch_pending

    try:
        if not _broker_redis().set(PENDING_FLAG, "1", nx=True, ex=PENDING_FLAG_SECONDS):
            return
    except redis.RedisError:
        logger.warning("broker unavailable; the outbox sweep will retry", exc_info=True)
        return
    safe_enqueue(outbox_dispatch_pending.delay)


def outbox_pending_take() -> list[str]:
    """Start a dispatch of the pending events: clear the flag first, so an
    event committed from now on queues another run (none is left behind),
    then list the oldest pending events, at most PENDING_BATCH."""
    _broker_redis().delete(PENDING_FLAG)
    return [
        str(pk)
        for pk in OutboxEvent.objects.filter(dispatched_at__isnull=True)
        .order_by("created_at")
        .values_list("id", flat=True)[:PENDING_BATCH]
    ]


def _broker_redis() -> redis.Redis:
    return _redis_for(current_app.conf.broker_url)


@functools.cache
def _redis_for(url: str) -> redis.Redis:
    # Short timeouts: a commit's callback must not hang on a broker outage.
    return redis_client(url, master_name=settings.REDIS_SENTINEL_MASTER, timeout=0.5)


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
    """Write events in the caller's transaction; dispatch after it commits.
    Returns the rows as stored (the payload as JSON made it: Decimals become
    strings)."""
    return [
        OutboxEvent.from_db(connection.alias, _OUTBOX_FIELDS, _as_stored(row))
        for row in _events_write(list(events))
    ]


def events_record_ids(*, events: Iterable[EventSpec]) -> list[str]:
    """events_record for callers that need no rows back: the state machines,
    whose bulk moves record tens of thousands of events (loading a
    departure's 40,000 back cost 0.6 s of its transaction)."""
    return [str(row[0]) for row in _events_write(list(events))]


def _as_stored(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*row[:4], json.loads(row[4]), *row[5:])


def _events_write(specs: list[EventSpec]) -> list[tuple[Any, ...]]:
    """Insert the events (one INSERT for a few, COPY for many on PostgreSQL,
    bulk_create otherwise); returns their values, the payload as JSON text."""
    if not specs:
        return []
    now = timezone.now()
    values = [
        (
            uuid.uuid4(),
            spec.type,
            spec.subject,
            spec.sequence,
            json.dumps(spec.payload, cls=DjangoJSONEncoder, ensure_ascii=False),
            spec.audience_id,
            sorted(set(spec.audience_ids)),
            spec.email_to,
            spec.email_subject[:200],
            spec.email_body,
            spec.occurred_at,
            now,
            None,
            None,
        )
        for spec in specs
    ]
    if len(values) < COPY_FROM_ROWS:
        insert_rows(OutboxEvent, _OUTBOX_FIELDS, [_as_stored(row) for row in values], returning=())
    elif not _outbox_copy(values):
        OutboxEvent.objects.bulk_create(
            [
                OutboxEvent(**dict(zip(_OUTBOX_FIELDS, _as_stored(row), strict=True)))
                for row in values
            ],
            batch_size=1000,
        )
    ids = [str(row[0]) for row in values]
    transaction.on_commit(lambda: outbox_enqueue_recorded(ids))
    return values


# The columns events_record writes, in the model's order.
_OUTBOX_FIELDS = [
    "id",
    "type",
    "subject",
    "sequence",
    "payload",
    "audience_id",
    "audience_ids",
    "email_to",
    "email_subject",
    "email_body",
    "occurred_at",
    "created_at",
    "dispatched_at",
    "emailed_at",
]


def _copy_line(row: tuple[Any, ...], created: str) -> str:
    """One outbox row in COPY's text format (the _OUTBOX_FIELDS order),
    escaping only the columns that hold free text."""
    (event_id, kind, subject, sequence, payload, audience, audiences, email_to, email_subject,
     email_body, occurred_at, _created, _dispatched, _emailed) = row  # fmt: skip
    return (
        f"{event_id}\t{copy_text(kind)}\t{copy_text(subject)}\t{sequence}\t{copy_text(payload)}"
        f"\t{COPY_NULL if audience is None else audience}\t{json.dumps(audiences)}"
        f"\t{copy_text(email_to)}\t{copy_text(email_subject)}\t{copy_text(email_body)}"
        f"\t{occurred_at.isoformat()}\t{created}\t{COPY_NULL}\t{COPY_NULL}\n"
    )


def _outbox_copy(values: Sequence[tuple[Any, ...]]) -> bool:
    """On PostgreSQL (psycopg2), write the rows with one COPY: several times
    cheaper than a multi-row INSERT, which matters when a departure records
    tens of thousands of events. False when not possible here."""
    concrete = OutboxEvent._meta.concrete_fields
    if (
        not copy_available()
        or [f.attname for f in concrete] != _OUTBOX_FIELDS
        or any(timezone.is_naive(row[10]) for row in values)
    ):
        return False
    created = values[0][11].isoformat()  # one timestamp for the whole batch
    copy_in(
        table=OutboxEvent._meta.db_table,
        columns=[f.column or f.attname for f in concrete],
        text="".join(_copy_line(row, created) for row in values),
    )
    return True


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

    Returns the ids of deliveries to attempt now, by subscription then id."""
    return [
        delivery_id for batch in outbox_events_fan_out(event_ids=event_ids) for delivery_id in batch
    ]


def outbox_events_fan_out(
    *, event_ids: Sequence[str], batch_size: int = WEBHOOK_BATCH
) -> list[list[int]]:
    """Fan events out to their subscriptions (see outbox_events_dispatch).

    Returns the deliveries to attempt now in batches, each for one
    subscription, in id order: one task delivers one batch."""
    now = timezone.now()
    with locked_transaction():
        events = lock_rows(
            OutboxEvent.objects.filter(id__in=event_ids, dispatched_at__isnull=True).only(
                "id", "type", "audience_id", "audience_ids", "created_at"
            ),
            rank=Rank.QUEUE,
            skip_locked=True,
        )
        events.sort(key=lambda e: (e.created_at, e.id))
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
            WebhookDelivery(
                event=event,
                event_created_at=event.created_at,
                subscription=sub,
                next_attempt_at=now,
            )
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
        emails_record_for_events(event_ids=[str(e.id) for e in events])
        OutboxEvent.objects.filter(id__in=[e.id for e in events]).update(dispatched_at=now)
    pending = WebhookDelivery.objects.filter(
        event_id__in=[e.id for e in events], status=WebhookDelivery.Status.PENDING
    ).order_by("subscription_id", "id")
    batches: list[list[int]] = []
    previous: int | None = None
    for delivery_id, subscription_id in pending.values_list("id", "subscription_id"):
        if subscription_id != previous or len(batches[-1]) >= batch_size:
            batches.append([])
            previous = subscription_id
        batches[-1].append(delivery_id)
    return batches


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

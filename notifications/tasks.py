from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta

from celery import current_app, shared_task
from django.utils import timezone

from core import queues
from notifications import delivery, emails, services


@shared_task(name="notifications.outbox_dispatch", ignore_result=True)
def outbox_dispatch(event_ids: list[str]) -> None:
    """Fan a chunk of events out, then queue its deliveries in batches (one
    subscription each) and its e-mails (written by the fan-out) in batches."""
    for batch in services.outbox_events_fan_out(event_ids=event_ids):
        services.safe_enqueue(functools.partial(webhooks_deliver.delay, batch))
    emails.emails_enqueue(emails.emails_unsent_for_events(event_ids=event_ids))


@shared_task(name="notifications.outbox_dispatch_pending", ignore_result=True)
def outbox_dispatch_pending() -> None:
    """Fan out every pending event (see services.outbox_enqueue_recorded), in
    parallel chunks; if the batch was full, ask for another run."""
    event_ids = services.outbox_pending_take()
    services.outbox_enqueue(event_ids)
    if len(event_ids) >= services.PENDING_BATCH:
        services.outbox_dispatch_request()


def _deliveries_enqueue(delivery_ids: Sequence[int]) -> None:
    for start in range(0, len(delivery_ids), services.WEBHOOK_BATCH):
        batch = list(delivery_ids[start : start + services.WEBHOOK_BATCH])
        services.safe_enqueue(functools.partial(webhooks_deliver.delay, batch))


@shared_task(name="notifications.webhooks_deliver", ignore_result=True)
def webhooks_deliver(delivery_ids: list[int]) -> dict[int, str]:
    """Attempt a batch of deliveries once each (see webhook_deliveries_attempt)."""
    outcome = delivery.webhook_deliveries_attempt(delivery_ids=delivery_ids)
    if not current_app.conf.task_always_eager:
        # Released unattempted: due now. Failed: due again after their backoff;
        # the sweep would find them too, scheduling them saves up to a sweep period.
        # Longer waits are left to the sweep alone: a message kept in Redis past
        # the visibility timeout would be delivered twice (core.queues).
        if outcome.released:
            _deliveries_enqueue(outcome.released)
        for retry, eta in _retries_scheduled(outcome.retry_at):
            services.safe_enqueue(
                functools.partial(webhooks_deliver.apply_async, (retry,), eta=eta)
            )
    return outcome.statuses


def _retries_scheduled(retry_at: dict[int, datetime]) -> list[tuple[list[int], datetime]]:
    """The retry groups due within MAX_COUNTDOWN_SECONDS; the sweep has the rest."""
    horizon = timezone.now() + timedelta(seconds=queues.MAX_COUNTDOWN_SECONDS)
    return [(ids, eta) for ids, eta in _retry_groups(retry_at) if eta <= horizon]


def _retry_groups(retry_at: dict[int, datetime]) -> list[tuple[list[int], datetime]]:
    """Failed deliveries grouped by when they are due again, one task each,
    due with the group's last: within a group the due times differ by less
    than half the wait (the backoff's jitter), so none waits much longer."""
    now = timezone.now()
    groups: list[tuple[list[int], datetime]] = []
    first: datetime | None = None
    for delivery_id, due in sorted(retry_at.items(), key=lambda item: item[1]):
        if first is None or due > first + max((first - now) / 2, timedelta(seconds=5)):
            groups.append(([], due))
            first = due
        groups[-1][0].append(delivery_id)
        groups[-1] = (groups[-1][0], due)
    return groups


@shared_task(name="notifications.webhook_deliver", ignore_result=True)
def webhook_deliver(delivery_id: int) -> str:
    """One delivery (tasks queued before batches existed; resends)."""
    return webhooks_deliver([delivery_id])[delivery_id]


@shared_task(name="notifications.emails_send", ignore_result=True)
def emails_send_task(email_ids: list[int]) -> int:
    """Failures are retried by the e-mail sweep, from the row's due time."""
    return emails.emails_send(email_ids=email_ids)


@shared_task(name="notifications.emails_sweep", ignore_result=True)
def emails_sweep() -> int:
    """Queue every unsent e-mail that is due: lost tasks, failed attempts."""
    due = emails.emails_due()
    emails.emails_enqueue(due)
    return len(due)


# Tasks queued before e-mails had rows of their own.
@shared_task(name="notifications.events_email", ignore_result=True)
def events_email(event_ids: list[str]) -> int:
    return emails.events_email_send(event_ids=event_ids)


@shared_task(name="notifications.event_email", ignore_result=True)
def event_email(event_id: str) -> bool:
    return emails.events_email_send(event_ids=[event_id]) == 1


@shared_task(name="notifications.outbox_sweep", ignore_result=True)
def outbox_sweep() -> dict[str, int]:
    events, deliveries = services.outbox_due()
    if events:
        services.outbox_enqueue(events)
    _deliveries_enqueue(deliveries)
    return {"events": len(events), "deliveries": len(deliveries)}

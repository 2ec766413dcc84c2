from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta

from celery import current_app, shared_task
from django.utils import timezone

from notifications import delivery, services
from notifications.models import OutboxEvent


@shared_task(name="notifications.outbox_dispatch", ignore_result=True)
def outbox_dispatch(event_ids: list[str]) -> None:
    """Fan a chunk of events out, then queue its deliveries in batches (one
    subscription each) and its e-mails in one task."""
    for batch in services.outbox_events_fan_out(event_ids=event_ids):
        services.safe_enqueue(functools.partial(webhooks_deliver.delay, batch))
    emails = [
        str(event_id)
        for event_id in OutboxEvent.objects.filter(id__in=event_ids, emailed_at__isnull=True)
        .exclude(email_to="")
        .values_list("id", flat=True)
    ]
    for start in range(0, len(emails), services.EMAIL_BATCH):
        chunk = emails[start : start + services.EMAIL_BATCH]
        services.safe_enqueue(functools.partial(events_email.delay, chunk))


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
        if outcome.released:
            _deliveries_enqueue(outcome.released)
        for retry, eta in _retry_groups(outcome.retry_at):
            services.safe_enqueue(
                functools.partial(webhooks_deliver.apply_async, (retry,), eta=eta)
            )
    return outcome.statuses


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


@shared_task(
    name="notifications.events_email",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
)
def events_email(event_ids: list[str]) -> int:
    return services.events_email_send(event_ids=event_ids)


@shared_task(
    name="notifications.event_email",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
)
def event_email(event_id: str) -> bool:
    return services.event_email_send(event_id=event_id)


@shared_task(name="notifications.outbox_sweep", ignore_result=True)
def outbox_sweep() -> dict[str, int]:
    events, deliveries = services.outbox_due()
    if events:
        services.outbox_enqueue(events)
    _deliveries_enqueue(deliveries)
    return {"events": len(events), "deliveries": len(deliveries)}

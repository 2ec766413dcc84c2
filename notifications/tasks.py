from __future__ import annotations

import functools

from celery import current_app, shared_task

from notifications import services
from notifications.models import OutboxEvent


@shared_task(name="notifications.outbox_dispatch", ignore_result=True)
def outbox_dispatch(event_ids: list[str]) -> None:
    delivery_ids = services.outbox_events_dispatch(event_ids=event_ids)
    for delivery_id in delivery_ids:
        services.safe_enqueue(functools.partial(webhook_deliver.delay, delivery_id))
    emails = OutboxEvent.objects.filter(id__in=event_ids, emailed_at__isnull=True).exclude(
        email_to=""
    )
    for event_id in emails.values_list("id", flat=True):
        services.safe_enqueue(functools.partial(event_email.delay, str(event_id)))


@shared_task(name="notifications.webhook_deliver", ignore_result=True)
def webhook_deliver(delivery_id: int) -> str:
    status = services.webhook_delivery_attempt(delivery_id=delivery_id)
    if status == "pending" and not current_app.conf.task_always_eager:
        # The sweep would find it too; scheduling it saves up to a sweep period.
        delivery = services.WebhookDelivery.objects.get(id=delivery_id)
        services.safe_enqueue(
            lambda: webhook_deliver.apply_async((delivery_id,), eta=delivery.next_attempt_at)
        )
    return status


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
    for delivery_id in deliveries:
        services.safe_enqueue(functools.partial(webhook_deliver.delay, delivery_id))
    return {"events": len(events), "deliveries": len(deliveries)}

"""The outbox and webhook deliveries: once per event, retries, dead letters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from notifications.delivery import retry_delay, webhook_delivery_attempt, webhook_delivery_resend
from notifications.models import OutboxEvent, WebhookAttempt, WebhookDelivery, WebhookSubscription
from notifications.services import (
    EventSpec,
    event_record,
    outbox_due,
    outbox_events_dispatch,
    subscription_create,
)
from tests.factories import UserFactory
from tests.receiver import webhook_receiver


def spec(user_id: int, n: int = 1) -> EventSpec:
    return EventSpec(
        type="order.status_changed",
        subject="order:AM1",
        sequence=n,
        payload={"order": "AM1", "status": "paid"},
        occurred_at=timezone.now(),
        audience_id=user_id,
        email_to="buyer@example.ru",
        email_subject="Order AM1: paid",
        email_body="Paid.",
    )


@pytest.mark.django_db(transaction=True)
def test_event_is_delivered_after_commit_once_and_emailed() -> None:
    user = UserFactory.create()
    with webhook_receiver() as receiver:
        subscription_create(owner_id=user.id, url=receiver.url, event_types=[])
        with transaction.atomic():
            event = event_record(spec=spec(user.id))
            assert receiver.received == []  # nothing leaves before commit
        bodies = receiver.bodies()
    assert [b["id"] for b in bodies] == [str(event.id)]
    assert bodies[0]["type"] == "order.status_changed"
    assert bodies[0]["sequence"] == 1
    assert [m.subject for m in mail.outbox] == ["Order AM1: paid"]
    # Dispatching again changes nothing: the event is fanned out once.
    assert outbox_events_dispatch(event_ids=[str(event.id)]) == []
    assert WebhookDelivery.objects.get().status == "delivered"


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_sends_nothing() -> None:
    user = UserFactory.create()
    with webhook_receiver() as receiver:
        subscription_create(owner_id=user.id, url=receiver.url, event_types=[])
        with pytest.raises(RuntimeError), transaction.atomic():
            event_record(spec=spec(user.id))
            raise RuntimeError("abort")
        assert receiver.received == []
    assert OutboxEvent.objects.count() == 0
    assert mail.outbox == []


def test_other_buyers_and_unwanted_types_are_not_delivered(db: Any) -> None:
    owner, stranger = UserFactory.create(), UserFactory.create()
    subscription_create(owner_id=stranger.id, url="http://127.0.0.1:9/x", event_types=[])
    subscription_create(
        owner_id=owner.id, url="http://127.0.0.1:9/y", event_types=["parcel.status_changed"]
    )
    storefront = subscription_create(
        owner_id=stranger.id, url="http://127.0.0.1:9/all", event_types=[], all_events=True
    )
    event = OutboxEvent.objects.create(
        type="order.status_changed",
        subject="order:AM1",
        payload={},
        audience=owner,
        occurred_at=timezone.now(),
    )
    outbox_events_dispatch(event_ids=[str(event.id)])
    assert list(WebhookDelivery.objects.values_list("subscription_id", flat=True)) == [
        storefront.id
    ]


def _delivery(url: str) -> WebhookDelivery:
    user = UserFactory.create()
    subscription = subscription_create(owner_id=user.id, url=url, event_types=[])
    event = OutboxEvent.objects.create(
        type="order.status_changed",
        subject="order:AM1",
        payload={},
        audience=user,
        occurred_at=timezone.now(),
    )
    return WebhookDelivery.objects.create(
        event=event,
        event_created_at=event.created_at,
        subscription=subscription,
        next_attempt_at=timezone.now(),
    )


def test_server_error_is_retried_later_with_backoff(db: Any) -> None:
    with webhook_receiver(status=503) as receiver:
        delivery = _delivery(receiver.url)
        assert webhook_delivery_attempt(delivery_id=delivery.id) == "pending"
        # Not due yet: a second call does not send again.
        webhook_delivery_attempt(delivery_id=delivery.id)
        assert len(receiver.received) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.last_status_code == 503
    wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=7) < wait <= timedelta(seconds=12)
    assert list(WebhookAttempt.objects.values_list("number", "status_code")) == [(1, 503)]


def test_client_error_is_not_retried(db: Any) -> None:
    with webhook_receiver(status=410) as receiver:
        delivery = _delivery(receiver.url)
        assert webhook_delivery_attempt(delivery_id=delivery.id) == "failed"
    assert WebhookDelivery.objects.get().status == "failed"
    assert outbox_due() == ([], [])


def test_eighth_failure_dead_letters_and_pauses_the_subscription(db: Any) -> None:
    with webhook_receiver(status=500) as receiver:
        delivery = _delivery(receiver.url)
        delivery.subscription.owner.email = "shop@example.ru"
        delivery.subscription.owner.save()
        statuses = []
        for _ in range(8):
            WebhookDelivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())
            statuses.append(webhook_delivery_attempt(delivery_id=delivery.id))
        assert len(receiver.received) == 8
    assert statuses == ["pending"] * 7 + ["dead"]
    subscription = WebhookSubscription.objects.get()
    assert (subscription.is_active, subscription.consecutive_failures) == (False, 8)
    assert WebhookAttempt.objects.count() == 8


def test_unreachable_endpoint_is_recorded_as_an_error(db: Any) -> None:
    delivery = _delivery("http://127.0.0.1:9/closed")
    assert webhook_delivery_attempt(delivery_id=delivery.id) == "pending"
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("NewConnectionError: ")
    assert "Connection refused" in attempt.error


def test_retry_delays_grow_and_total_about_four_hours() -> None:
    lows = [retry_delay(n).total_seconds() for n in range(1, 8)]
    assert lows == sorted(lows)
    total = sum((retry_delay(n) for n in range(1, 8)), timedelta())
    assert timedelta(hours=3) < total < timedelta(hours=5)


def test_resend_sends_a_dead_delivery_again(db: Any) -> None:
    with webhook_receiver() as receiver:
        delivery = _delivery(receiver.url)
        WebhookDelivery.objects.filter(id=delivery.id).update(status="dead", attempts=8)
        with transaction.atomic():
            webhook_delivery_resend(delivery_id=delivery.id)
        webhook_delivery_attempt(delivery_id=delivery.id)
        assert len(receiver.received) == 1
    assert WebhookDelivery.objects.get().status == "delivered"


def test_sweep_finds_events_the_broker_never_took(db: Any) -> None:
    user = UserFactory.create()
    stale = OutboxEvent.objects.create(
        type="order.status_changed",
        subject="order:AM1",
        payload={},
        audience=user,
        occurred_at=timezone.now(),
    )
    OutboxEvent.objects.filter(id=stale.id).update(created_at=timezone.now() - timedelta(minutes=1))
    events, deliveries = outbox_due()
    assert events == [str(stale.id)]
    assert deliveries == []

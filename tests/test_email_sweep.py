"""E-mail is a durable row, retried by the sweep until it is sent, and sent once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from notifications import emails
from notifications.models import Email, OutboxEvent
from notifications.services import EventSpec, events_record, outbox_events_fan_out
from notifications.tasks import emails_sweep, outbox_dispatch
from tests.factories import UserFactory


def order_paid_event(user: Any, number: str) -> OutboxEvent:
    with transaction.atomic():
        (event,) = events_record(
            events=[
                EventSpec(
                    type="order.status_changed",
                    subject=f"order:{number}",
                    payload={"number": number},
                    occurred_at=timezone.now(),
                    audience_id=user.id,
                    email_to=user.email,
                    email_subject=f"Order {number}: paid",
                    email_body="Paid.",
                )
            ]
        )
    return event


def time_passes(seconds: int) -> None:
    """Move every due time and lease back, as if `seconds` went by."""
    for email in Email.objects.all():
        Email.objects.filter(id=email.id).update(
            next_attempt_at=email.next_attempt_at - timedelta(seconds=seconds),
            locked_until=email.locked_until and email.locked_until - timedelta(seconds=seconds),
        )


@pytest.mark.django_db
def test_an_email_whose_task_was_lost_is_sent_by_the_sweep() -> None:
    user = UserFactory.create(email="buyer@example.ru")
    event = order_paid_event(user, "AM1")
    # The test's transaction never commits, so nothing queued after commit
    # runs: the fan-out dispatches the event and writes its e-mail row, and
    # the task that would send it is lost, as with the broker.
    outbox_events_fan_out(event_ids=[str(event.id)])
    email = Email.objects.get(event_id=event.id)
    assert (email.to, email.subject, email.sent_at) == ("buyer@example.ru", "Order AM1: paid", None)
    # Left to its own task for a minute, then the sweep's.
    assert emails_sweep() == 0
    time_passes(emails.EMAIL_FIRST_SWEEP_SECONDS)
    assert emails_sweep() == 1
    assert [(m.to, m.subject) for m in mail.outbox] == [(["buyer@example.ru"], "Order AM1: paid")]
    email.refresh_from_db()
    event.refresh_from_db()
    assert email.sent_at is not None and email.attempts == 1
    assert event.emailed_at == email.sent_at
    # Sent once: the sweep and a late copy of the lost task find nothing more.
    time_passes(3600)
    assert emails_sweep() == 0
    outbox_dispatch([str(event.id)])
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_down_for_hours_gets_the_email_when_it_is_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = UserFactory.create(email="buyer@example.ru")
    real_send = emails.send_mail
    down = {"on": True}

    def send(*args: Any, **kwargs: Any) -> int:
        if down["on"]:
            raise ConnectionRefusedError("mail server down")
        return real_send(*args, **kwargs)

    monkeypatch.setattr(emails, "send_mail", send)
    # The whole way, in process: the dispatch's e-mail task fails at once.
    event = order_paid_event(user, "AM2")
    email = Email.objects.get(event_id=event.id)
    assert (email.attempts, email.sent_at) == (1, None)
    # Ten hours of sweeps, each attempt waiting twice as long, at most an hour.
    waits = []
    for _hour in range(10):
        time_passes(3600)
        emails_sweep()
        due = Email.objects.get(id=email.id).next_attempt_at
        waits.append(round((due - timezone.now()).total_seconds() / 60))
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60, 60, 60]
    email.refresh_from_db()
    assert email.attempts == 11
    assert email.last_error == "ConnectionRefusedError: mail server down"
    assert mail.outbox == []
    down["on"] = False
    time_passes(3600)
    assert emails_sweep() == 1
    email.refresh_from_db()
    assert email.sent_at is not None and email.attempts == 12
    assert [m.subject for m in mail.outbox] == ["Order AM2: paid"]


@pytest.mark.django_db
def test_an_email_claimed_by_a_worker_that_died_goes_again_after_its_lease() -> None:
    user = UserFactory.create(email="buyer@example.ru")
    email = emails.email_queue(to=user.email, subject="Paused", body="Fix it.")
    # A worker claimed it, then was killed before the mail server answered.
    Email.objects.filter(id=email.id).update(
        sent_at=None, attempts=1, locked_until=timezone.now() + timedelta(seconds=300)
    )
    time_passes(emails.EMAIL_FIRST_SWEEP_SECONDS)
    assert emails_sweep() == 0  # still leased
    time_passes(emails.EMAIL_LEASE_SECONDS)
    assert emails_sweep() == 1
    assert [m.subject for m in mail.outbox] == ["Paused"]

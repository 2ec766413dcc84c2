"""Writes for e-mail: a durable row per message (notifications.models.Email),
sent by a task after the commit that wrote it and retried by the e-mail
sweep until the mail server takes it.

A lost task, a worker killed mid-batch, a mail server down for a day: the
row stays unsent and the sweep hands it out again once it is due. A message
is sent at most once, except when a worker dies between the mail server's
answers and the batch's update (the lease then lapses and the batch goes
again).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.db import transaction
from django.db.models import DateTimeField, F, Q, Value
from django.utils import timezone

from core.locking import Rank, lock_rows, locked_transaction
from core.rawsql import insert_select
from notifications.models import Email, OutboxEvent

logger = logging.getLogger(__name__)

# E-mails per sending task, over one connection.
EMAIL_BATCH = 200
# A claimed message is left alone this long: above the sending task's hard
# time limit (core.queues), so a running task is never raced by the sweep.
EMAIL_LEASE_SECONDS = 300
# The sweep leaves a new message to the task queued with it this long.
EMAIL_FIRST_SWEEP_SECONDS = 60
# Backoff between failed attempts: 1, 2, 4 ... minutes, at most an hour,
# for as long as it takes.
EMAIL_RETRY_SECONDS = 60
EMAIL_RETRY_MAX_SECONDS = 3600


def _retry_delay(attempts: int) -> timedelta:
    return timedelta(
        seconds=min(EMAIL_RETRY_SECONDS * 2 ** max(attempts - 1, 0), EMAIL_RETRY_MAX_SECONDS)
    )


def emails_enqueue(email_ids: Sequence[int]) -> None:
    from notifications.services import safe_enqueue
    from notifications.tasks import emails_send_task

    for start in range(0, len(email_ids), EMAIL_BATCH):
        chunk = list(email_ids[start : start + EMAIL_BATCH])
        safe_enqueue(functools.partial(emails_send_task.delay, chunk))


def email_queue(*, to: str, subject: str, body: str) -> Email:
    """Write one e-mail in the caller's transaction; it is sent after commit."""
    email = Email.objects.create(
        to=to,
        subject=subject[:200],
        body=body,
        next_attempt_at=timezone.now() + timedelta(seconds=EMAIL_FIRST_SWEEP_SECONDS),
    )
    transaction.on_commit(lambda: emails_enqueue([email.id]))
    return email


def emails_record_for_events(*, event_ids: Sequence[str]) -> int:
    """The e-mail rows of events that carry one (once per event), in the
    caller's transaction: the fan-out's, so no event is marked dispatched
    without its e-mail written. Returns how many were written."""
    now = timezone.now()
    # INSERT ... SELECT: the bodies go from the event rows to the e-mail rows
    # inside the database. Read into Python and written back with
    # bulk_create, they made a fifth of a departure's fan-out (bench/fanout.py's
    # 40,000 events fanned out in one process: 9.3 s that way, 7.5 s this way).
    return insert_select(
        Email,
        (
            "event_id",
            "to",
            "subject",
            "body",
            "attempts",
            "next_attempt_at",
            "last_error",
            "created_at",
        ),
        OutboxEvent.objects.filter(id__in=event_ids, emailed_at__isnull=True)
        .exclude(email_to="")
        .order_by("created_at", "id")
        .annotate(
            email_attempts=Value(0),
            email_due=Value(
                now + timedelta(seconds=EMAIL_FIRST_SWEEP_SECONDS), output_field=DateTimeField()
            ),
            email_error=Value(""),
            email_created=Value(now, output_field=DateTimeField()),
        )
        .values_list(
            "id",
            "email_to",
            "email_subject",
            "email_body",
            "email_attempts",
            "email_due",
            "email_error",
            "email_created",
        ),
        skip_conflicts_on=("event_id",),
    )


def emails_unsent_for_events(*, event_ids: Sequence[str]) -> list[int]:
    return list(
        Email.objects.filter(event_id__in=event_ids, sent_at__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)
    )


def emails_send(*, email_ids: Sequence[int]) -> int:
    """Send the unsent, unclaimed ones of these e-mails over one connection;
    returns how many were sent. The first failure leaves that one due after
    its backoff and the rest of the batch due now (for the sweep)."""
    now = timezone.now()
    with locked_transaction():
        rows = lock_rows(
            Email.objects.filter(id__in=email_ids, sent_at__isnull=True).filter(
                Q(locked_until__isnull=True) | Q(locked_until__lt=now)
            ),
            rank=Rank.QUEUE,
            skip_locked=True,
        )
        rows.sort(key=lambda e: e.id)
        Email.objects.filter(id__in=[e.id for e in rows]).update(
            locked_until=now + timedelta(seconds=EMAIL_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    if not rows:
        return 0
    sent = 0
    try:
        with get_connection() as mailer:
            for email in rows:
                send_mail(
                    email.subject,
                    email.body,
                    settings.DEFAULT_FROM_EMAIL,
                    [email.to],
                    connection=mailer,
                )
                sent += 1
    except Exception as error:
        _sent(rows[:sent])
        failed, untried = rows[sent], rows[sent + 1 :]
        logger.warning("e-mail %s not sent, retried later", failed.id, exc_info=True)
        Email.objects.filter(id=failed.id).update(
            locked_until=None,
            last_error=f"{type(error).__name__}: {error}"[:500],
            next_attempt_at=timezone.now() + _retry_delay(failed.attempts + 1),
        )
        Email.objects.filter(id__in=[e.id for e in untried]).update(
            locked_until=None, attempts=F("attempts") - 1, next_attempt_at=timezone.now()
        )
        return sent
    _sent(rows)
    return sent


def _sent(emails: Sequence[Email]) -> None:
    """Marked together after the batch, two statements whatever its size (a
    worker killed before this sends the batch again once the lease lapses)."""
    if not emails:
        return
    now = timezone.now()
    Email.objects.filter(id__in=[e.id for e in emails]).update(
        sent_at=now, locked_until=None, last_error=""
    )
    events = [e.event_id for e in emails if e.event_id is not None]
    if events:
        OutboxEvent.objects.filter(id__in=events).update(emailed_at=now)


def events_email_send(*, event_ids: Sequence[str]) -> int:
    """Send the events' e-mails (writing their rows if the fan-out has not)."""
    with transaction.atomic():
        emails_record_for_events(event_ids=event_ids)
    return emails_send(email_ids=emails_unsent_for_events(event_ids=event_ids))


def emails_due(*, limit: int = 5000) -> list[int]:
    """Unsent e-mails whose (next) attempt is due and that no task holds."""
    now = timezone.now()
    return list(
        Email.objects.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lt=now),
            sent_at__isnull=True,
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )

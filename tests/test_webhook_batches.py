"""Webhook deliveries in batches: one claim, one keep-alive session and one
transaction per batch, with the guarantees of single deliveries (once, retry
on 5xx, none on 4xx, attempts recorded, dead letters, pausing)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications import delivery, emails
from notifications.delivery import (
    WebhookClient,
    webhook_client,
    webhook_deliveries_attempt,
    webhook_delivery_attempt,
    webhook_delivery_resend,
)
from notifications.emails import events_email_send
from notifications.models import (
    Email,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from notifications.services import outbox_events_fan_out, subscription_create
from notifications.tasks import outbox_dispatch, webhooks_deliver
from tests.factories import UserFactory


@dataclass
class Endpoint:
    """A loopback endpoint answering with the given statuses in turn (the
    last one repeats); it may set a cookie, and records what it got."""

    url: str = ""
    statuses: list[int] = field(default_factory=lambda: [200])
    set_cookie: bool = False
    ids: list[str] = field(default_factory=list)
    cookies: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self) -> int:
        with self.lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


@contextmanager
def endpoint(*statuses: int, set_cookie: bool = False) -> Iterator[Endpoint]:
    state = Endpoint(statuses=list(statuses or (200,)), set_cookie=set_cookie)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # http.server's naming
            self.rfile.read(int(self.headers.get("content-length", "0")))
            with state.lock:
                state.ids.append(self.headers.get("webhook-id", ""))
                state.cookies.append(self.headers.get("cookie", ""))
                state.paths.append(self.path)
            self.send_response(state.next_status())
            if state.set_cookie:
                self.send_header("Set-Cookie", "session=secret-of-one-endpoint; Path=/")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def deliveries(url: str, count: int, owner: Any = None) -> list[WebhookDelivery]:
    owner = owner or UserFactory.create()
    subscription = subscription_create(owner_id=owner.id, url=url, event_types=[])
    now = timezone.now()
    events = OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                type="parcel.status_changed",
                subject=f"parcel:RR{i:09d}CN",
                payload={"status": "in_transit"},
                audience=owner,
                occurred_at=now,
            )
            for i in range(count)
        ]
    )
    return WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                event=e,
                event_created_at=e.created_at,
                subscription=subscription,
                next_attempt_at=now,
            )
            for e in events
        ]
    )


def ids_of(rows: list[WebhookDelivery]) -> list[int]:
    return [row.id for row in rows]


def test_a_batch_delivers_each_once_with_constant_queries(db: Any) -> None:
    with endpoint() as hook:
        few, many = deliveries(hook.url, 3), deliveries(hook.url, 40)
        with CaptureQueriesContext(connection) as small:
            webhook_deliveries_attempt(delivery_ids=ids_of(few))
        with CaptureQueriesContext(connection) as large:
            outcome = webhook_deliveries_attempt(delivery_ids=ids_of(many))
        # Running the batch again sends nothing: every delivery is claimed once.
        again = webhook_deliveries_attempt(delivery_ids=ids_of(few + many))

    assert len(large.captured_queries) == len(small.captured_queries)
    assert outcome.statuses == {d.id: "delivered" for d in many}
    assert (outcome.retry_at, outcome.released) == ({}, [])
    assert again.statuses == {d.id: "delivered" for d in few + many}
    expected = {str(d.event_id) for d in few + many}
    assert len(hook.ids) == len(expected) and set(hook.ids) == expected
    assert set(WebhookAttempt.objects.values_list("number", "status_code")) == {(1, 200)}
    assert WebhookAttempt.objects.count() == 43
    assert not WebhookDelivery.objects.exclude(status="delivered").exists()
    assert not WebhookDelivery.objects.filter(locked_until__isnull=False).exists()


def test_a_mixed_batch_retries_5xx_and_drops_4xx(db: Any) -> None:
    with endpoint(200, 503, 410, 200) as hook:
        batch = deliveries(hook.url, 4)
        outcome = webhook_deliveries_attempt(delivery_ids=ids_of(batch))

    ok, busy, gone, ok_again = batch
    assert outcome.statuses == {
        ok.id: "delivered",
        busy.id: "pending",
        gone.id: "failed",
        ok_again.id: "delivered",
    }
    assert list(outcome.retry_at) == [busy.id]
    stored = {d.id: d for d in WebhookDelivery.objects.all()}
    assert stored[busy.id].last_status_code == 503
    wait = stored[busy.id].next_attempt_at - timezone.now()
    assert timedelta(seconds=7) < wait <= timedelta(seconds=12)
    assert stored[busy.id].locked_until is None
    assert stored[gone.id].last_status_code == 410
    # One success after the failures: nothing in a row.
    assert WebhookSubscription.objects.get().consecutive_failures == 0


def test_eight_failures_in_a_row_within_a_batch_pause_the_subscription(db: Any) -> None:
    owner = UserFactory.create(email="shop@example.ru")
    with endpoint(*([500] * 8), 200) as hook:
        batch = deliveries(hook.url, 9, owner=owner)
        outcome = webhook_deliveries_attempt(delivery_ids=ids_of(batch))

    assert list(outcome.statuses.values()) == ["pending"] * 8 + ["delivered"]
    subscription = WebhookSubscription.objects.get()
    # As if sent one by one: paused on the eighth failure, reset by the success.
    assert (subscription.is_active, subscription.consecutive_failures) == (False, 0)
    assert subscription.paused_at is not None


def test_failures_continue_the_stored_count(db: Any) -> None:
    with endpoint(500) as hook:
        batch = deliveries(hook.url, 3)
        WebhookSubscription.objects.update(consecutive_failures=6)
        webhook_deliveries_attempt(delivery_ids=ids_of(batch))

    subscription = WebhookSubscription.objects.get()
    assert (subscription.is_active, subscription.consecutive_failures) == (False, 9)


def test_eighth_attempt_dead_letters_within_a_batch(db: Any) -> None:
    with endpoint(500) as hook:
        batch = deliveries(hook.url, 2)
        WebhookDelivery.objects.filter(id=batch[0].id).update(attempts=7)
        outcome = webhook_deliveries_attempt(delivery_ids=ids_of(batch))

    assert outcome.statuses == {batch[0].id: "dead", batch[1].id: "pending"}
    assert list(outcome.retry_at) == [batch[1].id]


def test_a_resent_dead_delivery_numbers_its_attempts_on(db: Any) -> None:
    with endpoint(500) as hook:
        (delivery,) = deliveries(hook.url, 1)
        for _ in range(8):
            WebhookDelivery.objects.filter(id=delivery.id).update(next_attempt_at=timezone.now())
            webhook_delivery_attempt(delivery_id=delivery.id)
        assert WebhookDelivery.objects.get().status == "dead"
        hook.statuses = [200]
        webhook_delivery_resend(delivery_id=delivery.id)
        assert webhook_delivery_attempt(delivery_id=delivery.id) == "delivered"

    assert list(WebhookAttempt.objects.values_list("number", "status_code")) == [
        *[(n, 500) for n in range(1, 9)],
        (9, 200),
    ]


def test_a_batch_out_of_time_releases_the_rest_unattempted(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A lease with room for one request only: the rest must go back untouched.
    monkeypatch.setitem(settings.AMUR, "WEBHOOK_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(delivery, "LEASE_REQUESTS", 1)
    monkeypatch.setattr(delivery, "LEASE_MARGIN_SECONDS", 0)
    with endpoint() as hook:
        batch = deliveries(hook.url, 3)
        outcome = webhook_deliveries_attempt(delivery_ids=ids_of(batch))

    assert len(hook.ids) == 1
    assert outcome.statuses[batch[0].id] == "delivered"
    assert outcome.released == [batch[1].id, batch[2].id]
    rest = WebhookDelivery.objects.filter(id__in=outcome.released)
    assert set(rest.values_list("status", "attempts", "locked_until")) == {("pending", 0, None)}


def test_the_client_keeps_no_cookies_between_endpoints(db: Any) -> None:
    with endpoint(set_cookie=True) as first, endpoint() as second:
        first_batch, second_batch = deliveries(first.url, 2), deliveries(second.url, 1)
        client = webhook_client()
        webhook_deliveries_attempt(delivery_ids=ids_of(first_batch), client=client)
        webhook_deliveries_attempt(delivery_ids=ids_of(second_batch), client=client)

    assert first.cookies == ["", ""]
    assert second.cookies == [""]


def test_the_client_goes_through_the_environments_proxy_unless_told_not_to(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with endpoint() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.removesuffix("/hooks"))
        monkeypatch.setenv("NO_PROXY", "direct.invalid")
        proxied = deliveries("http://hooks.invalid/amur", 1)
        direct = deliveries("http://direct.invalid/amur", 1)
        client = WebhookClient()
        webhook_deliveries_attempt(delivery_ids=ids_of(proxied), client=client)
        webhook_deliveries_attempt(delivery_ids=ids_of(direct), client=client)

    # A proxy is asked for the whole URL; the bypassed host is looked up itself.
    assert proxy.paths == ["http://hooks.invalid/amur"]
    assert WebhookDelivery.objects.get(id=proxied[0].id).status == "delivered"
    failed = WebhookAttempt.objects.get(delivery_id=direct[0].id)
    assert (failed.status_code, failed.error.split(":")[0]) == (None, "NameResolutionError")


@pytest.mark.django_db(transaction=True)
def test_dispatch_fans_out_in_batches_of_one_subscription() -> None:
    buyer, shop = UserFactory.create(), UserFactory.create()
    with endpoint() as mine, endpoint() as storefront:
        subscription_create(owner_id=buyer.id, url=mine.url, event_types=[])
        subscription_create(owner_id=shop.id, url=storefront.url, event_types=[], all_events=True)
        events = [
            OutboxEvent.objects.create(
                type="order.status_changed",
                subject=f"order:AM{i}",
                payload={"n": i},
                audience=buyer,
                occurred_at=timezone.now(),
            )
            for i in range(6)
        ]
        ids = [str(e.id) for e in events]
        batches = outbox_events_fan_out(event_ids=ids, batch_size=4)
        assert [len(b) for b in batches] == [4, 2, 4, 2]
        for batch in batches:
            subscriptions = set(
                WebhookDelivery.objects.filter(id__in=batch).values_list("subscription", flat=True)
            )
            assert len(subscriptions) == 1
            webhooks_deliver(batch)
        # Dispatching again creates and sends nothing more.
        outbox_dispatch(ids)

    assert sorted(mine.ids) == sorted(storefront.ids) == sorted(ids)


@pytest.mark.django_db(transaction=True)
def test_emails_go_out_once_and_a_failure_leaves_the_rest_for_a_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = UserFactory.create()
    events = [
        OutboxEvent.objects.create(
            type="order.status_changed",
            subject=f"order:AM{i}",
            payload={},
            audience=user,
            occurred_at=timezone.now(),
            email_to=f"buyer{i}@example.ru",
            email_subject=f"Order AM{i}",
            email_body="Paid.",
        )
        for i in range(4)
    ]
    ids = [str(e.id) for e in events]
    real_send = emails.send_mail
    calls = {"n": 0}

    def flaky_send(*args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("SMTP server went away")
        return real_send(*args, **kwargs)

    monkeypatch.setattr(emails, "send_mail", flaky_send)
    assert events_email_send(event_ids=ids) == 2
    assert [m.subject for m in mail.outbox] == ["Order AM0", "Order AM1"]
    assert OutboxEvent.objects.filter(emailed_at__isnull=True).count() == 2
    rows = {e.subject: e for e in Email.objects.filter(sent_at__isnull=True)}
    assert sorted(rows) == ["Order AM2", "Order AM3"]
    # The failed one waits its backoff with the error; the untried one is due now.
    failed, untried = rows["Order AM2"], rows["Order AM3"]
    assert (failed.attempts, failed.last_error) == (1, "OSError: SMTP server went away")
    assert failed.next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert (untried.attempts, untried.locked_until) == (0, None)
    assert untried.next_attempt_at <= timezone.now()

    assert events_email_send(event_ids=ids) == 2
    assert events_email_send(event_ids=ids) == 0
    assert sorted(m.subject for m in mail.outbox) == [f"Order AM{i}" for i in range(4)]
    assert Email.objects.filter(sent_at__isnull=True).count() == 0


def test_recorded_events_read_back_as_written(db: Any) -> None:
    """events_record writes with COPY on PostgreSQL: awkward text survives."""
    from decimal import Decimal

    from notifications.services import EventSpec, events_record

    user, other = UserFactory.create(), UserFactory.create()
    awkward = "tab\there\nnew line\r\\N back\\slash \\t «ёлка» 哈尔滨 \u2028 'quote\" %s"
    specs = [
        EventSpec(
            type="order.status_changed",
            subject=f"order:AM{i}",
            sequence=i + 1,
            payload={"note": awkward, "total": Decimal("12.50"), "n": [1, None, True]},
            occurred_at=timezone.now() - timedelta(minutes=i),
            audience_id=user.id if i else None,
            audience_ids=(other.id, user.id, other.id),
            email_to="buyer@example.ru",
            email_subject=awkward * 20,
            email_body=awkward,
        )
        for i in range(3)
    ]
    returned = events_record(events=specs)

    fields = [f.attname for f in OutboxEvent._meta.concrete_fields]
    stored = {e.id: e for e in OutboxEvent.objects.filter(id__in=[r.id for r in returned])}
    assert len(stored) == 3
    for row in returned:
        assert [getattr(row, f) for f in fields] == [getattr(stored[row.id], f) for f in fields]
    first = stored[returned[0].id]
    assert first.payload == {"note": awkward, "total": "12.50", "n": [1, None, True]}
    assert first.audience_id is None
    assert first.audience_ids == sorted({user.id, other.id})
    assert first.email_subject == (awkward * 20)[:200]
    assert first.email_body == awkward
    assert (first.dispatched_at, first.emailed_at) == (None, None)


def test_retries_are_scheduled_in_groups_due_together() -> None:
    from notifications.tasks import _retry_groups

    now = timezone.now()
    due = {
        1: now + timedelta(seconds=11),
        2: now + timedelta(seconds=9),
        3: now + timedelta(seconds=12),
        4: now + timedelta(minutes=28),
        5: now + timedelta(minutes=33),
        6: now + timedelta(hours=2),
    }
    groups = _retry_groups(due)
    assert [ids for ids, _eta in groups] == [[2, 1, 3], [4, 5], [6]]
    assert [eta for _ids, eta in groups] == [due[3], due[5], due[6]]

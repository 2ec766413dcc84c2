"""Small recordings share one queued dispatch of every pending event: one
publish while it waits, none lost when it runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from notifications import services, tasks
from notifications.services import PENDING_FLAG, event_record
from tests.factories import UserFactory
from tests.test_notifications import spec

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def published(monkeypatch: Any) -> Iterator[dict[str, list[Any]]]:
    """What would reach the broker, by task; the flag starts clear."""
    calls: dict[str, list[Any]] = {"pending": [], "chunks": []}
    monkeypatch.setattr(tasks.outbox_dispatch_pending, "delay", lambda: calls["pending"].append(()))
    monkeypatch.setattr(tasks.outbox_dispatch, "delay", lambda ids: calls["chunks"].append(ids))
    services._broker_redis().delete(PENDING_FLAG)
    yield calls
    services._broker_redis().delete(PENDING_FLAG)


def test_small_recordings_share_one_pending_dispatch(published: dict[str, list[Any]]) -> None:
    user = UserFactory.create()
    for n in range(3):
        with transaction.atomic():
            event_record(spec=spec(user.id, n + 1))
    assert published == {"pending": [()], "chunks": []}


def test_the_pending_dispatch_takes_every_pending_event_and_clears_the_flag(
    published: dict[str, list[Any]],
) -> None:
    user = UserFactory.create()
    with transaction.atomic():
        first = event_record(spec=spec(user.id, 1))
    with transaction.atomic():
        second = event_record(spec=spec(user.id, 2))
    tasks.outbox_dispatch_pending()
    assert published["chunks"] == [[str(first.id), str(second.id)]]
    # A commit from now on queues another run.
    with transaction.atomic():
        event_record(spec=spec(user.id, 3))
    assert published["pending"] == [(), ()]


def test_large_recordings_are_fanned_out_at_once(published: dict[str, list[Any]]) -> None:
    user = UserFactory.create()
    with transaction.atomic():
        events = services.events_record(
            events=[spec(user.id, n + 1) for n in range(services.DISPATCH_CHUNK)]
        )
    assert published["pending"] == []
    assert published["chunks"] == [[str(e.id) for e in events]]

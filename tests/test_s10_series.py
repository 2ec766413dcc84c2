"""S10 numbers: PostgreSQL sequences (packs do not wait on one row), several
series with failover, an alert at 80 % used, and no reuse within 12 months."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from core.errors import Conflict
from shipping.fulfilment.models import TrackingSeries
from shipping.fulfilment.numbers import (
    SeriesExhausted,
    s10_build,
    s10_is_valid,
    series_used,
    tracking_numbers_issue,
    tracking_series_restart,
)
from tests.factories import UserFactory


def series(prefix: str, *, priority: int, first: int = 1, last: int = 99_999_999) -> Any:
    return TrackingSeries.objects.create(
        prefix=prefix,
        country="CN",
        priority=priority,
        first_serial=first,
        last_serial=last,
        next_serial=first,
    )


def test_numbers_come_from_the_first_series_then_the_next_when_it_runs_out(db: Any) -> None:
    small = series("RA", priority=1, first=11, last=15)
    series("RB", priority=2, first=500)

    first = tracking_numbers_issue(count=3)
    second = tracking_numbers_issue(count=3)  # RA has two left: all three come from RB
    third = tracking_numbers_issue(count=1)

    assert first == [s10_build("RA", n, "CN") for n in (11, 12, 13)]
    assert second == [s10_build("RB", n, "CN") for n in (500, 501, 502)]
    assert third == [s10_build("RB", 503, "CN")]
    assert all(s10_is_valid(number) for number in first + second + third)
    small.refresh_from_db()
    assert small.exhausted_at is not None


def test_every_series_used_up_is_a_409_asking_for_a_new_one(db: Any) -> None:
    series("RA", priority=1, first=1, last=2)
    tracking_numbers_issue(count=2)

    with pytest.raises(SeriesExhausted) as refused:
        tracking_numbers_issue(count=1)

    assert (refused.value.status_code, refused.value.code) == (409, "tracking_series_exhausted")


def test_a_series_warns_once_when_it_passes_80_percent(db: Any, caplog: Any) -> None:
    watched = series("RA", priority=1, first=1, last=10)
    caplog.set_level(logging.WARNING, logger="shipping.fulfilment.numbers")

    tracking_numbers_issue(count=7)
    assert caplog.messages == []
    tracking_numbers_issue(count=1)
    tracking_numbers_issue(count=1)

    assert caplog.messages == [
        "S10 series RACN is 80 % used (8 of 10 serials): add the next series"
    ]
    watched.refresh_from_db()
    assert watched.warned_at is not None
    assert series_used(watched) == 9


def test_the_series_admin_warns_above_80_percent(db: Any, client: Any) -> None:
    series("RA", priority=1, first=1, last=10)
    tracking_numbers_issue(count=8)
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))

    response = client.get("/admin/shipping/trackingseries/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        "Series RA..CN is 80 % used: add the next series."
    ]
    assert "8 (80.0 %)" in response.content.decode()


def _exhausted(at: datetime) -> Any:
    used = series("RA", priority=1, first=1, last=3)
    series("RB", priority=2)
    tracking_numbers_issue(count=3)
    tracking_numbers_issue(count=1)  # RA found used up: stamped, RB takes over
    TrackingSeries.objects.filter(id=used.id).update(exhausted_at=at)
    return used


def test_a_series_may_not_restart_within_12_months_of_its_last_number(db: Any) -> None:
    now = timezone.now()
    used = _exhausted(now - timedelta(days=330))

    with pytest.raises(Conflict) as refused:
        tracking_series_restart(series_id=used.id, now=now)

    assert refused.value.code == "series_reuse_too_soon"
    assert tracking_numbers_issue(count=1)[0].startswith("RB")


def test_a_series_never_used_up_may_not_restart(db: Any) -> None:
    live = series("RA", priority=1)
    tracking_numbers_issue(count=1)

    with pytest.raises(Conflict):
        tracking_series_restart(series_id=live.id, now=timezone.now() + timedelta(days=800))


def test_a_series_restarts_from_its_first_number_12_months_after_its_last(db: Any) -> None:
    now = timezone.now()
    used = _exhausted(now - timedelta(days=370))

    tracking_series_restart(series_id=used.id, now=now)

    assert tracking_numbers_issue(count=2) == [s10_build("RA", n, "CN") for n in (1, 2)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_packs_take_numbers_without_waiting_on_a_row() -> None:
    series("RA", priority=1, first=1000)
    tracking_numbers_issue(count=1)  # the sequence exists before the race
    taken: dict[str, list[str]] = {}
    holding, done = threading.Event(), threading.Event()

    def slow_pack() -> None:
        try:
            with transaction.atomic():
                taken["slow"] = tracking_numbers_issue(count=2)
                holding.set()
                done.wait(timeout=20)  # the pack's transaction stays open
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_pack)
    thread.start()
    assert holding.wait(timeout=20)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
            # Neither the series row nor anything else the slow pack holds is in the way.
            cursor.execute("SELECT id FROM shipping_trackingseries FOR UPDATE NOWAIT")
            taken["fast"] = tracking_numbers_issue(count=2)
    finally:
        done.set()
        thread.join(timeout=20)

    assert taken == {
        "slow": [s10_build("RA", n, "CN") for n in (1001, 1002)],
        "fast": [s10_build("RA", n, "CN") for n in (1003, 1004)],
    }

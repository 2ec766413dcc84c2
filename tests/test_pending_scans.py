"""Courier scans are stored in the request and applied to their parcels after
commit (shipping.timeline.pending_events_apply): exactly once, in timeline
order, whichever road reaches the parcel first."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from notifications.models import OutboxEvent
from shipping.fulfilment.models import Parcel
from shipping.tracking.models import PendingEvent, TrackingEvent
from shipping.tracking.timeline import NewEvent, parcel_events_apply, pending_events_apply
from tests.conftest import SCANS_URL, World, client_for
from tests.test_scans_fast import bulk_parcels

EVENTS = ["customs_presented", "customs_released", "out_for_delivery"]


def batch(numbers: list[str], tag: str, minutes_ago: int = 30) -> dict[str, Any]:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return {
        "scans": [
            {
                "scan_id": f"{tag}-{i}-{event}",
                "tracking_number": number,
                "event": event,
                "occurred_at": (at + timedelta(minutes=step)).isoformat(),
                "location": "Екатеринбург",
            }
            for i, number in enumerate(numbers)
            for step, event in enumerate(EVENTS)
        ]
    }


def parcel_outbox(numbers: list[str]) -> list[tuple[str, int, str]]:
    return sorted(
        (row.subject, row.sequence, row.payload["status"])
        for row in OutboxEvent.objects.filter(subject__in=[f"parcel:{n}" for n in numbers])
    )


def expected_outbox(numbers: list[str]) -> list[tuple[str, int, str]]:
    statuses = ["in_customs", "in_transit", "out_for_delivery"]
    return sorted((f"parcel:{n}", seq, s) for n in numbers for seq, s in enumerate(statuses, 1))


def test_scans_wait_for_commit_then_apply_exactly_once(world: World, courier: Any) -> None:
    numbers = bulk_parcels(world, 3, 72_000_000)

    # The test's transaction never commits, so what the commit sets off waits.
    response = client_for(courier.user).post(SCANS_URL, batch(numbers, "p"), format="json")

    assert response.status_code == 200
    assert response.json() == {"accepted": 9, "duplicates": 0, "rejected": []}
    assert TrackingEvent.objects.filter(parcel__tracking_number__in=numbers).count() == 9
    assert PendingEvent.objects.count() == 9
    assert (
        sorted(
            Parcel.objects.filter(tracking_number__in=numbers).values_list("status", "event_seq")
        )
        == [("info_received", 0)] * 3
    )
    assert parcel_outbox(numbers) == []

    assert pending_events_apply() == 3

    assert PendingEvent.objects.count() == 0
    assert (
        sorted(
            Parcel.objects.filter(tracking_number__in=numbers).values_list("status", "event_seq")
        )
        == [("out_for_delivery", 3)] * 3
    )
    assert parcel_outbox(numbers) == expected_outbox(numbers)

    assert pending_events_apply() == 0
    assert parcel_outbox(numbers) == expected_outbox(numbers)


def test_a_direct_event_takes_the_parcels_pending_scans_with_it(world: World, courier: Any) -> None:
    [number] = bulk_parcels(world, 1, 73_000_000)
    parcel = Parcel.objects.get(tracking_number=number)
    at = timezone.now() - timedelta(hours=1)
    body = {
        "scans": [
            {
                "scan_id": "held-1",
                "tracking_number": number,
                "event": "customs_presented",
                "occurred_at": at.isoformat(),
                "location": "Екатеринбург",
            }
        ]
    }
    assert client_for(courier.user).post(SCANS_URL, body, format="json").status_code == 200

    # Staff release the parcel before the worker got to the scan.
    parcel_events_apply(
        events=[
            NewEvent(
                parcel_id=parcel.id,
                event="customs_released",
                occurred_at=at + timedelta(minutes=20),
                source="system",
            )
        ]
    )

    parcel.refresh_from_db()
    assert (parcel.status, parcel.event_seq) == ("in_transit", 2)
    assert parcel_outbox([number]) == [
        (f"parcel:{number}", 1, "in_customs"),
        (f"parcel:{number}", 2, "in_transit"),
    ]
    assert PendingEvent.objects.count() == 0
    assert pending_events_apply() == 0
    assert parcel_outbox([number]) == [
        (f"parcel:{number}", 1, "in_customs"),
        (f"parcel:{number}", 2, "in_transit"),
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_appliers_running_at_once_apply_each_scan_once(world: World, courier: Any) -> None:
    numbers = bulk_parcels(world, 40, 74_000_000)
    client = client_for(courier.user)
    half = len(numbers) // 2
    # The broker is not asked: two committed batches wait for the appliers.
    with mock.patch("shipping.tasks.apply_pending_events.delay") as enqueue:
        assert client.post(SCANS_URL, batch(numbers[:half], "a"), format="json").status_code == 200
        assert client.post(SCANS_URL, batch(numbers[half:], "b"), format="json").status_code == 200
    assert enqueue.call_count == 2
    assert PendingEvent.objects.count() == 120

    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def apply() -> None:
        try:
            start.wait()
            results.append(pending_events_apply(batch=30))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=apply) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert PendingEvent.objects.count() == 0
    assert parcel_outbox(numbers) == expected_outbox(numbers)
    assert set(
        Parcel.objects.filter(tracking_number__in=numbers).values_list("status", "event_seq")
    ) == {("out_for_delivery", 3)}


def test_operator_staff_see_the_scans_waiting_in_the_admin(world: World, courier: Any) -> None:
    from django.contrib.auth.models import Permission
    from django.test import Client

    from tests.factories import MerchantStaffFactory, UserFactory

    numbers = bulk_parcels(world, 2, 75_000_000)
    client_for(courier.user).post(SCANS_URL, batch(numbers, "adm"), format="json")
    view = Permission.objects.get(codename="view_pendingevent")
    ops = UserFactory.create(email="ops@amur.example", is_staff=True)
    ops.user_permissions.add(view)
    staff = MerchantStaffFactory.create(merchant=world.products[0].merchant).user
    staff.user_permissions.add(view)  # still operator-only
    operator, merchant = Client(), Client()
    operator.force_login(ops)
    merchant.force_login(staff)

    page = operator.get("/admin/shipping/pendingevent/", HTTP_ACCEPT_LANGUAGE="en")

    assert page.status_code == 200
    html = page.content.decode()
    assert all(number in html for number in numbers)
    assert html.count("customs_presented") == 2
    assert merchant.get("/admin/shipping/pendingevent/").status_code in (302, 403)

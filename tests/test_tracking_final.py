"""After a parcel's final event (delivered, which only a return may follow;
returned; expired) no status-changing event counts: courier scans that come
after it are refused one by one (parcel_closed), and whatever reaches the
table by another road stays there for operators but out of the buyer's
timeline, status, webhooks and e-mails (issue #11)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db.models import Q
from django.utils import timezone

from accounts.models import Courier
from notifications.models import OutboxEvent
from payments.cod.models import CashCollection
from payments.models import Payment
from shipping.fulfilment.models import Parcel
from shipping.tracking.events import FINAL_STATUSES, timeline_counted
from shipping.tracking.models import TrackingEvent
from shipping.tracking.selectors import cod_refusals_count
from shipping.tracking.timeline import NewEvent, parcel_events_apply
from tests.conftest import World, client_for, scans_post
from tests.test_cod import DUE, cash, packed, post_scans, scan

CLOSED_AFTER_DELIVERY = 'The parcel reached its final status "Delivered" before this scan.'


def delivered(world: World, courier: Courier) -> tuple[Parcel, datetime]:
    """A cash-on-delivery parcel out for delivery and delivered six hours ago,
    by the courier's scans."""
    parcel = packed(world)
    at = timezone.now() - timedelta(hours=6)
    post_scans(
        courier,
        scan(parcel, "out_for_delivery", at - timedelta(hours=2), "ofd-0"),
        scan(parcel, "delivered", at, "dl-0"),
    )
    parcel.refresh_from_db()
    assert parcel.status == "delivered"
    return parcel, at


def post(courier: Courier, *scans: dict[str, Any], language: str = "en") -> Any:
    return scans_post(
        client_for(courier.user), {"scans": list(scans)}, HTTP_ACCEPT_LANGUAGE=language
    )


def closed(index: int, scan_id: str, message: str = CLOSED_AFTER_DELIVERY) -> dict[str, Any]:
    return {"index": index, "scan_id": scan_id, "code": "parcel_closed", "message": message}


def outbox(parcel: Parcel) -> list[tuple[int, str, str]]:
    """The parcel's status events for webhooks and e-mails: (sequence, status, previous)."""
    return [
        (e.sequence, e.payload["status"], e.payload["previous_status"])
        for e in OutboxEvent.objects.filter(subject=f"parcel:{parcel.tracking_number}").order_by(
            "sequence"
        )
    ]


def public_events(api: Any, parcel: Parcel) -> list[str]:
    response = api.get(f"/api/v1/tracking/{parcel.tracking_number}/")
    assert response.status_code == 200
    assert response.json()["status"] == Parcel.objects.get(id=parcel.id).status
    return [e["event"] for e in response.json()["events"]]


def stored_events(parcel: Parcel) -> list[str]:
    return list(
        TrackingEvent.objects.filter(parcel=parcel)
        .order_by("occurred_at", "id")
        .values_list("event", flat=True)
    )


PACKED = (1, "info_received", "")
AS_DELIVERED = [
    PACKED,
    (2, "out_for_delivery", "info_received"),
    (3, "delivered", "out_for_delivery"),
]


def test_status_scans_after_the_delivery_are_refused_each_with_its_index(
    world: World, courier: Courier, api: Any
) -> None:
    parcel, at = delivered(world, courier)
    other = packed(world)
    emails = len(mail.outbox)

    response = post(
        courier,
        scan(other, "arrived", at, "other-1"),
        scan(parcel, "out_for_delivery", at + timedelta(hours=1), "late-ofd"),
        scan(parcel, "delivery_failed", at + timedelta(hours=2), "late-df", reason="absent"),
        scan(parcel, "loaded", at + timedelta(hours=2), "late-loaded"),
        scan(parcel, "customs_held", at + timedelta(hours=3), "late-ch", reason="documents"),
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [closed(1, "late-ofd"), closed(2, "late-df"), closed(4, "late-ch")],
    }
    assert list(
        TrackingEvent.objects.filter(scan_id__startswith="late-").values_list("scan_id", flat=True)
    ) == ["late-loaded"]
    parcel.refresh_from_db()
    assert (parcel.status, parcel.event_seq, parcel.order.status) == ("delivered", 3, "delivered")
    assert outbox(parcel) == AS_DELIVERED
    assert Parcel.objects.get(id=other.id).status == "in_transit"
    assert outbox(other) == [PACKED, (2, "in_transit", "info_received")]
    # The only new e-mails are about the other parcel and its order.
    assert [m.subject for m in mail.outbox[emails:]] == [
        f"Посылка {other.tracking_number}: В пути",
        f"Заказ {other.order.number}: В пути",
    ]
    assert public_events(api, parcel) == [
        "label_created",
        "out_for_delivery",
        "delivered",
        "loaded",
    ]


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", CLOSED_AFTER_DELIVERY),
        ("ru", "Посылка получила окончательный статус «Доставлено» раньше этого скана."),
        ("zh-hans", "包裹在此扫描之前已达到最终状态“已送达”。"),
    ],
)
def test_a_batch_of_only_refused_scans_is_a_409_naming_the_final_status(
    world: World, courier: Courier, language: str, message: str
) -> None:
    parcel, at = delivered(world, courier)
    before = TrackingEvent.objects.count()

    response = post(
        courier, scan(parcel, "out_for_delivery", at + timedelta(hours=1), "x"), language=language
    )

    assert response.status_code == 409
    assert response.json()["code"] == "parcel_closed"
    assert response.json()["fields"] == {"scans[0]": [message]}
    assert TrackingEvent.objects.count() == before
    assert outbox(parcel) == AS_DELIVERED


def test_cash_collected_after_the_delivery_is_accepted(world: World, courier: Courier) -> None:
    parcel, at = delivered(world, courier)

    body = post_scans(courier, cash(parcel, at + timedelta(minutes=5), "cash-1", str(DUE)))

    assert body == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert list(CashCollection.objects.values_list("scan_id", "amount", "outcome")) == [
        ("cash-1", DUE, "captured")
    ]
    assert Payment.objects.get(order=parcel.order).status == "captured"
    parcel.refresh_from_db()
    assert parcel.status == "delivered"
    assert outbox(parcel) == AS_DELIVERED


def test_a_return_after_the_delivery_is_accepted_then_nothing_after_it(
    world: World, courier: Courier, api: Any
) -> None:
    parcel, at = delivered(world, courier)

    body = post_scans(courier, scan(parcel, "returned", at + timedelta(hours=1), "ret-1"))

    assert body == {"accepted": 1, "duplicates": 0, "rejected": []}
    parcel.refresh_from_db()
    assert parcel.status == "returned"
    assert outbox(parcel) == [*AS_DELIVERED, (4, "returned", "delivered")]

    response = post(
        courier,
        scan(parcel, "delivered", at + timedelta(hours=2), "dl-again"),
        scan(parcel, "returned", at + timedelta(hours=2), "ret-again"),
    )

    message = 'The parcel reached its final status "Returned" before this scan.'
    assert response.status_code == 409
    assert response.json()["fields"] == {"scans[0]": [message], "scans[1]": [message]}
    assert public_events(api, parcel) == [
        "label_created",
        "out_for_delivery",
        "delivered",
        "returned",
    ]
    assert len(outbox(parcel)) == 4


def test_a_late_scan_from_before_the_delivery_is_accepted_and_shown_before_it(
    world: World, courier: Courier, api: Any
) -> None:
    parcel, at = delivered(world, courier)

    body = post_scans(courier, scan(parcel, "departed", at - timedelta(days=1), "late-dep"))

    assert body == {"accepted": 1, "duplicates": 0, "rejected": []}
    parcel.refresh_from_db()
    assert parcel.status == "delivered"
    assert outbox(parcel) == AS_DELIVERED
    assert public_events(api, parcel) == [
        "label_created",
        "departed",
        "out_for_delivery",
        "delivered",
    ]


def test_events_after_the_delivery_by_other_roads_are_kept_but_not_shown(
    world: World, courier: Courier, api: Any
) -> None:
    parcel, at = delivered(world, courier)
    emails = len(mail.outbox)
    # A row stored before scans were checked, as old data holds them.
    TrackingEvent.objects.create(
        parcel=parcel,
        event="customs_held",
        status="customs_held",
        emsevt="EME",
        occurred_at=at + timedelta(hours=1),
        source=TrackingEvent.Source.COURIER,
        data={"reason": "documents"},
    )

    parcel_events_apply(
        events=[
            NewEvent(parcel.id, "arrived", at + timedelta(hours=2), source="departure"),
            NewEvent(parcel.id, "exception", at + timedelta(hours=3), source="system"),
            NewEvent(parcel.id, "expired", at + timedelta(hours=4), source="system"),
        ]
    )

    assert stored_events(parcel) == [
        "label_created",
        "out_for_delivery",
        "delivered",
        "customs_held",
        "arrived",
        "exception",
        "expired",
    ]
    parcel.refresh_from_db()
    assert (parcel.status, parcel.event_seq, parcel.order.status) == ("delivered", 3, "delivered")
    assert outbox(parcel) == AS_DELIVERED
    assert len(mail.outbox) == emails
    assert public_events(api, parcel) == ["label_created", "out_for_delivery", "delivered"]
    page = api.get(f"/track/{parcel.tracking_number}?lang=en").content.decode()
    assert ("Delivered" in page, "Held by customs" in page, "Arrived" in page) == (
        True,
        False,
        False,
    )
    # Nothing is expected any more.
    assert ("Delivered on" in page, "Expected delivery" in page) == (True, False)


def test_scans_of_one_batch_out_of_time_order_close_at_the_delivery(
    world: World, courier: Courier, api: Any
) -> None:
    parcel = packed(world)
    at = timezone.now() - timedelta(hours=6)
    held = scan(parcel, "customs_held", at + timedelta(hours=1), "ch-1", reason="documents")

    response = post(
        courier,
        held,
        scan(parcel, "delivered", at, "dl-1"),
        scan(parcel, "out_for_delivery", at - timedelta(hours=1), "ofd-1"),
        held,  # the device sent it twice: both are refused
        scan(parcel, "delivery_failed", at, "df-1", reason="absent"),  # same time, stored after
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [closed(0, "ch-1"), closed(3, "ch-1"), closed(4, "df-1")],
    }
    parcel.refresh_from_db()
    assert parcel.status == "delivered"
    assert outbox(parcel) == AS_DELIVERED
    assert public_events(api, parcel) == ["label_created", "out_for_delivery", "delivered"]


def test_a_late_delivery_scan_closes_the_timeline_before_a_stored_later_scan(
    world: World, courier: Courier, api: Any
) -> None:
    parcel = packed(world)
    at = timezone.now() - timedelta(hours=6)
    post_scans(courier, scan(parcel, "out_for_delivery", at + timedelta(hours=1), "ofd-1"))

    body = post_scans(courier, scan(parcel, "delivered", at, "dl-1"))

    assert body == {"accepted": 1, "duplicates": 0, "rejected": []}
    parcel.refresh_from_db()
    assert parcel.status == "delivered"
    assert outbox(parcel) == AS_DELIVERED
    assert stored_events(parcel) == ["label_created", "delivered", "out_for_delivery"]
    assert public_events(api, parcel) == ["label_created", "delivered"]


def test_after_expiry_scans_are_refused_but_a_delivery_from_before_it_counts(
    world: World, courier: Courier, api: Any
) -> None:
    parcel = packed(world)
    expired_at = timezone.now() - timedelta(hours=6)
    parcel_events_apply(events=[NewEvent(parcel.id, "expired", expired_at, source="system")])

    response = post(courier, scan(parcel, "arrived", expired_at + timedelta(hours=1), "arr-1"))

    assert response.status_code == 409
    assert response.json()["fields"] == {
        "scans[0]": ['The parcel reached its final status "Expired" before this scan.']
    }

    response = post(
        courier,
        scan(parcel, "out_for_delivery", expired_at + timedelta(hours=1), "ofd-1"),
        scan(parcel, "delivered", expired_at - timedelta(hours=1), "dl-1"),
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": [closed(0, "ofd-1")]}
    parcel.refresh_from_db()
    assert parcel.status == "delivered"
    assert outbox(parcel) == [
        PACKED,
        (2, "expired", "info_received"),
        (3, "delivered", "expired"),
    ]
    assert public_events(api, parcel) == ["label_created", "delivered"]


def test_a_refusal_stored_after_the_delivery_does_not_count_against_the_buyer(
    world: World, courier: Courier
) -> None:
    parcel, at = delivered(world, courier)
    refused = {"event": "delivery_failed", "status": "delivery_failed", "emsevt": "EMH"}
    TrackingEvent.objects.create(
        parcel=parcel,
        occurred_at=at + timedelta(hours=1),
        source=TrackingEvent.Source.COURIER,
        data={"reason": "refused"},
        **refused,
    )
    assert cod_refusals_count(buyer_id=world.buyer.id) == 0

    TrackingEvent.objects.create(
        parcel=parcel,
        occurred_at=at - timedelta(hours=1),
        source=TrackingEvent.Source.COURIER,
        data={"reason": "refused"},
        **refused,
    )
    assert cod_refusals_count(buyer_id=world.buyer.id) == 1


def test_timeline_counted_leaves_out_status_events_after_the_final_one() -> None:
    statuses = ["info_received", "in_transit", "delivered", "in_transit", "", "returned"]
    assert timeline_counted([*statuses, "delivered", ""]) == [
        True,
        True,
        True,
        False,
        True,
        True,
        False,
        True,
    ]
    assert timeline_counted(["expired", "delivered", "returned"]) == [True, False, False]


def test_the_final_events_index_holds_the_final_statuses_as_the_scan_check_asks() -> None:
    [index] = [i for i in TrackingEvent._meta.indexes if i.name == "tracking_final"]
    # The same list the batch check filters by, so the planner can use it.
    assert index.condition == Q(status__in=sorted(FINAL_STATUSES))

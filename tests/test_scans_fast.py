"""Courier scan batches: the per-scan validator agrees with ScanSerializer on
every input, and a batch costs the same number of queries whatever its size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone as dj_timezone
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import flatten_detail
from core.rawsql import COPY_FROM_ROWS
from shipping.fulfilment.models import Parcel
from shipping.fulfilment.numbers import s10_build
from shipping.tracking.events import COURIER_EVENTS
from shipping.tracking.models import TrackingEvent
from shipping.tracking.serializers import ScanSerializer, scan_validate
from tests.conftest import World, client_for, scans_post

ODD_TEXT = [
    "",
    "   ",
    " RR123456785CN ",
    "RR123456785CN",
    "\x00",
    "a\x00b",
    "\ud800",
    "ok\udfff",
    "a" * 13,
    "a" * 14,
    "a" * 64,
    "a" * 65,
    " " + "a" * 64 + " ",
    "a" * 100,
    "a" * 101,
    "\u3000wide space\u3000",
    "Екатеринбург",
    "哈尔滨",
]
ODD_TIMES = [
    "2026-05-01T10:00:00Z",
    "2026-05-01T10:00:00+03:00",
    "2026-05-01T10:00:00.123456-05:30",
    "2026-05-01T10:00:00",
    "2026-05-01 10:00",
    "2026-05-01",
    "2026-02-30T10:00:00Z",
    "2026-05-01T25:00:00Z",
    "20260501T100000Z",
    "yesterday",
    "",
    " 2026-05-01T10:00:00Z",
]
anything = st.one_of(
    st.text(max_size=20),
    st.sampled_from(ODD_TEXT),
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
times = st.one_of(
    st.sampled_from(ODD_TIMES),
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=3)), None]),
    ).map(lambda d: d.isoformat()),
    anything,
)
scans = st.fixed_dictionaries(
    {},
    optional={
        "scan_id": st.one_of(st.sampled_from(ODD_TEXT), anything),
        "tracking_number": st.one_of(st.sampled_from(ODD_TEXT), anything),
        "event": st.one_of(
            st.sampled_from([*COURIER_EVENTS, "label_created", "EXPIRED"]), anything
        ),
        "occurred_at": times,
        "location": st.one_of(st.sampled_from(ODD_TEXT), anything),
        "amount": st.one_of(st.decimals(allow_nan=False).map(str), anything),
        "currency": st.one_of(st.sampled_from(["RUB", "CNY"]), anything),
        "note": anything,
    },
)


def reference(raw: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, list[str]] | None]:
    serializer = ScanSerializer(data=raw)
    if serializer.is_valid():
        return dict(serializer.validated_data), None
    return None, flatten_detail(serializer.errors)


@pytest.mark.parametrize("language", ["ru", "en", "zh-hans"])
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=scans)
def test_the_fast_validator_agrees_with_the_serializer(language: str, raw: dict[str, Any]) -> None:
    with translation.override(language):
        data, errors = scan_validate(raw)
        assert (data, flatten_detail(errors) if errors is not None else None) == reference(raw)


def test_a_plain_scan_is_validated_without_a_serializer() -> None:
    raw = {
        "scan_id": " s-1 ",
        "tracking_number": "RR123456785CN",
        "event": "out_for_delivery",
        "occurred_at": "2026-05-01T10:00:00+03:00",
    }
    with mock.patch("shipping.tracking.serializers.ScanSerializer", side_effect=AssertionError):
        data, errors = scan_validate(raw)
    assert errors is None
    assert data == {
        "scan_id": "s-1",
        "tracking_number": "RR123456785CN",
        "event": "out_for_delivery",
        "occurred_at": datetime(2026, 5, 1, 7, 0, tzinfo=UTC),
        "location": "",
    }


def test_cash_collected_still_goes_through_the_serializer() -> None:
    raw = {
        "scan_id": "c-1",
        "tracking_number": "RR123456785CN",
        "event": "cash_collected",
        "occurred_at": "2026-05-01T10:00:00Z",
        "amount": "1250.5",
        "currency": "RUB",
    }
    data, errors = scan_validate(raw)
    assert errors is None
    assert data is not None
    assert data["amount"] == Decimal("1250.50")


def bulk_parcels(world: World, count: int, first: int) -> list[str]:
    from commands.place import order_place
    from commands.quote import LineRequest
    from orders.services import Address

    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 1)],
        address=Address(**world.address()),
        payment_method="cod",
    )
    numbers = [s10_build("RY", first + i, "CN") for i in range(count)]
    Parcel.objects.bulk_create(
        [
            Parcel(
                order=order,
                warehouse=world.hrb,
                lane=world.air,
                tracking_number=number,
                weight_g=300,
                length_mm=200,
                width_mm=100,
                height_mm=50,
                value_cny=98,
                promised_min_days=4,
                promised_max_days=7,
            )
            for number in numbers
        ]
    )
    return numbers


def post_batch(courier: Any, numbers: list[str], tag: str) -> tuple[Any, int]:
    at = dj_timezone.now() - timedelta(minutes=30)
    events = ["customs_presented", "customs_released", "out_for_delivery"]
    body = {
        "scans": [
            {
                "scan_id": f"{tag}-{i}",
                "tracking_number": number,
                "event": events[i % 3],
                "occurred_at": (at + timedelta(seconds=i)).isoformat(),
                "location": "Екатеринбург",
            }
            for i, number in enumerate(numbers)
        ]
        + [{"scan_id": f"{tag}-bad", "tracking_number": numbers[0], "event": "teleported"}]
    }
    client = client_for(courier.user)
    with CaptureQueriesContext(connection) as queries:
        response = scans_post(client, body, HTTP_ACCEPT_LANGUAGE="en")
    return response, len(queries.captured_queries)


def test_a_batch_costs_the_same_queries_whatever_its_size(world: World, courier: Any) -> None:
    # 60 scans stay within one multi-row INSERT on SQLite (999 parameters).
    small, medium, large = (
        bulk_parcels(world, 3, 70_000_000),
        bulk_parcels(world, COPY_FROM_ROWS + 5, 72_000_000),
        bulk_parcels(world, 60, 71_000_000),
    )

    small_response, small_queries = post_batch(courier, small, "small")
    medium_response, medium_queries = post_batch(courier, medium, "medium")
    large_response, large_queries = post_batch(courier, large, "large")

    assert small_response.status_code == medium_response.status_code == 200
    assert large_response.status_code == 200
    assert small_response.json()["accepted"] == 3
    assert medium_response.json()["accepted"] == COPY_FROM_ROWS + 5
    assert large_response.json()["accepted"] == 60
    assert large_response.json()["rejected"] == [
        {
            "index": 60,
            "scan_id": "large-bad",
            "code": "invalid",
            "message": 'event: "teleported" is not a valid choice.; '
            "occurred_at: This field is required.",
        }
    ]
    assert large_queries == medium_queries
    # From COPY_FROM_ROWS events on, PostgreSQL takes the events' ids, then
    # copies the events and their pending rows: two statements where one
    # INSERT wrote a few.
    assert large_queries - small_queries == (2 if connection.vendor == "postgresql" else 0)
    assert TrackingEvent.objects.filter(source="courier").count() == 63 + COPY_FROM_ROWS + 5

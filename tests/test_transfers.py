"""Transfers between warehouses: dispatch, in transit, receipt (in full and
short), the transition table and the ops API."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Sum
from django.test import Client as DjangoClient

from commands.place import order_place
from commands.quote import LineRequest
from commands.transfers import transfer_dispatch, transfer_receive
from core.errors import InvalidTransition
from orders.services import Address
from shipping.linehaul.departures import departure_transition
from shipping.linehaul.models import Departure, Transfer, TransferEvent, TransferLine
from shipping.linehaul.transfers import (
    ReceivedLine,
    TransferLineRequest,
    stock_in_transit,
    transfer_cancel,
    transfer_create,
)
from tests.conftest import World, client_for
from tests.factories import DepartureFactory, MerchantStaffFactory, UserFactory
from warehouses.models import StockLevel, StockMovement
from warehouses.services import OutOfStock, stock_receive

URL = "/api/v1/ops/transfers/"


@pytest.fixture
def operator(db: Any) -> Any:
    return UserFactory.create(email="ops@amur.example", is_staff=True)


def levels(warehouse_code: str) -> dict[str, tuple[int, int]]:
    """SKU -> (on hand, reserved) at one warehouse."""
    return {
        sku: (on_hand, reserved)
        for sku, on_hand, reserved in StockLevel.objects.filter(
            warehouse__code=warehouse_code
        ).values_list("product__sku", "on_hand", "reserved")
    }


def transfer_movements(transfer: Transfer) -> list[tuple[str, str, str, int, int, str]]:
    """(warehouse, sku, kind, on hand delta, reserved delta, reason) of the
    movements naming the transfer, in order."""
    tag = f"transfer {transfer.id}"
    return [
        (code, sku, kind, on_hand, reserved, reason)
        for code, sku, kind, on_hand, reserved, reason in StockMovement.objects.filter(
            reason__startswith=tag
        )
        .order_by("id")
        .values_list(
            "stock__warehouse__code",
            "stock__product__sku",
            "kind",
            "on_hand_delta",
            "reserved_delta",
            "reason",
        )
        if reason == tag or reason.startswith(f"{tag} ")
    ]


def assert_ledger_balances() -> None:
    """What a stock audit recomputes: every level is the sum of its movements."""
    sums = {
        row["stock_id"]: (row["on_hand"], row["reserved"])
        for row in StockMovement.objects.values("stock_id").annotate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta")
        )
    }
    stored = {level.id: (level.on_hand, level.reserved) for level in StockLevel.objects.all()}
    assert {stock_id: sums.get(stock_id, (0, 0)) for stock_id in stored} == stored
    assert set(sums) <= set(stored)


def draft(
    world: World, *lines: tuple[str, int], origin: str = "HRB", actor: Any = None
) -> Transfer:
    origin_warehouse = world.hrb if origin == "HRB" else world.sfh
    departure = world.flight if origin == "HRB" else road_departure(world)
    return transfer_create(
        origin_id=origin_warehouse.id,
        destination_id=world.svx.id,
        departure_id=departure.id,
        lines=[TransferLineRequest(sku=sku, quantity=q) for sku, q in lines],
        actor_id=actor.id if actor else None,
    )


def road_departure(world: World) -> Departure:
    return Departure.objects.filter(lane=world.road).first() or DepartureFactory.create(
        lane=world.road, number="TRUCK-1"
    )


def dispatched(world: World, *lines: tuple[str, int], origin: str = "HRB") -> Transfer:
    transfer = draft(world, *lines, origin=origin)
    return transfer_dispatch(transfer_id=transfer.id)


def lines_of(transfer: Transfer) -> list[tuple[str, int, int | None, int, str]]:
    return [
        (
            line.product.sku,
            line.quantity_sent,
            line.quantity_received,
            line.shortfall,
            line.shortfall_reason,
        )
        for line in TransferLine.objects.filter(transfer=transfer)
        .select_related("product")
        .order_by("id")
    ]


def events_of(transfer: Transfer) -> list[tuple[str, str, int | None, str]]:
    return list(
        TransferEvent.objects.filter(transfer=transfer).values_list(
            "from_status", "to_status", "actor_id", "reason"
        )
    )


# --- Dispatch -------------------------------------------------------------------


def test_dispatch_takes_every_line_out_of_the_origin_exactly(world: World, operator: Any) -> None:
    transfer = draft(world, ("TEA-0001", 10), ("BOOT-0002", 5), actor=operator)
    assert levels("HRB") == {"TEA-0001": (50, 0), "BOOT-0002": (50, 0), "PHONE-0003": (50, 0)}
    assert transfer_movements(transfer) == []

    transfer_dispatch(transfer_id=transfer.id, actor_id=operator.id)

    assert levels("HRB") == {"TEA-0001": (40, 0), "BOOT-0002": (45, 0), "PHONE-0003": (50, 0)}
    assert levels("SVX") == {}
    tag = f"transfer {transfer.id}"
    assert transfer_movements(transfer) == [
        ("HRB", "TEA-0001", "transfer_out", -10, 0, tag),
        ("HRB", "BOOT-0002", "transfer_out", -5, 0, tag),
    ]
    assert set(
        StockMovement.objects.filter(kind="transfer_out").values_list("actor_id", flat=True)
    ) == {operator.id}
    transfer.refresh_from_db()
    assert transfer.status == "dispatched"
    assert transfer.created_by_id == operator.id
    assert transfer.dispatched_by_id == operator.id
    assert transfer.dispatched_at is not None
    assert transfer.received_at is None
    assert events_of(transfer) == [("draft", "dispatched", operator.id, "")]
    assert_ledger_balances()


def test_dispatch_short_of_available_stock_moves_nothing(world: World) -> None:
    # Five TEA are reserved for a buyer's order: 45 of the 50 on hand are free.
    order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 5)],
        address=Address(**world.address()),
        payment_method="card",
    )
    assert levels("HRB")["TEA-0001"] == (50, 5)
    transfer = draft(world, ("TEA-0001", 46), ("BOOT-0002", 50), ("PHONE-0003", 51))
    movements_before = StockMovement.objects.count()

    with pytest.raises(OutOfStock) as caught:
        transfer_dispatch(transfer_id=transfer.id)

    assert caught.value.status_code == 409
    assert caught.value.code == "out_of_stock"
    assert caught.value.fields == {"lines": ["PHONE-0003", "TEA-0001"]}
    assert caught.value.extra == {"skus": ["PHONE-0003", "TEA-0001"]}
    assert levels("HRB") == {"TEA-0001": (50, 5), "BOOT-0002": (50, 0), "PHONE-0003": (50, 0)}
    assert StockMovement.objects.count() == movements_before
    transfer.refresh_from_db()
    assert (transfer.status, transfer.dispatched_at) == ("draft", None)
    assert events_of(transfer) == []
    assert_ledger_balances()


def test_dispatch_of_a_product_the_origin_never_held_is_out_of_stock(world: World) -> None:
    transfer = draft(world, ("TEA-0001", 5), ("BOOT-0002", 1), origin="SFH")

    with pytest.raises(OutOfStock) as caught:
        transfer_dispatch(transfer_id=transfer.id)

    assert caught.value.extra == {"skus": ["BOOT-0002"]}
    assert levels("SFH") == {"TEA-0001": (20, 0)}
    assert Transfer.objects.get(id=transfer.id).status == "draft"


def test_dispatch_over_http_short_is_409_in_the_error_shape(world: World, operator: Any) -> None:
    transfer = draft(world, ("PHONE-0003", 51))
    client = client_for(operator)

    response = client.post(f"{URL}{transfer.id}/dispatch/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 409
    assert response.json() == {
        "code": "out_of_stock",
        "message": "Some items are out of stock.",
        "fields": {"lines": ["PHONE-0003"]},
        "skus": ["PHONE-0003"],
    }
    assert levels("HRB")["PHONE-0003"] == (50, 0)
    assert Transfer.objects.get(id=transfer.id).status == "draft"


# --- In transit -------------------------------------------------------------------


def test_in_transit_counts_dispatched_lines_not_yet_received(world: World) -> None:
    first = dispatched(world, ("TEA-0001", 10), ("BOOT-0002", 5))
    dispatched(world, ("TEA-0001", 7), origin="SFH")
    draft(world, ("PHONE-0003", 3))  # not dispatched: still on the shelf
    done = dispatched(world, ("PHONE-0003", 4))
    transfer_receive(transfer_id=done.id, lines=[ReceivedLine("PHONE-0003", 4)])
    tea, boot, phone = (p.id for p in world.products)
    svx = world.svx.id

    assert stock_in_transit() == {(svx, tea): 17, (svx, boot): 5}
    assert stock_in_transit(product_ids=[boot, phone]) == {(svx, boot): 5}
    assert stock_in_transit(warehouse_ids=[world.hrb.id]) == {}

    transfer_receive(
        transfer_id=first.id,
        lines=[ReceivedLine("TEA-0001", 10), ReceivedLine("BOOT-0002", 5)],
    )

    assert stock_in_transit(warehouse_ids=[svx]) == {(svx, tea): 7}


# --- Receipt -----------------------------------------------------------------------


def test_receipt_in_full_puts_everything_into_the_destination(world: World, operator: Any) -> None:
    transfer = dispatched(world, ("TEA-0001", 10), ("BOOT-0002", 5))
    assert levels("SVX") == {}

    transfer_receive(
        transfer_id=transfer.id,
        lines=[ReceivedLine("BOOT-0002", 5), ReceivedLine("TEA-0001", 10)],
        actor_id=operator.id,
    )

    assert levels("SVX") == {"TEA-0001": (10, 0), "BOOT-0002": (5, 0)}
    assert levels("HRB") == {"TEA-0001": (40, 0), "BOOT-0002": (45, 0), "PHONE-0003": (50, 0)}
    tag = f"transfer {transfer.id}"
    assert transfer_movements(transfer) == [
        ("HRB", "TEA-0001", "transfer_out", -10, 0, tag),
        ("HRB", "BOOT-0002", "transfer_out", -5, 0, tag),
        ("SVX", "TEA-0001", "transfer_in", 10, 0, tag),
        ("SVX", "BOOT-0002", "transfer_in", 5, 0, tag),
    ]
    assert lines_of(transfer) == [("TEA-0001", 10, 10, 0, ""), ("BOOT-0002", 5, 5, 0, "")]
    transfer.refresh_from_db()
    assert transfer.status == "received"
    assert transfer.received_by_id == operator.id
    assert transfer.received_at is not None
    assert events_of(transfer) == [
        ("draft", "dispatched", None, ""),
        ("dispatched", "received", operator.id, ""),
    ]
    assert stock_in_transit() == {}
    assert_ledger_balances()


def test_short_receipt_records_the_shortfall_on_the_line_and_in_the_ledger(
    world: World,
) -> None:
    # SVX already holds some TEA: the received units add to it.
    stock_receive(warehouse_id=world.svx.id, product_id=world.products[0].id, quantity=3)
    transfer = dispatched(world, ("TEA-0001", 10), ("BOOT-0002", 5), ("PHONE-0003", 2))

    transfer_receive(
        transfer_id=transfer.id,
        lines=[
            ReceivedLine("TEA-0001", 8, "two cartons crushed"),
            ReceivedLine("BOOT-0002", 5),
            ReceivedLine("PHONE-0003", 0, "  missing at unloading  "),
        ],
    )

    assert levels("SVX") == {"TEA-0001": (11, 0), "BOOT-0002": (5, 0), "PHONE-0003": (0, 0)}
    assert lines_of(transfer) == [
        ("TEA-0001", 10, 8, 2, "two cartons crushed"),
        ("BOOT-0002", 5, 5, 0, ""),
        ("PHONE-0003", 2, 0, 2, "missing at unloading"),
    ]
    tag = f"transfer {transfer.id}"
    assert transfer_movements(transfer)[3:] == [
        ("SVX", "TEA-0001", "transfer_in", 8, 0, tag),
        ("SVX", "TEA-0001", "adjustment", 0, 0, f"{tag} short by 2: two cartons crushed"),
        ("SVX", "BOOT-0002", "transfer_in", 5, 0, tag),
        ("SVX", "PHONE-0003", "adjustment", 0, 0, f"{tag} short by 2: missing at unloading"),
    ]
    assert Transfer.objects.get(id=transfer.id).status == "received"
    assert_ledger_balances()
    # Across the network: sent = received + shortfall.
    sent = TransferLine.objects.filter(transfer=transfer).aggregate(n=Sum("quantity_sent"))["n"]
    moved_in = StockMovement.objects.filter(kind="transfer_in").aggregate(n=Sum("on_hand_delta"))
    assert (sent, moved_in["n"]) == (17, 13)
    assert sum(line.shortfall for line in TransferLine.objects.filter(transfer=transfer)) == 4


@pytest.mark.parametrize(
    ("counted", "fields"),
    [
        (
            [("TEA-0001", 11, ""), ("BOOT-0002", 5, "")],
            {"lines[0].quantity_received": ["More than the 10 sent."]},
        ),
        (
            [("TEA-0001", 9, ""), ("BOOT-0002", 5, "")],
            {"lines[0].reason": ["A short receipt needs a reason."]},
        ),
        (
            [("TEA-0001", 10, "all fine"), ("BOOT-0002", 5, "")],
            {"lines[0].reason": ["Only a short receipt takes a reason."]},
        ),
        (
            [("TEA-0001", 10, "")],
            {"lines": ["Every line must be counted; missing: BOOT-0002."]},
        ),
        (
            [("TEA-0001", 10, ""), ("BOOT-0002", 5, ""), ("PHONE-0003", 1, "")],
            {"lines[2].sku": ["Not on this transfer."]},
        ),
        (
            [("TEA-0001", 10, ""), ("TEA-0001", 10, ""), ("BOOT-0002", 5, "")],
            {"lines[1].sku": ["Listed twice."]},
        ),
        (
            [("TEA-0001", -1, ""), ("BOOT-0002", 5, "")],
            {"lines[0].quantity_received": ["Ensure this value is greater than or equal to 0."]},
        ),
        (
            [("TEA-0001", 10, "", "extra"), ("BOOT-0002", 5, "")],
            {"lines[0].note": ["Unknown field."]},
        ),
    ],
    ids=[
        "more-than-sent",
        "short-without-reason",
        "reason-without-shortfall",
        "line-missing",
        "sku-not-on-transfer",
        "sku-twice",
        "negative",
        "unknown-field",
    ],
)
def test_bad_receipt_is_400_and_writes_nothing(
    world: World, operator: Any, counted: list[tuple[Any, ...]], fields: dict[str, list[str]]
) -> None:
    transfer = dispatched(world, ("TEA-0001", 10), ("BOOT-0002", 5))
    movements_before = StockMovement.objects.count()
    body = {
        "lines": [
            {"sku": row[0], "quantity_received": row[1], "reason": row[2]}
            | ({"note": row[3]} if len(row) > 3 else {})
            for row in counted
        ]
    }

    response = client_for(operator).post(
        f"{URL}{transfer.id}/receive/", body, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "The request is not valid.",
        "fields": fields,
    }
    assert StockMovement.objects.count() == movements_before
    assert levels("SVX") == {}
    assert lines_of(transfer) == [("TEA-0001", 10, None, 0, ""), ("BOOT-0002", 5, None, 0, "")]
    assert Transfer.objects.get(id=transfer.id).status == "dispatched"
    assert events_of(transfer) == [("draft", "dispatched", None, "")]


# --- Transitions --------------------------------------------------------------------


def test_illegal_moves_are_409_invalid_transition_and_change_nothing(world: World) -> None:
    fresh = draft(world, ("TEA-0001", 1))
    with pytest.raises(InvalidTransition) as caught:
        transfer_receive(transfer_id=fresh.id, lines=[ReceivedLine("TEA-0001", 1)])
    assert caught.value.status_code == 409
    assert caught.value.extra == {"current_status": "draft", "requested_status": "received"}

    sent = dispatched(world, ("TEA-0001", 2))
    for attempt, extra in (
        (
            lambda: transfer_dispatch(transfer_id=sent.id),
            {"current_status": "dispatched", "requested_status": "dispatched"},
        ),
        (
            lambda: transfer_cancel(transfer_id=sent.id),
            {"current_status": "dispatched", "requested_status": "cancelled"},
        ),
    ):
        with pytest.raises(InvalidTransition) as caught:
            attempt()
        assert caught.value.extra == extra

    transfer_receive(transfer_id=sent.id, lines=[ReceivedLine("TEA-0001", 2)])
    for attempt in (
        lambda: transfer_receive(transfer_id=sent.id, lines=[ReceivedLine("TEA-0001", 2)]),
        lambda: transfer_dispatch(transfer_id=sent.id),
        lambda: transfer_cancel(transfer_id=sent.id),
    ):
        with pytest.raises(InvalidTransition):
            attempt()

    transfer_cancel(transfer_id=fresh.id, reason="ordered twice")
    with pytest.raises(InvalidTransition) as caught:
        transfer_dispatch(transfer_id=fresh.id)
    assert caught.value.extra == {"current_status": "cancelled", "requested_status": "dispatched"}

    assert levels("HRB")["TEA-0001"] == (48, 0)
    assert levels("SVX") == {"TEA-0001": (2, 0)}
    assert events_of(fresh) == [("draft", "cancelled", None, "ordered twice")]
    assert events_of(sent) == [
        ("draft", "dispatched", None, ""),
        ("dispatched", "received", None, ""),
    ]
    assert_ledger_balances()


def test_second_dispatch_over_http_is_409_in_the_error_shape(world: World, operator: Any) -> None:
    transfer = draft(world, ("TEA-0001", 3))
    client = client_for(operator)
    assert client.post(f"{URL}{transfer.id}/dispatch/").status_code == 200

    response = client.post(f"{URL}{transfer.id}/dispatch/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 409
    assert response.json() == {
        "code": "invalid_transition",
        "message": "This change of status is not allowed.",
        "fields": {"status": ["transfer: dispatched -> dispatched"]},
        "current_status": "dispatched",
        "requested_status": "dispatched",
    }
    assert levels("HRB")["TEA-0001"] == (47, 0)
    assert StockMovement.objects.filter(kind="transfer_out").count() == 1


def test_a_departure_no_longer_open_takes_no_transfer(world: World, operator: Any) -> None:
    transfer = draft(world, ("TEA-0001", 3))
    departure_transition(departure_id=world.flight.id, to="closed")
    client = client_for(operator)

    response = client.post(f"{URL}{transfer.id}/dispatch/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 409
    assert response.json() == {
        "code": "departure_not_open",
        "message": "The departure is no longer open for loading.",
        "fields": {"departure": ["Its status is closed."]},
    }
    assert levels("HRB")["TEA-0001"] == (50, 0)
    assert Transfer.objects.get(id=transfer.id).status == "draft"

    response = client.post(
        URL,
        {
            "origin": "HRB",
            "destination": "SVX",
            "departure": world.flight.id,
            "lines": [{"sku": "TEA-0001", "quantity": 1}],
        },
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "departure_not_open"
    assert Transfer.objects.count() == 1


# --- The ops API --------------------------------------------------------------------


def test_ops_create_dispatch_and_receive_over_http(world: World, operator: Any) -> None:
    client = client_for(operator)

    response = client.post(
        URL,
        {
            "origin": "HRB",
            "destination": "SVX",
            "departure": world.flight.id,
            "lines": [{"sku": "TEA-0001", "quantity": 10}, {"sku": "PHONE-0003", "quantity": 2}],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    transfer = Transfer.objects.get()
    assert body == {
        "id": transfer.id,
        "origin": "HRB",
        "destination": "SVX",
        "departure": world.flight.id,
        "status": "draft",
        "created_at": body["created_at"],
        "dispatched_at": None,
        "received_at": None,
        "lines": [
            {
                "sku": "TEA-0001",
                "quantity_sent": 10,
                "quantity_received": None,
                "shortfall": 0,
                "shortfall_reason": "",
            },
            {
                "sku": "PHONE-0003",
                "quantity_sent": 2,
                "quantity_received": None,
                "shortfall": 0,
                "shortfall_reason": "",
            },
        ],
    }
    assert transfer.created_by_id == operator.id

    response = client.post(f"{URL}{transfer.id}/dispatch/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "dispatched"
    assert levels("HRB")["TEA-0001"] == (40, 0)

    response = client.post(
        f"{URL}{transfer.id}/receive/",
        {
            "lines": [
                {"sku": "TEA-0001", "quantity_received": 10},
                {"sku": "PHONE-0003", "quantity_received": 1, "reason": "screen broken"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "received"
    assert body["received_at"] is not None
    assert body["lines"] == [
        {
            "sku": "TEA-0001",
            "quantity_sent": 10,
            "quantity_received": 10,
            "shortfall": 0,
            "shortfall_reason": "",
        },
        {
            "sku": "PHONE-0003",
            "quantity_sent": 2,
            "quantity_received": 1,
            "shortfall": 1,
            "shortfall_reason": "screen broken",
        },
    ]
    assert levels("SVX") == {"TEA-0001": (10, 0), "PHONE-0003": (1, 0)}
    assert events_of(transfer) == [
        ("draft", "dispatched", operator.id, ""),
        ("dispatched", "received", operator.id, ""),
    ]
    assert_ledger_balances()


def test_ops_cancel_a_draft_over_http(world: World, operator: Any) -> None:
    transfer = draft(world, ("TEA-0001", 3))

    response = client_for(operator).post(
        f"{URL}{transfer.id}/cancel/", {"reason": "wrong warehouse"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert events_of(transfer) == [("draft", "cancelled", operator.id, "wrong warehouse")]
    assert levels("HRB")["TEA-0001"] == (50, 0)


GOOD = {
    "origin": "HRB",
    "destination": "SVX",
    "lines": [{"sku": "TEA-0001", "quantity": 1}],
}


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"origin": "XXX"}, {"origin": ["Unknown warehouse."]}),
        ({"destination": "HRB"}, {"destination": ["Must differ from the origin."]}),
        (
            {"origin": "SFH"},
            {"departure": ["Its lane does not leave from the origin warehouse."]},
        ),
        ({"departure": 999_999}, {"departure": ["Unknown departure."]}),
        ({"lines": []}, {"lines": ["This list may not be empty."]}),
        (
            {"lines": [{"sku": "TEA-0001", "quantity": 0}]},
            {"lines[0].quantity": ["Ensure this value is greater than or equal to 1."]},
        ),
        ({"lines": [{"sku": "NOPE-1", "quantity": 1}]}, {"lines[0].sku": ["Unknown product."]}),
        (
            {"lines": [{"sku": "TEA-0001", "quantity": 1}, {"sku": "TEA-0001", "quantity": 2}]},
            {"lines[1].sku": ["Listed twice."]},
        ),
        ({"status": "received"}, {"status": ["Unknown field."]}),
        ({"departure": None}, {"departure": ["This field may not be null."]}),
    ],
    ids=[
        "unknown-origin",
        "same-warehouse",
        "lane-from-elsewhere",
        "unknown-departure",
        "no-lines",
        "zero-quantity",
        "unknown-sku",
        "sku-twice",
        "status-field",
        "null-departure",
    ],
)
def test_bad_create_is_400_and_writes_nothing(
    world: World, operator: Any, change: dict[str, Any], fields: dict[str, list[str]]
) -> None:
    body = {**GOOD, "departure": world.flight.id, **change}

    response = client_for(operator).post(URL, body, format="json", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "The request is not valid.",
        "fields": fields,
    }
    assert Transfer.objects.count() == 0
    assert TransferLine.objects.count() == 0


def test_transfers_are_for_operator_staff_only(world: World, api: Any) -> None:
    transfer = draft(world, ("TEA-0001", 3))
    merchant_staff = MerchantStaffFactory.create().user
    body = {**GOOD, "departure": world.flight.id}
    receive = {"lines": [{"sku": "TEA-0001", "quantity_received": 3}]}
    calls = [
        (URL, body),
        (f"{URL}{transfer.id}/dispatch/", {}),
        (f"{URL}{transfer.id}/receive/", receive),
        (f"{URL}{transfer.id}/cancel/", {}),
    ]
    for user in (world.buyer.user, merchant_staff):
        client = client_for(user)
        for url, data in calls:
            response = client.post(url, data, format="json")
            assert response.status_code == 403, (user, url)
            assert response.json()["code"] == "forbidden"
    for url, data in calls:
        response = api.post(url, data, format="json")
        assert response.status_code == 401, url
        assert response.json()["code"] == "not_authenticated"

    assert list(Transfer.objects.values_list("id", "status")) == [(transfer.id, "draft")]
    assert levels("HRB")["TEA-0001"] == (50, 0)
    assert not StockMovement.objects.filter(kind__in=["transfer_out", "transfer_in"]).exists()


def test_an_unknown_transfer_is_404(world: World, operator: Any) -> None:
    response = client_for(operator).post(f"{URL}999999/dispatch/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found.", "fields": {}}


# --- Admin ------------------------------------------------------------------------------


def test_admin_shows_a_transfer_with_its_lines_and_dispatches_it(world: World) -> None:
    superuser = UserFactory.create(email="root@amur.example", is_staff=True, is_superuser=True)
    transfer = draft(world, ("TEA-0001", 4))
    client = DjangoClient()
    client.force_login(superuser)

    page = client.get(f"/admin/shipping/transfer/{transfer.id}/change/")
    assert page.status_code == 200
    assert "TEA-0001" in page.content.decode()

    response = client.post(
        "/admin/shipping/transfer/",
        {"action": "dispatch", "_selected_action": [transfer.id]},
    )
    assert response.status_code == 302
    assert Transfer.objects.get(id=transfer.id).status == "dispatched"
    assert levels("HRB")["TEA-0001"] == (46, 0)
    assert events_of(transfer) == [("draft", "dispatched", superuser.id, "")]


def test_admin_transfer_actions_are_not_offered_to_merchant_staff(world: World) -> None:
    transfer = draft(world, ("TEA-0001", 4))
    staff = MerchantStaffFactory.create().user
    staff.user_permissions.add(Permission.objects.get(codename="view_transfer"))
    client = DjangoClient()
    client.force_login(staff)

    assert client.get("/admin/shipping/transfer/").status_code == 200
    client.post(
        "/admin/shipping/transfer/", {"action": "dispatch", "_selected_action": [transfer.id]}
    )

    assert Transfer.objects.get(id=transfer.id).status == "draft"
    assert levels("HRB")["TEA-0001"] == (50, 0)


# --- Concurrency (PostgreSQL) ---------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_dispatches_never_oversell_nor_deadlock(world: World) -> None:
    # 50 TEA and 50 BOOT at HRB; twelve transfers of 10 + 10, half listing
    # their lines in the opposite order: exactly five can leave.
    forwards = [draft(world, ("TEA-0001", 10), ("BOOT-0002", 10)) for _ in range(6)]
    backwards = [draft(world, ("BOOT-0002", 10), ("TEA-0001", 10)) for _ in range(6)]

    def dispatch(transfer_id: int) -> str:
        try:
            transfer_dispatch(transfer_id=transfer_id)
        except OutOfStock as error:
            return error.code
        finally:
            connection.close()
        return "dispatched"

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(
            pool.map(
                dispatch, [t.id for pair in zip(forwards, backwards, strict=True) for t in pair]
            )
        )

    assert Counter(results) == Counter({"dispatched": 5, "out_of_stock": 7})
    assert Counter(Transfer.objects.values_list("status", flat=True)) == Counter(
        {"dispatched": 5, "draft": 7}
    )
    assert levels("HRB") == {"TEA-0001": (0, 0), "BOOT-0002": (0, 0), "PHONE-0003": (50, 0)}
    assert StockMovement.objects.filter(kind="transfer_out").count() == 10
    tea, boot = world.products[0].id, world.products[1].id
    assert stock_in_transit() == {(world.svx.id, tea): 50, (world.svx.id, boot): 50}
    assert_ledger_balances()


def test_dispatch_that_leaves_the_origin_low_tells_its_merchant(world: World) -> None:
    from notifications.models import OutboxEvent
    from warehouses.models import StockLevel

    StockLevel.objects.filter(warehouse=world.hrb, product=world.products[0]).update(
        low_stock_threshold=45
    )
    transfer = transfer_create(
        origin_id=world.hrb.id,
        destination_id=world.svx.id,
        departure_id=world.flight.id,
        lines=[TransferLineRequest(sku="TEA-0001", quantity=10)],
        actor_id=None,
    )
    transfer_dispatch(transfer_id=transfer.id, actor_id=None)
    low = OutboxEvent.objects.get(type="stock.low")
    assert low.payload == {"sku": "TEA-0001", "warehouse": "HRB", "available": 40, "threshold": 45}


def test_a_departure_carrying_dispatched_transfers_cannot_be_cancelled(world: World) -> None:
    from core.errors import Conflict
    from shipping.linehaul.departures import departure_transition

    transfer = transfer_create(
        origin_id=world.hrb.id,
        destination_id=world.svx.id,
        departure_id=world.flight.id,
        lines=[TransferLineRequest(sku="TEA-0001", quantity=1)],
    )
    transfer_dispatch(transfer_id=transfer.id)
    with pytest.raises(Conflict) as caught:
        departure_transition(departure_id=world.flight.id, to="cancelled")
    assert caught.value.code == "departure_carries_transfers"

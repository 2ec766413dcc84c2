"""The one transition contract (core.transitions), on the models that use it."""

from __future__ import annotations

import pytest

from commands.place import order_place
from commands.quote import LineRequest
from core.errors import InvalidTransition
from core.locking import locked_transaction
from core.transitions import Context
from notifications.models import OutboxEvent
from orders.models import Order, OrderEvent
from orders.services import ORDER_MACHINE, Address, order_lock
from shipping.linehaul.departures import DEPARTURE_MACHINE
from shipping.linehaul.models import DepartureEvent
from tests.conftest import World


def _order(world: World) -> Order:
    return order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku="TEA-0001", quantity=1)],
        address=Address(**world.address()),
        payment_method="card",
    )


def test_a_move_locks_checks_stamps_and_writes_audit_and_outbox_with_it(world: World) -> None:
    order = _order(world)
    moves = ORDER_MACHINE.move(
        ids=[order.id], to="cancelled", context=Context(actor_id=None, reason="test")
    )
    assert [(m.previous, m.to, m.sequence) for m in moves] == [("pending_payment", "cancelled", 2)]
    order.refresh_from_db()
    assert (order.status, order.event_seq) == ("cancelled", 2)
    assert order.cancelled_at is not None
    event = OrderEvent.objects.get(order=order, sequence=2)
    assert (event.from_status, event.to_status, event.reason) == (
        "pending_payment",
        "cancelled",
        "test",
    )
    outbox = OutboxEvent.objects.get(subject=f"order:{order.number}", sequence=2)
    assert outbox.payload["status"] == "cancelled"


def test_a_refused_move_changes_nothing_when_strict(world: World) -> None:
    first, second = _order(world), _order(world)
    ORDER_MACHINE.move(ids=[second.id], to="cancelled")
    before = (OrderEvent.objects.count(), OutboxEvent.objects.count())
    with pytest.raises(InvalidTransition):
        ORDER_MACHINE.move(ids=[first.id, second.id], to="paid")
    assert set(Order.objects.values_list("status", flat=True)) == {"pending_payment", "cancelled"}
    assert (OrderEvent.objects.count(), OutboxEvent.objects.count()) == before
    # Not strict: the order that may move moves, the other stays.
    moved = ORDER_MACHINE.move(ids=[first.id, second.id], to="paid", strict=False)
    assert [m.row.id for m in moved] == [first.id]


def test_a_row_already_there_is_left_alone_only_when_asked(world: World) -> None:
    flight = world.flight
    DEPARTURE_MACHINE.move(ids=[flight.id], to="loading")
    with pytest.raises(InvalidTransition):
        DEPARTURE_MACHINE.move(ids=[flight.id], to="loading")
    assert DEPARTURE_MACHINE.move(ids=[flight.id], to="loading", skip_same=True) == []
    assert list(DepartureEvent.objects.values_list("from_status", "to_status")) == [
        ("scheduled", "loading")
    ]


def test_steps_are_checked_one_by_one_and_each_counts_in_the_sequence(world: World) -> None:
    order = _order(world)
    with locked_transaction():
        locked = order_lock(order_id=order.id)
        moves = ORDER_MACHINE.apply_steps(
            steps=[(locked, [("paid", None), ("delivered", None), ("allocated", None)])]
        )
    # paid -> delivered is not in the table: skipped; paid -> allocated is.
    assert [(m.previous, m.to, m.sequence) for m in moves] == [
        ("pending_payment", "paid", 2),
        ("paid", "allocated", 3),
    ]
    assert list(OrderEvent.objects.filter(order=order).values_list("sequence", "to_status")) == [
        (1, "pending_payment"),
        (2, "paid"),
        (3, "allocated"),
    ]

"""The lock order is checked as locks are taken (core.locking), and no code
takes a row lock any other way."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from catalogue.models import Product
from commands.place import order_place
from commands.quote import LineRequest
from core.locking import (
    LockOrderError,
    Rank,
    lock_check,
    lock_held,
    lock_in_order,
    lock_new,
    lock_rows,
    locked_transaction,
)
from orders.models import Order
from orders.services import Address, order_lock
from tests.conftest import World
from warehouses.models import StockLevel

ROOT = Path(__file__).resolve().parent.parent


def test_no_code_locks_rows_outside_core_locking() -> None:
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", "tests/", "bench/", "core/locking.py")):
            continue
        text = path.read_text()
        if re.search(r"select_for_update\(|FOR (NO KEY )?UPDATE\"", text):
            offenders.append(relative)
    assert offenders == []


def test_a_lock_outside_a_locked_transaction_is_refused(db: Any) -> None:
    with pytest.raises(LockOrderError, match="inside locked_transaction"):
        lock_check(Rank.ORDER, [1])


def test_shared_ranks_go_up_and_ids_within_a_rank_go_up(db: Any) -> None:
    with locked_transaction():
        lock_check(Rank.ORDER, [3, 5])
        lock_check(Rank.ORDER, [5, 8])  # 5 is held already, 8 comes after it
        lock_check(Rank.STOCK, [1])
        with pytest.raises(LockOrderError, match="ORDER \\[9\\] locked after STOCK 1"):
            lock_check(Rank.ORDER, [9])
        with pytest.raises(LockOrderError, match="STOCK \\[0\\] locked after STOCK 1"):
            lock_check(Rank.STOCK, [0])
    with locked_transaction():
        # A new transaction starts from nothing.
        lock_check(Rank.ORDER, [1])


def test_an_orders_own_rows_need_its_lock_and_no_order_of_their_own(db: Any) -> None:
    with locked_transaction():
        with pytest.raises(LockOrderError, match="PAYMENT rows locked without"):
            lock_check(Rank.PAYMENT, [10], parent=[4])
        lock_check(Rank.ORDER, [4])
        lock_check(Rank.PAYMENT, [10], parent=[4])
        lock_check(Rank.ORDER, [6])
        lock_check(Rank.PAYMENT, [2], parent=[6])  # a lower payment id, another order
        lock_check(Rank.STOCK, [1])
        lock_check(Rank.PAYMENT, [11], parent=[4])  # children only need their order


def test_new_rows_count_as_held_and_held_rows_can_be_required(db: Any) -> None:
    with locked_transaction():
        lock_check(Rank.STOCK, [7])
        lock_new(Rank.ORDER, [42])
        lock_held(Rank.ORDER, 42)
        lock_check(Rank.ORDER, [42])  # held: no wait, no check
        lock_check(Rank.PAYMENT, [1], parent=[42])
        with pytest.raises(LockOrderError, match="ORDER 43 is not locked"):
            lock_held(Rank.ORDER, 43)


def test_lock_in_order_tells_a_caller_what_it_may_still_wait_for(db: Any) -> None:
    with locked_transaction():
        lock_check(Rank.STOCK, [5])
        assert lock_in_order(Rank.STOCK, [5, 6])
        assert not lock_in_order(Rank.STOCK, [4, 6])
        assert lock_in_order(Rank.BUYER, [1])


def test_nested_locked_transactions_share_their_locks(world: World) -> None:
    order, later = _order(world), _order(world)
    with locked_transaction():
        locked = order_lock(order_id=order.id)
        with locked_transaction():
            lock_held(Rank.ORDER, locked.id)
            levels = lock_rows(
                StockLevel.objects.filter(product=world.products[0]), rank=Rank.STOCK
            )
        assert [level.product_id for level in levels] == [world.products[0].id] * 2
        with pytest.raises(LockOrderError, match="ORDER"):
            order_lock(order_id=later.id)  # an order after stock


def test_a_skip_locked_claim_waits_for_nobody_so_it_may_come_in_any_order(world: World) -> None:
    with locked_transaction():
        lock_check(Rank.STOCK, [10**6])
        rows = lock_rows(Product.objects.all(), rank=Rank.ORDER, skip_locked=True)
        assert len(rows) == 3


def _order(world: World) -> Order:
    return order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku="TEA-0001", quantity=1)],
        address=Address(**world.address()),
        payment_method="card",
    )

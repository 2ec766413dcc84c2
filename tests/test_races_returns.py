"""Returns racing on one order, over HTTP against gunicorn with 4 workers on
PostgreSQL, in the pattern of tests/test_races.py: two decisions at once,
two receipts at once, a return request against a cancellation, another
request for the same units, and a receipt against an operator's refund. Every
request is answered with one of the outcomes the pair allows, never a 5xx,
and afterwards the books hold: stock equals its movements, the ledger
balances, and no return is refunded twice or beyond what was captured."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import F, Sum

from commands.returns import return_ship
from orders.models import Order
from payments.models import Payment, Refund
from shipping.returns.models import Return
from tests.conftest import World
from tests.factories import MerchantStaffFactory, UserFactory, token_for
from tests.test_races import (
    BOOKS_HOLD,
    ROUNDS,
    Outcome,
    books,
    post,
    race,
)
from tests.test_races import (
    base as base,  # the module's gunicorn
)
from tests.test_returns import delivered
from warehouses.models import StockMovement

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

D = Decimal


class Api:
    def __init__(self, base: str) -> None:
        self.base = base

    def request(self, order: Order, *lines: tuple[str, int]) -> Callable[[], Outcome]:
        token = token_for(order.buyer.user)
        path = f"/api/v1/orders/{order.number}/returns/"
        body = {"lines": [{"sku": sku, "quantity": n} for sku, n in lines]}
        return lambda: post(self.base, token, path, body, lambda ret: ret["status"])

    def cancel(self, order: Order) -> Callable[[], Outcome]:
        token = token_for(order.buyer.user)
        path = f"/api/v1/orders/{order.number}/cancel/"
        return lambda: post(self.base, token, path, None, lambda body: body["status"])

    def decide(self, number: str, user: Any, decision: str) -> Callable[[], Outcome]:
        token = token_for(user)
        path = f"/api/v1/ops/returns/{number}/decision/"
        return lambda: post(
            self.base, token, path, {"decision": decision}, lambda ret: ret["status"]
        )

    def receive(self, number: str, user: Any) -> Callable[[], Outcome]:
        token = token_for(user)
        path = f"/api/v1/ops/returns/{number}/receive/"
        return lambda: post(self.base, token, path, {"warehouse": "SVX"}, lambda r: r["status"])

    def refund(
        self, payment: Payment, user: Any, amount: Decimal | None = None
    ) -> Callable[[], Outcome]:
        token = token_for(user)
        path = f"/api/v1/ops/payments/{payment.id}/refund/"
        body = {"amount": str(amount or payment.amount), "reason": "goodwill"}
        return lambda: post(self.base, token, path, body, lambda r: r["payment_status"])


@pytest.fixture
def api(base: str) -> Api:
    return Api(base)


@pytest.fixture
def staff(world: World) -> Any:
    return UserFactory.create(email="ops@amur.example", is_staff=True)


def returns_books() -> dict[str, list[Any]]:
    """Everything test_races' books check, and: every return's refund is
    the sum of the refunds made for it, and no payment is refunded beyond
    its capture."""
    found = []
    for ret in Return.objects.exclude(refund_amount=None):
        made = Refund.objects.filter(reason=f"return {ret.number}").aggregate(s=Sum("amount"))["s"]
        if (made or D(0)) != ret.refund_amount:
            found.append(f"{ret.number} says {ret.refund_amount}, refunds made {made}")
    over = list(
        Payment.objects.filter(refunded_amount__gt=F("amount")).values_list("id", flat=True)
    )
    return {**books(), "returns refunded otherwise": found, "payments refunded over": over}


BOOKS = {**BOOKS_HOLD, "returns refunded otherwise": [], "payments refunded over": []}


def requested(world: World, api: Api) -> tuple[Order, str]:
    """A delivered order of two teas, one of them asked back."""
    order = delivered(world, ("TEA-0001", 2))
    ((code, status),) = race(api.request(order, ("TEA-0001", 1)))
    assert (code, status) == (201, "requested")
    return order, Return.objects.get(order=order).number


def in_transit(world: World, api: Api, staff: Any) -> tuple[Order, str]:
    order, number = requested(world, api)
    assert race(api.decide(number, staff, "approve")) == ((200, "approved"),)
    return_ship(number=number, tracking_number="CDEK-1", carrier="cdek", actor_id=staff.id)
    return order, number


def test_two_decisions_at_once_decide_once(world: World, api: Api, staff: Any) -> None:
    """The same decision twice (the operator's and the merchant's): both
    answer it. Approve racing reject: the first decides, the other is told
    the return was decided already."""
    merchant = MerchantStaffFactory.create(merchant=world.products[0].merchant).user
    approved, rejected = (200, "approved"), (200, "rejected")
    decided = (409, "return_already_decided")
    allowed = {
        (approved, approved): "approved",
        (approved, decided): "approved",
        (decided, rejected): "rejected",
    }
    for _round in range(ROUNDS):
        for decisions in (("approve", "approve"), ("approve", "reject")):
            _order, number = requested(world, api)
            outcomes = race(
                api.decide(number, staff, decisions[0]), api.decide(number, merchant, decisions[1])
            )
            assert outcomes in allowed
            assert Return.objects.get(number=number).status == allowed[outcomes]
            assert returns_books() == BOOKS


def test_two_receipts_at_once_restock_and_refund_once(world: World, api: Api, staff: Any) -> None:
    refunded, not_receivable = (200, "refunded"), (409, "return_not_receivable")
    for _round in range(ROUNDS):
        order, number = in_transit(world, api, staff)
        outcomes = race(api.receive(number, staff), api.receive(number, staff))
        assert outcomes in {(refunded, not_receivable), (not_receivable, refunded)}
        assert list(
            Refund.objects.filter(payment__order=order).values_list("amount", "status")
        ) == [(D("1078.00"), "succeeded")]
        assert list(
            StockMovement.objects.filter(order=order, kind="return").values_list(
                "stock__warehouse__code", "on_hand_delta"
            )
        ) == [("SVX", 1)]
        assert returns_books() == BOOKS


def test_a_return_request_racing_a_cancellation_a_refund_or_another_request(
    world: World, api: Api, staff: Any
) -> None:
    """A delivered order cannot be cancelled, whichever comes first; of two
    requests for the same unit one is taken, the other is told there is
    nothing left to return; a refund does not stand in a request's way."""
    taken, exceeded = (201, "requested"), (422, "return_quantity_exceeded")
    for _round in range(ROUNDS):
        order = delivered(world, ("TEA-0001", 1))
        outcomes = race(api.request(order, ("TEA-0001", 1)), api.cancel(order))
        assert outcomes == (taken, (409, "order_not_cancellable"))
        assert Order.objects.get(id=order.id).status == "delivered"

        order = delivered(world, ("TEA-0001", 1))
        outcomes = race(api.request(order, ("TEA-0001", 1)), api.request(order, ("TEA-0001", 1)))
        assert outcomes in {(taken, exceeded), (exceeded, taken)}
        assert Return.objects.filter(order=order).count() == 1

        # An operator's partial refund meanwhile: both are done, in either order.
        order = delivered(world, ("TEA-0001", 2))
        payment = Payment.objects.get(order=order)
        outcomes = race(
            api.request(order, ("TEA-0001", 1)), api.refund(payment, staff, D("100.00"))
        )
        assert outcomes == (taken, (201, "partially_refunded"))
        assert returns_books() == BOOKS


def test_a_receipt_racing_an_operators_full_refund_never_refunds_twice(
    world: World, api: Api, staff: Any
) -> None:
    """Outcomes (receive, refund): received first, its goods refunded, then
    the operator's refund of the whole payment is more than is left; or the
    operator refunds everything first and the return, with nothing left to
    refund, closes."""
    for _round in range(ROUNDS):
        order, number = in_transit(world, api, staff)
        payment = Payment.objects.get(order=order)
        # The whole payment: what an order from Yekaterinburg's own stock
        # costs differs from one from Harbin (earlier rounds restock there).
        allowed = {
            ((200, "refunded"), (422, "refund_exceeds_capture")): [D("1078.00")],
            ((200, "closed"), (201, "refunded")): [payment.amount],
        }
        outcomes = race(api.receive(number, staff), api.refund(payment, staff))
        assert outcomes in allowed
        assert (
            list(Refund.objects.filter(payment=payment).values_list("amount", flat=True))
            == allowed[outcomes]
        )
        assert returns_books() == BOOKS

"""Commands racing on one order, over HTTP against gunicorn with 4 workers on
PostgreSQL (issue #11): for each pair (and each command against itself) both
requests are fired at once, from threads released by a barrier, a few rounds
each. Every request must be answered, and none with a 5xx (PostgreSQL's
deadlock error would be a 500; a lock waited on for ever, a timeout); the
answers must be one of the outcomes the pair allows, named in each test; and
afterwards the books must hold (`books`).

The orders are placed in the test's process: the server's own caches of
lanes and rates would outlive the rows each test's flush removes, and only the
racing commands need the server."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.db import connection
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from accounts.models import Buyer, Courier
from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from commands.scans import cash_collect
from notifications.signing import headers_build
from orders.models import Order
from orders.services import Address
from payments.card import SETTLED
from payments.cod.models import CashCollection
from payments.models import LedgerEntry, Payment, ProviderCall, Refund
from payments.receipts.models import Receipt
from payments.receipts.services import receipts_send
from risk.models import RiskHold, RiskRule
from shipping.fulfilment.models import Parcel
from shipping.tracking.models import TrackingEvent
from tests.conftest import REQUIRE_SERVICES, World
from tests.factories import MerchantStaffFactory, UserFactory, token_for
from tests.servers import gunicorn_server
from tests.test_providers import SECRET
from warehouses.models import Reservation, StockLevel
from warehouses.selectors import stock_audit_differences

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 3
# Long enough for a loaded 2-core machine, short of gunicorn's own 60 s.
REQUEST_TIMEOUT = 30
TIMED_OUT = (0, "timeout")
P = Payment.Status

Outcome = tuple[int, str]


@pytest.fixture(scope="module")
def base(django_db_setup: Any) -> Iterator[str]:
    """One gunicorn for the module, serving the test database, whose rows
    are flushed after each test: the commands raced here read nothing the
    server caches between requests (its lanes and rates serve quotes only)."""
    if connection.vendor != "postgresql":
        if REQUIRE_SERVICES:
            pytest.fail("REQUIRE_SERVICES=1 but these tests need PostgreSQL")
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    with gunicorn_server(workers=4) as url:
        yield url


# --- firing at once ------------------------------------------------------------


def post(base: str, token: str, path: str, body: Any, ok: Callable[[Any], str]) -> Outcome:
    """POST to the server; (status, the error's code) on an error, else
    (status, what `ok` reads from the answer)."""
    response = requests.post(
        base + path,
        json=body,
        headers={"Authorization": f"Token {token}"},
        timeout=REQUEST_TIMEOUT,
    )
    if response.status_code >= 500:
        return response.status_code, response.text[:200]
    data = response.json()
    if response.status_code >= 400:
        return response.status_code, str(data["code"])
    return response.status_code, ok(data)


def race(*calls: Callable[[], Outcome]) -> tuple[Outcome, ...]:
    """Run the calls at once, each in its own thread released by one barrier;
    their outcomes in the calls' order (TIMED_OUT for an unanswered one)."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Outcome] = [TIMED_OUT] * len(calls)

    def run(index: int, call: Callable[[], Outcome]) -> None:
        barrier.wait(timeout=REQUEST_TIMEOUT)
        try:
            outcomes[index] = call()
        except requests.Timeout:
            outcomes[index] = TIMED_OUT

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT + 10)
    return tuple(outcomes)


class Api:
    """The racing requests, each a call for `race`."""

    def __init__(self, base: str) -> None:
        self.base = base

    def cancel(self, order: Order) -> Callable[[], Outcome]:
        token = token_for(order.buyer.user)
        path = f"/api/v1/orders/{order.number}/cancel/"
        return lambda: post(self.base, token, path, None, lambda body: body["status"])

    def pay(self, order: Order) -> Callable[[], Outcome]:
        token = token_for(order.buyer.user)
        path = f"/api/v1/orders/{order.number}/pay/"
        body = {"token": "tok_approve"}
        return lambda: post(self.base, token, path, body, lambda answer: answer["status"])

    def pay_sbp(self, order: Order) -> Callable[[], Outcome]:
        token = token_for(order.buyer.user)
        path = f"/api/v1/orders/{order.number}/pay/"
        return lambda: post(
            self.base, token, path, {"method": "sbp"}, lambda answer: answer["status"]
        )

    def pack(self, order: Order, staff: Any) -> Callable[[], Outcome]:
        token = token_for(staff)
        path = f"/api/v1/ops/orders/{order.number}/pack/"
        return lambda: post(self.base, token, path, {}, lambda parcels: f"{len(parcels)} parcel")

    def review(self, order: Order, staff: Any, decision: str) -> Callable[[], Outcome]:
        token = token_for(staff)
        path = f"/api/v1/ops/orders/{order.number}/review/"
        body = {"decision": decision, "note": "race"}
        return lambda: post(self.base, token, path, body, lambda hold: hold["decision"])

    def scans(self, courier: Courier, scans: list[dict[str, Any]]) -> Callable[[], Outcome]:
        token = token_for(courier.user)
        body = {"scans": scans}
        return lambda: post(
            self.base,
            token,
            "/api/v1/courier/scans/",
            body,
            lambda answer: (
                f"{answer['accepted']} accepted, {answer['duplicates']} duplicates,"
                f" {len(answer['rejected'])} rejected"
            ),
        )


@pytest.fixture
def api(base: str) -> Api:
    return Api(base)


@pytest.fixture
def staff(world: World) -> Any:
    return UserFactory.create(email="ops@amur.example", is_staff=True)


# --- the books -----------------------------------------------------------------


def unbalanced_transactions() -> list[int]:
    """Ledger transactions whose debits differ from their credits."""
    return list(
        LedgerEntry.objects.values("transaction_id")
        .annotate(debits=Sum("debit"), credits=Sum("credit"))
        .filter(~Q(debits=F("credits")))
        .values_list("transaction_id", flat=True)
    )


def captures_kept_on_cancelled_orders() -> list[str]:
    """Money taken for a cancelled order and not given back: a payment still
    (partly) captured, one refunded for less than its amount, or one the
    provider captured after Amur voided it, with no refund call made. Card
    refunds count once their provider has answered."""
    found = []
    for payment in Payment.objects.filter(order__status="cancelled").annotate(
        refunded=Sum("refunds__amount", filter=Q(refunds__status=Refund.Status.SUCCEEDED))
    ):
        if payment.status in (P.CAPTURED, P.PARTIALLY_REFUNDED):
            found.append(f"payment {payment.id} {payment.status}")
        elif payment.status == P.REFUNDED and payment.refunded != payment.amount:
            found.append(f"payment {payment.id} refunded {payment.refunded} of {payment.amount}")
        elif payment.status == P.VOIDED and _captured_at_provider(payment):
            late_refund = ProviderCall.objects.filter(
                payment=payment, kind=ProviderCall.Kind.REFUND, status=ProviderCall.Status.DONE
            )
            if not late_refund.exists():
                found.append(f"payment {payment.id} captured by the provider after its void")
    return found


def _captured_at_provider(payment: Payment) -> bool:
    return ProviderCall.objects.filter(
        payment=payment,
        kind__in=[ProviderCall.Kind.CHARGE, ProviderCall.Kind.CAPTURE],
        result__status=P.CAPTURED,
    ).exists()


def orders_settled_twice() -> list[int]:
    return list(
        Payment.objects.filter(status__in=SETTLED)
        .values("order_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("order_id", flat=True)
    )


def books() -> dict[str, list[Any]]:
    """Everything that must hold whatever the race's outcome; all empty."""
    return {
        "stock differences": stock_audit_differences(),
        "unbalanced transactions": unbalanced_transactions(),
        "captures kept on cancelled orders": captures_kept_on_cancelled_orders(),
        "orders settled twice": orders_settled_twice(),
    }


BOOKS_HOLD: dict[str, list[Any]] = {
    "stock differences": [],
    "unbalanced transactions": [],
    "captures kept on cancelled orders": [],
    "orders settled twice": [],
}


# --- orders to race on ---------------------------------------------------------


def place(
    world: World, *, quantity: int = 1, method: str = "card", buyer: Buyer | None = None
) -> Order:
    return order_place(
        user_id=(buyer or world.buyer).user_id,
        lines=[LineRequest("TEA-0001", quantity)],
        address=Address(**world.address()),
        payment_method=method,
    )


def allocated(world: World, method: str) -> Order:
    """An allocated order: cash on delivery is allocated at placement, a card
    order once paid."""
    order = place(world, method=method)
    if method == "card":
        payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    order.refresh_from_db()
    assert order.status == "allocated"
    return order


def status(order: Order) -> str:
    return Order.objects.values_list("status", flat=True).get(id=order.id)


def payments(order: Order) -> list[str]:
    return list(Payment.objects.filter(order=order).order_by("id").values_list("status", flat=True))


def provider_calls(order: Order) -> list[tuple[str, str]]:
    return list(
        ProviderCall.objects.filter(payment__order=order)
        .order_by("id")
        .values_list("kind", "status")
    )


def units(order: Order) -> dict[str, int]:
    """The order's reserved units by reservation status."""
    return dict(
        Reservation.objects.filter(order=order)
        .values_list("status")
        .annotate(n=Sum("quantity"))
        .order_by()
    )


# --- the races -----------------------------------------------------------------

CANCELLED = (200, "cancelled")
NOT_CANCELLABLE = (409, "order_not_cancellable")


def test_eight_cancellations_of_one_order_cancel_it_once_and_leave_others_stock_alone(
    world: World, api: Api
) -> None:
    others = [place(world, quantity=2, buyer=world.other_buyer) for _ in range(2)]
    for _round in range(ROUNDS):
        order = place(world, quantity=3)
        outcomes = race(*[api.cancel(order)] * 8)
        assert Counter(outcomes) == {CANCELLED: 1, NOT_CANCELLABLE: 7}
        assert status(order) == "cancelled"
        assert units(order) == {"released": 3}
        assert books() == BOOKS_HOLD
    assert [units(other) for other in others] == [{"active": 2}, {"active": 2}]
    tea = StockLevel.objects.get(warehouse=world.hrb, product__sku="TEA-0001")
    assert (tea.on_hand, tea.reserved) == (50, 4)


def test_cancel_racing_pack_either_cancels_or_packs(world: World, api: Api, staff: Any) -> None:
    """Outcomes (cancel, pack): cancelled first, then the packer is told the
    order is not packable; or packed first, then the buyer is told it can no
    longer be cancelled."""
    allowed = {
        (CANCELLED, (409, "order_not_packable")): "cancelled",
        (NOT_CANCELLABLE, (201, "1 parcel")): "packed",
    }
    for method in ["cod", "card"] * ROUNDS:
        order = allocated(world, method)
        outcomes = race(api.cancel(order), api.pack(order, staff))
        assert outcomes in allowed
        assert status(order) == allowed[outcomes]
        parcels = Parcel.objects.filter(order=order).count()
        if status(order) == "packed":
            assert (units(order), parcels) == ({"picked": 1}, 1)
        else:
            assert (units(order), parcels) == ({"released": 1}, 0)
        assert books() == BOOKS_HOLD


def test_cancel_racing_pay_leaves_no_money_on_a_cancelled_order(world: World, api: Api) -> None:
    """Outcomes (cancel, pay): the cancel always wins its request (an order
    awaiting payment or paid and allocated is cancellable), and the pay
    answers as far as it got: not payable (cancelled first); cancelled during
    the payment (the attempt voided while the charge was with the provider,
    the capture that arrives then refunded; or captured, then refunded by the
    cancel before the pay's answer was read); or captured (cancelled after
    the pay's answer was read).
    Every way, the order ends cancelled with its money given back."""
    charged_and_refunded = [("charge", "done"), ("refund", "done")]
    # The pay's answer -> the order's payments, and the calls made to the provider.
    during = (CANCELLED, (409, "order_cancelled_during_payment"))
    allowed: dict[tuple[Any, Any], list[tuple[list[str], list[tuple[str, str]]]]] = {
        (CANCELLED, (409, "order_not_payable")): [([], [])],
        during: [([P.VOIDED], charged_and_refunded), ([P.REFUNDED], charged_and_refunded)],
        (CANCELLED, (201, P.CAPTURED)): [([P.REFUNDED], charged_and_refunded)],
    }
    for _round in range(ROUNDS * 2):
        order = place(world)
        outcomes = race(api.cancel(order), api.pay(order))
        assert outcomes in allowed
        assert (payments(order), provider_calls(order)) in allowed[outcomes]
        assert status(order) == "cancelled"
        assert units(order) == {"released": 1}
        assert books() == BOOKS_HOLD


def test_pay_double_tap_captures_at_most_once(world: World, api: Api) -> None:
    """Outcomes: one pay captures; the other finds the first one's charge
    still with the provider (payment_in_progress) or the order already paid
    (order_not_payable). Never two captured payments. (No attempt is
    voided here: tok_approve is captured in the charge's own answer, so no
    attempt is ever open with a provider reference for a second one to
    replace.)"""
    captured = (201, P.CAPTURED)
    allowed = {
        (captured, (409, "payment_in_progress")),
        ((409, "payment_in_progress"), captured),
        (captured, (409, "order_not_payable")),
        ((409, "order_not_payable"), captured),
    }
    for _round in range(ROUNDS):
        order = place(world)
        outcomes = race(api.pay(order), api.pay(order))
        assert outcomes in allowed
        assert status(order) == "allocated"
        assert (payments(order), provider_calls(order)) == ([P.CAPTURED], [("charge", "done")])
        assert books() == BOOKS_HOLD


def test_pack_double_tap_packs_once(world: World, api: Api, staff: Any) -> None:
    allowed = {
        ((201, "1 parcel"), (409, "order_not_packable")),
        ((409, "order_not_packable"), (201, "1 parcel")),
    }
    for method in ["cod", "card"] * ROUNDS:
        order = allocated(world, method)
        outcomes = race(api.pack(order, staff), api.pack(order, staff))
        assert outcomes in allowed
        assert status(order) == "packed"
        assert Parcel.objects.filter(order=order).count() == 1
        assert units(order) == {"picked": 1}
        assert books() == BOOKS_HOLD
    tea = StockLevel.objects.get(warehouse=world.hrb, product__sku="TEA-0001")
    assert (tea.on_hand, tea.reserved) == (50 - 2 * ROUNDS, 0)


@pytest.fixture
def review_rules(world: World) -> None:
    """Cash orders above 1,000 RUB, and new accounts' orders above it, wait
    for review: every order here (one TEA-0001 is 1,501.50 RUB). Only
    these rules: the shipped ones are left in the database until the first
    transactional test flushes it."""
    RiskRule.objects.all().delete()
    RiskRule.objects.create(code="cod-cap", kind="cod_cap", limit=Decimal("1000.00"))
    RiskRule.objects.create(
        code="new-account-cap",
        kind="new_account_cap",
        limit=Decimal("1000.00"),
        account_age_days=7,
    )


@pytest.mark.usefixtures("review_rules")
def test_cancel_racing_review_decides_once(world: World, api: Api, staff: Any) -> None:
    """Outcomes (cancel, review): the buyer cancels first and withdraws the
    hold, so the review finds it decided (order_already_reviewed); or staff
    approve first and the buyer then cancels the order approved (awaiting card
    payment, or allocated for cash); or staff reject first and the buyer finds
    it cancelled already."""
    withdrawn = (409, "order_already_reviewed")
    allowed = {
        "approve": {
            (CANCELLED, withdrawn): "withdrawn",
            (CANCELLED, (200, "approved")): "approved",
        },
        "reject": {
            (CANCELLED, withdrawn): "withdrawn",
            (NOT_CANCELLABLE, (200, "rejected")): "rejected",
        },
    }
    for decision in ["approve", "reject"] * ROUNDS:
        for method in ("cod", "card"):
            order = place(world, method=method)
            assert status(order) == "on_hold"
            outcomes = race(api.cancel(order), api.review(order, staff, decision))
            assert outcomes in allowed[decision]
            hold = RiskHold.objects.get(order=order)
            assert hold.decision == allowed[decision][outcomes]
            assert status(order) == "cancelled"
            assert units(order) == {"released": 1}
            assert books() == BOOKS_HOLD


@pytest.mark.usefixtures("review_rules")
def test_two_reviews_at_once_decide_once(world: World, api: Api, staff: Any) -> None:
    """Approve racing reject: the first decides, the other is told the order
    was reviewed already. The same decision twice: both answer it, the
    second changing nothing."""
    approved, rejected = (200, "approved"), (200, "rejected")
    reviewed = (409, "order_already_reviewed")
    # The race's outcome -> the hold's decision, the order's status (cash, card).
    allowed = {
        (approved, reviewed): ("approved", {"cod": "allocated", "card": "pending_payment"}),
        (reviewed, rejected): ("rejected", {"cod": "cancelled", "card": "cancelled"}),
        (approved, approved): ("approved", {"cod": "allocated", "card": "pending_payment"}),
    }
    for _round in range(ROUNDS):
        for method in ("cod", "card"):
            for decisions in (("approve", "reject"), ("approve", "approve")):
                order = place(world, method=method)
                outcomes = race(*[api.review(order, staff, d) for d in decisions])
                assert outcomes in allowed
                decision, statuses = allowed[outcomes]
                assert RiskHold.objects.get(order=order).decision == decision
                assert status(order) == statuses[method]
                assert books() == BOOKS_HOLD


def packed_cod(world: World) -> tuple[Parcel, Decimal]:
    """A packed cash-on-delivery order's parcel, labelled a day before the
    courier's scans, and the cash due on it."""
    order = allocated(world, "cod")
    (parcel,) = order_pack(order_id=order.id)
    TrackingEvent.objects.filter(parcel=parcel).update(occurred_at=SCANNED_AT - timedelta(days=1))
    return parcel, Payment.objects.get(order=order).amount


# When the courier's scans happened: in the past, whenever the test runs.
SCANNED_AT = timezone.now() - timedelta(hours=1)


def scan(parcel: Parcel, scan_id: str, event: str, due: Decimal) -> dict[str, Any]:
    cash = {"amount": str(due), "currency": "RUB"} if event == "cash_collected" else {}
    return {
        "scan_id": scan_id,
        "tracking_number": parcel.tracking_number,
        "event": event,
        "occurred_at": SCANNED_AT.isoformat(),
        **cash,
    }


def cash_outcomes(order_id: int) -> list[str]:
    return list(
        CashCollection.objects.filter(order_id=order_id)
        .order_by("outcome")
        .values_list("outcome", flat=True)
    )


def test_cash_collected_racing_cancel_keeps_the_cash(
    world: World, api: Api, courier: Courier
) -> None:
    """Outcome (scans, cancel): the cash is captured and the parcel
    delivered; a packed order can no longer be cancelled, whichever comes
    first."""
    allowed = {((200, "2 accepted, 0 duplicates, 0 rejected"), NOT_CANCELLABLE)}
    for index in range(ROUNDS):
        parcel, due = packed_cod(world)
        batch = [
            scan(parcel, f"dl-{index}", "delivered", due),
            scan(parcel, f"cash-{index}", "cash_collected", due),
        ]
        outcomes = race(api.scans(courier, batch), api.cancel(parcel.order))
        assert outcomes in allowed
        assert status(parcel.order) == "delivered"
        assert payments(parcel.order) == [P.CAPTURED]
        assert cash_outcomes(parcel.order_id) == ["captured"]
        assert books() == BOOKS_HOLD


def test_cash_collected_twice_at_once_is_counted_once(
    world: World, api: Api, courier: Courier
) -> None:
    """The same batch sent twice at once (the courier's app retrying): one
    stores the scan, the other finds it a duplicate. Two scans of the same
    cash (two devices): both are kept, the second as a repeat, and the cash
    is captured once."""
    accepted, duplicate = (
        (200, "1 accepted, 0 duplicates, 0 rejected"),
        (
            200,
            "0 accepted, 1 duplicates, 0 rejected",
        ),
    )
    for index in range(ROUNDS):
        parcel, due = packed_cod(world)
        retried = [scan(parcel, f"cash-{index}", "cash_collected", due)]
        outcomes = race(api.scans(courier, retried), api.scans(courier, retried))
        assert outcomes in {(accepted, duplicate), (duplicate, accepted)}
        assert cash_outcomes(parcel.order_id) == ["captured"]

        parcel, due = packed_cod(world)
        outcomes = race(
            api.scans(courier, [scan(parcel, f"a-{index}", "cash_collected", due)]),
            api.scans(courier, [scan(parcel, f"b-{index}", "cash_collected", due)]),
        )
        assert outcomes == (accepted, accepted)
        assert cash_outcomes(parcel.order_id) == ["captured", "repeat"]
        assert payments(parcel.order) == [P.CAPTURED]
        assert books() == BOOKS_HOLD


def receipts(order: Order) -> list[tuple[str, str]]:
    return list(Receipt.objects.filter(order=order).order_by("id").values_list("kind", "status"))


def test_sbp_pay_racing_cancel_leaves_no_money_and_no_receipt(world: World, api: Api) -> None:
    """Outcomes (cancel, SBP pay): not payable (cancelled first); or the SBP
    payment made (waiting for the buyer's bank app) and then voided by the
    cancel, its cancellation asked of the provider, whether the pay's answer
    was read before the cancel (202) or after it (cancelled during the
    payment); or voided while its charge was with the provider (nothing to
    cancel yet: an SBP payment the buyer never confirms expires there).
    Every way the order ends cancelled with no money taken, and the
    payment's receipt, if one was written, is canceled, never registered."""
    made_then_cancelled: tuple[list[str], list[tuple[str, str]]] = (
        [P.VOIDED],
        [("charge", "done"), ("cancel", "done")],
    )
    allowed: dict[tuple[Any, Any], list[tuple[list[str], list[tuple[str, str]]]]] = {
        (CANCELLED, (409, "order_not_payable")): [([], [])],
        (CANCELLED, (202, P.REQUIRES_ACTION)): [made_then_cancelled],
        (CANCELLED, (409, "order_cancelled_during_payment")): [
            made_then_cancelled,
            ([P.VOIDED], [("charge", "done")]),
        ],
    }
    for _round in range(ROUNDS * 2):
        order = place(world)
        outcomes = race(api.cancel(order), api.pay_sbp(order))
        assert outcomes in allowed
        assert (payments(order), provider_calls(order)) in allowed[outcomes]
        assert status(order) == "cancelled"
        assert units(order) == {"released": 1}
        assert books() == BOOKS_HOLD
        # The receipt waits for its payment; the sweep then finds it voided.
        Receipt.objects.filter(order=order).update(next_attempt_at=timezone.now())
        receipts_send()
        assert receipts(order) == ([("payment", "canceled")] if payments(order) else [])


def test_two_receipt_sweeps_at_once_send_each_receipt_once(
    world: World, courier: Courier, settings: Any
) -> None:
    """Cash receipts due again (as after an outage of the register), swept
    by two workers at once against a slow provider: each receipt is claimed
    by one of them and sent once."""
    orders = []
    for _index in range(4):
        parcel, due = packed_cod(world)
        orders.append(parcel.order)
        collected = cash_collect(
            order_id=parcel.order_id, amount=due, currency="RUB", courier_id=courier.id
        )
        assert collected.status == P.CAPTURED
    assert Receipt.objects.filter(status="succeeded").count() == 4
    Receipt.objects.update(
        status="pending", provider_id="", attempts=0, next_attempt_at=timezone.now()
    )
    settings.AMUR = {**settings.AMUR, "SANDBOX_LATENCY_SECONDS": 0.3}

    settled: list[int] = []
    barrier = threading.Barrier(2)

    def sweep() -> None:
        barrier.wait(timeout=REQUEST_TIMEOUT)
        try:
            settled.append(receipts_send())
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT)

    assert sum(settled) == 4
    assert set(Receipt.objects.values_list("status", "attempts")) == {("succeeded", 1)}
    assert [receipts(order) for order in orders] == [[("payment", "succeeded")]] * 4


# --- fulfilment orders of one order (issue #12) ----------------------------------


def test_two_merchants_packing_their_parts_of_one_order_at_once_keep_the_books(
    world: World, base: str
) -> None:
    """Merchant A and merchant B pack their fulfilment orders of one mixed
    order at the same moment: both wait for the order's lock, both pack,
    the order is packed once, by whichever came second; and a merchant
    packing one part twice at once packs it once."""
    from shipping.fulfilment.models import FulfilmentOrder

    tea, boot = world.products[0], world.products[1]
    staff_a = MerchantStaffFactory.create(merchant=tea.merchant).user
    staff_b = MerchantStaffFactory.create(merchant=boot.merchant).user
    token_a, token_b = token_for(staff_a), token_for(staff_b)

    def pack(token: str, part: FulfilmentOrder) -> Callable[[], Outcome]:
        path = f"/api/v1/merchant/fulfilment-orders/{part.number}/pack/"
        return lambda: post(
            base, token, path, None, lambda body: f"{body['status']} {len(body['parcels'])}"
        )

    for _round in range(ROUNDS):
        order = order_place(
            user_id=world.buyer.user_id,
            lines=[LineRequest("TEA-0001", 2), LineRequest("BOOT-0002", 1)],
            address=Address(**world.address()),
            payment_method="card",
        )
        payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
        part_a = FulfilmentOrder.objects.get(order=order, merchant=tea.merchant)
        part_b = FulfilmentOrder.objects.get(order=order, merchant=boot.merchant)

        outcomes = race(pack(token_a, part_a), pack(token_b, part_b), pack(token_a, part_a))

        assert outcomes[1] == (201, "packed 1")
        assert sorted([outcomes[0], outcomes[2]]) == [
            (201, "packed 1"),
            (409, "fulfilment_order_not_packable"),
        ]
        assert status(order) == "packed"
        assert units(order) == {"picked": 3}
        assert dict(
            Parcel.objects.filter(order=order)
            .values_list("fulfilment_order__merchant_id")
            .annotate(n=Count("id"))
            .order_by()
        ) == {tea.merchant_id: 1, boot.merchant_id: 1}
        assert list(
            order.events.filter(to_status="packed").values_list("from_status", flat=True)
        ) == ["allocated"]
        assert sorted(
            FulfilmentOrder.objects.filter(order=order).values_list("status", "event_seq")
        ) == [("packed", 3), ("packed", 3)]
        assert books() == BOOKS_HOLD


def notify(base: str, body: dict[str, Any], msg_id: str) -> Outcome:
    """The provider's signed notification, as the sandbox signs it."""
    raw = json.dumps(body).encode()
    headers = headers_build(secret=SECRET, msg_id=msg_id, timestamp=int(time.time()), body=raw)
    response = requests.post(
        base + "/api/v1/payments/webhooks/sandbox/",
        data=raw,
        headers={**headers, "Content-Type": "application/json"},
        timeout=REQUEST_TIMEOUT,
    )
    if response.status_code >= 500:
        return response.status_code, response.text[:200]
    data = response.json()
    return response.status_code, str(
        data["code"] if response.status_code >= 400 else data["outcome"]
    )


def refund_request(base: str, staff: Any, payment: Payment, amount: str, key: str) -> Outcome:
    response = requests.post(
        f"{base}/api/v1/ops/payments/{payment.id}/refund/",
        json={"amount": amount, "reason": "damaged in transit"},
        headers={"Authorization": f"Token {token_for(staff)}", "Idempotency-Key": key},
        timeout=REQUEST_TIMEOUT,
    )
    if response.status_code >= 500:
        return response.status_code, response.text[:200]
    data = response.json()
    return response.status_code, str(data["code"] if response.status_code >= 400 else "refund")


def test_a_chargeback_sent_twice_racing_a_refund_takes_the_money_back_once(
    world: World, api: Api, staff: Any
) -> None:
    """Outcome (chargeback, the same chargeback resent, a 300 RUB refund):
    the bank takes back what is left once, the resend changes nothing, and
    the refund goes first or is refused; every refund has its receipt and
    the ledger balances."""
    charged_back, unchanged = (200, "charged_back"), (200, "unchanged")
    refunded, refused = (201, "refund"), (409, "payment_not_refundable")
    for index in range(ROUNDS):
        order = allocated(world, "card")
        payment = Payment.objects.get(order=order)
        body = {
            "type": "payment.charged_back",
            "data": {
                "reference": payment.provider_reference,
                "status": "charged_back",
                "decline_code": "",
                "amount": str(payment.amount),
                "currency": payment.currency,
                "chargeback_reference": f"cb-race-{index}",
                "reason": "fraud",
            },
        }
        outcomes = race(
            functools.partial(notify, api.base, body, f"msg-cb-{index}-a"),
            functools.partial(notify, api.base, body, f"msg-cb-{index}-b"),
            functools.partial(
                refund_request, api.base, staff, payment, "300.00", f"rf-race-{index}"
            ),
        )
        first, second, refund = outcomes
        assert {first, second} == {charged_back, unchanged}, outcomes
        assert refund in (refunded, refused), outcomes
        payment.refresh_from_db()
        assert (payment.status, payment.refunded_amount) == (P.CHARGED_BACK, payment.amount)
        refunds = list(Refund.objects.filter(payment=payment).order_by("id"))
        assert [r.method for r in refunds] == (
            ["card", "chargeback"] if refund == refunded else ["chargeback"]
        )
        assert sum(r.amount for r in refunds) == payment.amount
        # One refund receipt per refund, for its own money.
        assert sorted(
            Receipt.objects.filter(payment=payment, kind="refund").values_list(
                "refund_id", "amount"
            )
        ) == [(r.id, r.amount) for r in refunds]
        assert books() == BOOKS_HOLD

"""The payments ledger: postings balance, a capture's entries to the kopek,
refunds reverse captures in proportion, and a property test over random
histories of paying, cancelling, collecting cash, refunding, delivering and
settling (releasing merchants' payables after the returns window).

The identities checked after every step of the property test, with f the
platform fee rate and amounts in kopeks:

1. Every ledger transaction balances (debits = credits), and so does the
   whole ledger.
2. For each captured payment p of an order with goods G_p, merchant m's line
   total c_{p,m} out of c_p (CNY), shipping S_p and duty D_p, the capture
   credits exactly n_{p,m} = floor((1 - f) * G_p * c_{p,m} / c_p) to
   merchant_payable for m, G_p - sum_m n_{p,m} to platform_fee (the fee plus
   the rounding remainder), S_p to shipping_revenue and D_p to duty_payable,
   and debits the payment amount P_p = G_p + S_p + D_p to
   buyer_payments_in_transit (card) or courier_cash_in_hand (cash).
3. With R_p refunded so far, each of those components' refund debits rho
   satisfy floor(n * R_p / P_p) - 1 <= rho <= ceil(n * R_p / P_p), add up to
   R_p, and equal n exactly once R_p = P_p.
4. merchant_payable for m = sum over captured p of (n_{p,m} - rho_{p,m}),
   i.e. captured goods share less fees less the refunds' share; platform_fee,
   shipping_revenue and duty_payable likewise. buyer_payments_in_transit =
   sum over card payments of (P - R); courier_cash_in_hand = sum over cash
   payments of P; refunds_payable = sum over cash payments of R.
5. No refund exceeds its capture: sum of refunds = refunded_amount <= amount;
   the payment is refunded exactly when everything is, partially refunded
   when some is; a cancelled order keeps no captured or open payment.
6. Settlement. An order is released exactly once, and only when it was
   delivered at least RETURNS_WINDOW_DAYS before the release's `now` and
   still held something: the release moves L_{o,m}, exactly what
   merchant_payable held for m on the order, to merchant_payable_released.
   After it the order holds nothing (refunds before the release took
   n - L), and later refunds debit the released payable, never below zero.
   For every merchant, held + released = captured - refunds - fees
   (sum of n - rho), so identity 4 holds for the two accounts together.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor
from typing import Any

import pytest
from django.conf import settings
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from commands.cancel import order_cancel
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from commands.refunds import payment_refund
from commands.scans import cash_collect as payment_cod_collect
from core.cache import reference_caches_clear
from core.errors import Conflict, InvalidTransition, Unprocessable
from orders.models import Order, OrderStatus
from orders.services import Address, orders_transition
from payments.ledger import LedgerPostingError, ledger_post
from payments.models import LedgerAccount, LedgerEntry, LedgerTransaction, Payment, Refund
from payments.rates import rate_record
from payments.settlement import payables_release
from payments.splits import refund_split
from shipping.customs.models import DutyRule
from tests.conftest import World
from warehouses.services import OutOfStock

D = Decimal
SETTLED = (Payment.Status.CAPTURED, Payment.Status.PARTIALLY_REFUNDED, Payment.Status.REFUNDED)
COMPONENT_ACCOUNTS = ("merchant_payable", "platform_fee", "shipping_revenue", "duty_payable")
RELEASED = "merchant_payable_released"
ON_THE_WAY = (OrderStatus.ALLOCATED, OrderStatus.PACKED, OrderStatus.IN_TRANSIT)
Component = tuple[str, int | None]


def kopeks(amount: Decimal) -> int:
    return int(amount * 100)


def set_rates(cny: str, eur: str = "92.0000") -> None:
    today = timezone.now().date()
    rate_record(currency="CNY", on=today, rate_to_rub=D(cny), source="test")
    rate_record(currency="EUR", on=today, rate_to_rub=D(eur), source="test")


def place(
    world: World, *lines: tuple[str, int], method: str = "card", region: str = "RU-SVE"
) -> Order:
    return order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        address=Address(**world.address(region)),
        payment_method=method,
    )


def entries(**filters: Any) -> list[tuple[str, int | None, Decimal, Decimal]]:
    return list(
        LedgerEntry.objects.filter(**filters)
        .order_by("id")
        .values_list("account__code", "merchant_id", "debit", "credit")
    )


def counts() -> dict[str, int]:
    return {
        m.__name__: m._default_manager.count()
        for m in (LedgerTransaction, LedgerEntry, Refund, Payment)
    }


# --- ledger_post -------------------------------------------------------------


def test_ledger_post_writes_a_balanced_transaction(db: Any) -> None:
    posted = ledger_post(
        kind="capture",
        lines=[
            ("buyer_payments_in_transit", D("100.00"), D("0"), None),
            ("platform_fee", D("0"), D("30.01"), None),
            ("shipping_revenue", D("0"), D("69.99"), None),
        ],
        memo="test",
    )
    assert entries(transaction=posted) == [
        ("buyer_payments_in_transit", None, D("100.00"), D("0.00")),
        ("platform_fee", None, D("0.00"), D("30.01")),
        ("shipping_revenue", None, D("0.00"), D("69.99")),
    ]
    assert set(LedgerEntry.objects.values_list("currency", flat=True)) == {"RUB"}


BAD_POSTINGS = [
    (
        "unbalanced by a kopek",
        [
            ("buyer_payments_in_transit", D("100.00"), D(0), None),
            ("platform_fee", D(0), D("99.99"), None),
        ],
    ),
    ("one line", [("buyer_payments_in_transit", D("100.00"), D(0), None)]),
    ("no lines", []),
    (
        "both sides on a line",
        [
            ("buyer_payments_in_transit", D("1.00"), D("1.00"), None),
            ("platform_fee", D(0), D(0), None),
        ],
    ),
    (
        "a negative debit",
        [
            ("buyer_payments_in_transit", D("-1.00"), D(0), None),
            ("platform_fee", D(0), D("-1.00"), None),
        ],
    ),
    (
        "a fraction of a kopek",
        [
            ("buyer_payments_in_transit", D("1.005"), D(0), None),
            ("platform_fee", D(0), D("1.005"), None),
        ],
    ),
    (
        "merchant_payable without a merchant",
        [
            ("buyer_payments_in_transit", D("1.00"), D(0), None),
            ("merchant_payable", D(0), D("1.00"), None),
        ],
    ),
    (
        "a merchant on a platform account",
        [
            ("buyer_payments_in_transit", D("1.00"), D(0), 1),
            ("platform_fee", D(0), D("1.00"), None),
        ],
    ),
    (
        "an unknown account",
        [
            ("buyer_payments_in_transit", D("1.00"), D(0), None),
            ("petty_cash", D(0), D("1.00"), None),
        ],
    ),
    (
        "a float amount",
        [("buyer_payments_in_transit", 1.0, D(0), None), ("platform_fee", D(0), 1.0, None)],
    ),
]


@pytest.mark.parametrize(("case", "lines"), BAD_POSTINGS, ids=[c[0] for c in BAD_POSTINGS])
def test_ledger_post_refuses_bad_postings_and_writes_nothing(
    db: Any, case: str, lines: list[Any]
) -> None:
    before = counts()
    with pytest.raises(LedgerPostingError):
        ledger_post(kind="capture", lines=lines)
    assert counts() == before


def test_ledger_post_refuses_an_unknown_kind(db: Any) -> None:
    with pytest.raises(LedgerPostingError):
        ledger_post(
            kind="gift",
            lines=[
                ("buyer_payments_in_transit", D("1.00"), D(0), None),
                ("platform_fee", D(0), D("1.00"), None),
            ],
        )


def test_ledger_post_is_rolled_back_with_the_callers_transaction(db: Any) -> None:
    before = counts()
    with pytest.raises(RuntimeError), transaction.atomic():
        ledger_post(
            kind="capture",
            lines=[
                ("buyer_payments_in_transit", D("1.00"), D(0), None),
                ("platform_fee", D(0), D("1.00"), None),
            ],
        )
        raise RuntimeError("the money movement failed")
    assert counts() == before


@pytest.mark.parametrize(
    ("debit", "credit"), [(D("1.00"), D("1.00")), (D(0), D(0)), (D("-1.00"), D(0))]
)
def test_the_database_refuses_an_entry_without_exactly_one_positive_side(
    db: Any, debit: Decimal, credit: Decimal
) -> None:
    posted = LedgerTransaction.objects.create(kind="capture")
    account = LedgerAccount.objects.get(code="platform_fee")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.create(
            transaction=posted, account=account, debit=debit, credit=credit, currency="RUB"
        )


def test_the_chart_of_accounts_comes_from_the_data_migration(db: Any) -> None:
    assert dict(LedgerAccount.objects.values_list("code", "kind")) == {
        "buyer_payments_in_transit": "asset",
        "courier_cash_in_hand": "asset",
        "merchant_payable": "liability",
        "merchant_payable_released": "liability",
        "duty_payable": "liability",
        "refunds_payable": "liability",
        "shipping_revenue": "revenue",
        "platform_fee": "revenue",
        "fx_difference": "expense",
        "cash_at_operator": "asset",
        "cod_cash_unmatched": "liability",
    }
    assert list(LedgerAccount.objects.filter(per_merchant=True).values_list("code", flat=True)) == [
        "merchant_payable",
        "merchant_payable_released",
    ]


# --- posting rules -------------------------------------------------------------


@pytest.fixture
def three_merchant_order(world: World) -> Order:
    """1 tea (98 CNY), 1 pair of boots (329 CNY), 2 phones (2 x 1299 CNY),
    each product from its own merchant, at 11.0437 RUB per CNY, with the
    2020 duty rule (15 % over EUR 200) the figures below were worked with."""
    set_rates("11.0437")
    DutyRule.objects.create(
        valid_from=timezone.now().date(),
        value_threshold_eur=D("200"),
        weight_threshold_kg=D("31"),
        rate=D("0.15"),
        min_eur_per_kg=D("2"),
    )
    reference_caches_clear()
    order = place(world, ("TEA-0001", 1), ("BOOT-0002", 1), ("PHONE-0003", 2))
    assert (order.goods_cny, order.goods_rub, order.shipping_rub, order.duty_rub) == (
        D("3025.00"),
        D("33407.19"),  # 3025 * 11.0437 = 33407.1925
        D("1617.90"),
        D("2251.24"),
    )
    assert order.total_rub == D("37276.33")
    return order


def test_a_card_capture_posts_exact_entries(world: World, three_merchant_order: Order) -> None:
    order = three_merchant_order
    tea, boots, phone = (p.merchant_id for p in world.products)
    payment = payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    posted = LedgerTransaction.objects.get()
    assert (posted.kind, posted.order_id, posted.payment_id) == ("capture", order.id, payment.id)
    # Merchant shares: floor(0.95 * 33407.19 * line total / 3025) to the kopek:
    #   tea    0.95 * 33407.19 *   98 / 3025 =  1028.1684 ->  1028.16
    #   boots  0.95 * 33407.19 *  329 / 3025 =  3451.7082 ->  3451.70
    #   phones 0.95 * 33407.19 * 2598 / 3025 = 27256.9539 -> 27256.95
    # Platform fee: 33407.19 - 31736.81 = 1670.38 (5 % is 1670.3595; the
    # rounding remainder, 2.05 kopeks, lands on the fee).
    assert entries(transaction=posted) == [
        ("buyer_payments_in_transit", None, D("37276.33"), D("0.00")),
        ("merchant_payable", tea, D("0.00"), D("1028.16")),
        ("merchant_payable", boots, D("0.00"), D("3451.70")),
        ("merchant_payable", phone, D("0.00"), D("27256.95")),
        ("platform_fee", None, D("0.00"), D("1670.38")),
        ("shipping_revenue", None, D("0.00"), D("1617.90")),
        ("duty_payable", None, D("0.00"), D("2251.24")),
    ]


def test_a_declined_card_posts_nothing(world: World) -> None:
    order = place(world, ("TEA-0001", 1))
    payment_card_charge(order_id=order.id, token="tok_decline", actor_id=None)
    assert LedgerTransaction.objects.count() == 0


def test_a_partial_refund_reverses_the_capture_in_proportion_to_the_kopek(
    world: World, three_merchant_order: Order
) -> None:
    order = three_merchant_order
    tea, boots, phone = (p.merchant_id for p in world.products)
    payment = payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    refund = payment_refund(
        payment_id=payment.id, amount=D("10000.00"), reason="two items returned", actor_id=None
    )
    posted = LedgerTransaction.objects.get(kind="refund")
    # Each component's exact share is captured * 10000.00 / 37276.33; each
    # takes its floor and the 3 kopeks left go to the largest fractions of a
    # kopek: shipping (.878), the fee (.742) and the boots (.635).
    assert entries(transaction=posted) == [
        ("merchant_payable", tea, D("275.82"), D("0.00")),  # 275.82114
        ("merchant_payable", boots, D("925.98"), D("0.00")),  # 925.97635
        ("merchant_payable", phone, D("7312.13"), D("0.00")),  # 7312.13346
        ("platform_fee", None, D("448.11"), D("0.00")),  # 448.10742
        ("shipping_revenue", None, D("434.03"), D("0.00")),  # 434.02878
        ("duty_payable", None, D("603.93"), D("0.00")),  # 603.93284
        ("buyer_payments_in_transit", None, D("0.00"), D("10000.00")),
    ]
    assert refund.method == "card"
    # The rest, in full: every account nets to zero for this payment.
    payment_refund(payment_id=payment.id, amount=D("27276.33"), reason="the rest", actor_id=None)
    assert balances(payment_id=payment.id) == {}


def balances(**filters: Any) -> dict[Component, Decimal]:
    """Credit minus debit per (account, merchant), leaving out zero balances."""
    out: dict[Component, Decimal] = defaultdict(Decimal)
    for code, merchant_id, debit, credit in entries(
        **{f"transaction__{k}": v for k, v in filters.items()}
    ):
        out[(code, merchant_id)] += credit - debit
    return {k: v for k, v in out.items() if v}


def test_cash_on_delivery_posts_nothing_until_the_cash_is_collected(world: World) -> None:
    order = place(world, ("TEA-0001", 1), method="cod")
    payment = Payment.objects.get(order=order)
    assert payment.status == "awaiting_cash"
    assert LedgerTransaction.objects.count() == 0
    collected = payment_cod_collect(
        order_id=order.id, amount=payment.amount, currency="RUB", courier_id=7
    )
    assert collected.status == "captured" and collected.captured_at is not None
    posted = LedgerTransaction.objects.get()
    assert posted.kind == "cod_collection"
    lines = entries(transaction=posted)
    # 98 CNY * 11 = 1078.00 goods; 5 % fee 53.90; shipping 423.50.
    assert lines == [
        ("courier_cash_in_hand", None, D("1501.50"), D("0.00")),
        ("merchant_payable", world.products[0].merchant_id, D("0.00"), D("1024.10")),
        ("platform_fee", None, D("0.00"), D("53.90")),
        ("shipping_revenue", None, D("0.00"), D("423.50")),
    ]
    event = collected.events.order_by("id").last()
    assert event is not None and (event.kind, event.data["courier_id"]) == ("captured", 7)
    # The courier's scan is retried: nothing more is posted.
    again = payment_cod_collect(
        order_id=order.id, amount=payment.amount, currency="RUB", courier_id=7
    )
    assert again.id == payment.id and LedgerTransaction.objects.count() == 1


def test_cash_collection_refuses_a_wrong_amount_and_card_orders(world: World) -> None:
    order = place(world, ("TEA-0001", 1), method="cod")
    before = counts()
    with pytest.raises(Unprocessable) as wrong:
        payment_cod_collect(order_id=order.id, amount=D("1500.00"), currency="RUB", courier_id=1)
    assert wrong.value.code == "cod_amount_mismatch"
    card = place(world, ("TEA-0001", 1))
    with pytest.raises(Conflict) as not_cod:
        payment_cod_collect(order_id=card.id, amount=D("1501.50"), currency="RUB", courier_id=1)
    assert not_cod.value.code == "not_cod_order"
    order_cancel(order_id=order.id, actor_id=None)  # voids the cash-on-delivery payment
    with pytest.raises(InvalidTransition):
        payment_cod_collect(order_id=order.id, amount=D("1501.50"), currency="RUB", courier_id=1)
    assert counts() == before


# --- the refund split, on its own ---------------------------------------------


@hsettings(max_examples=300, deadline=None)
@given(
    captured=st.lists(st.integers(0, 10**7), min_size=1, max_size=6).filter(lambda c: sum(c) > 0),
    cuts=st.lists(st.floats(0.0001, 1.0), min_size=1, max_size=12),
)
def test_refund_split_stays_proportional_and_returns_everything_at_the_end(
    captured: list[int], cuts: list[float]
) -> None:
    parts = dict(enumerate(captured))
    total = sum(captured)
    refunded = dict.fromkeys(parts, 0)
    done = 0
    for cut in [*cuts, 1.0]:
        if done == total:
            break
        amount = max(1, min(total - done, round((total - done) * cut)))
        shares = refund_split(captured=parts, refunded=refunded, amount=amount)
        assert sum(shares.values()) == amount
        assert all(share >= 0 for share in shares.values())
        done += amount
        for k, share in shares.items():
            refunded[k] += share
            exact = Fraction(parts[k] * done, total)
            assert floor(exact) - 1 <= refunded[k] <= ceil(exact), (k, refunded, done)
    assert done == total
    assert refunded == parts


# --- the property test ---------------------------------------------------------


def expected_capture(order: Order, fee_rate: Decimal) -> dict[Component, int]:
    """Identity 2, computed here independently of payments.ledger."""
    weights: dict[int, Fraction] = defaultdict(Fraction)
    for line in order.lines.all():
        weights[line.merchant_id] += Fraction(line.line_total_cny)
    goods = kopeks(order.goods_rub)
    total = sum(weights.values())
    keep = 1 - Fraction(fee_rate)
    nets = {m: floor(goods * w / total * keep) for m, w in weights.items()}
    parts: dict[Component, int] = {("merchant_payable", m): n for m, n in nets.items()}
    parts[("platform_fee", None)] = goods - sum(nets.values())
    parts[("shipping_revenue", None)] = kopeks(order.shipping_rub)
    parts[("duty_payable", None)] = kopeks(order.duty_rub)
    return {k: v for k, v in parts.items() if v}


SKUS = ("TEA-0001", "BOOT-0002", "PHONE-0003")


class PaymentHistories(RuleBasedStateMachine):
    """Random orders paid by card or cash, cancelled, refunded in part and in
    full. Each run is one database transaction, rolled back at the end."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.orders: list[int] = []
        self.fee_rate = D("0.05")
        self.expected: dict[int, dict[Component, int]] = {}  # payment id -> capture
        self.released: dict[int, dict[int, int]] = {}  # order id -> merchant -> released
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.override: Any = None

    def teardown(self) -> None:
        if self.override is not None:
            self.override.disable()
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    @initialize(
        cny=st.sampled_from(["11.0000", "11.0437", "10.9999", "12.3457"]),
        fee=st.sampled_from(["0", "0.05", "0.033", "0.1275"]),
    )
    def setup(self, cny: str, fee: str) -> None:
        set_rates(cny, "92.1234")
        self.fee_rate = D(fee)
        self.override = override_settings(AMUR={**settings.AMUR, "PLATFORM_FEE_RATE": D(fee)})
        self.override.enable()

    def _order(self, i: int, **filters: Any) -> Order | None:
        """The i-th (modulo) of the orders that match, so that rules act on
        orders where they can do something, and sometimes where they cannot."""
        candidates = list(Order.objects.filter(**filters).order_by("id"))
        return candidates[i % len(candidates)] if candidates else None

    def _payment(self, i: int, **filters: Any) -> Payment | None:
        candidates = list(Payment.objects.filter(**filters).order_by("id"))
        return candidates[i % len(candidates)] if candidates else None

    @precondition(lambda self: len(self.orders) < 8)
    @rule(
        lines=st.lists(
            st.tuples(st.sampled_from(SKUS), st.integers(1, 3)),
            min_size=1,
            max_size=3,
            unique_by=lambda line: line[0],
        ),
        cod=st.booleans(),
        region=st.sampled_from(["RU-SVE", "RU-PRI"]),
    )
    def place_order(self, lines: list[tuple[str, int]], cod: bool, region: str) -> None:
        try:
            order = place(self.world, *lines, method="cod" if cod else "card", region=region)
        except OutOfStock:
            return
        self.orders.append(order.id)

    @precondition(lambda self: self.orders)
    @rule(
        i=st.integers(0, 100),
        token=st.sampled_from(["tok_approve", "tok_mir_approve", "tok_decline"]),
        pending=st.sampled_from([True, True, False]),
    )
    def pay(self, i: int, token: str, pending: bool) -> None:
        """Pay a card order awaiting payment, or (a third of the time) any order."""
        order = self._order(i, status=OrderStatus.PENDING_PAYMENT) if pending else self._order(i)
        if order is None:
            return
        try:
            payment = payment_card_charge(order_id=order.id, token=token, actor_id=None)
        except Conflict as error:
            assert error.code in ("order_not_payable", "not_card_order")
            return
        if payment.status == Payment.Status.CAPTURED:
            self.expected[payment.id] = expected_capture(order, self.fee_rate)

    @precondition(lambda self: Payment.objects.filter(status="awaiting_cash").exists())
    @rule(i=st.integers(0, 100))
    def collect_cash(self, i: int) -> None:
        payment = self._payment(i, status="awaiting_cash")
        if payment is None:
            return
        order = payment.order
        payment_cod_collect(
            order_id=order.id, amount=payment.amount, currency=payment.currency, courier_id=1
        )
        self.expected[payment.id] = expected_capture(order, self.fee_rate)

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 100))
    def cancel(self, i: int) -> None:
        order = self._order(i)
        assert order is not None
        try:
            order_cancel(order_id=order.id, actor_id=None, reason="property test")
        except Conflict as error:
            assert error.code == "order_not_cancellable"

    @precondition(lambda self: Payment.objects.filter(status__in=SETTLED).exists())
    @rule(
        i=st.integers(0, 100),
        percent=st.integers(1, 99),
        tiny=st.one_of(st.none(), st.integers(1, 100)),
        too_much=st.booleans(),
    )
    def refund_part(self, i: int, percent: int, tiny: int | None, too_much: bool) -> None:
        """Refund a share of what is left (or a few kopeks), or try to refund
        more than is left."""
        payment = self._payment(i, status__in=SETTLED)
        if payment is None:
            return
        left = payment.amount - payment.refunded_amount
        if too_much or left == 0:
            before = counts()
            with pytest.raises(Unprocessable) as refused:
                payment_refund(
                    payment_id=payment.id,
                    amount=left + D(tiny or percent) / 100,
                    reason="too much",
                    actor_id=None,
                )
            assert refused.value.code == "refund_exceeds_capture"
            assert counts() == before
            return
        if tiny is not None:
            amount = min(D(tiny) / 100, left)
        else:
            amount = max(D("0.01"), (left * percent / 100).quantize(D("0.01")))
        payment_refund(payment_id=payment.id, amount=amount, reason="partial", actor_id=None)

    @precondition(lambda self: Payment.objects.filter(status__in=SETTLED).exists())
    @rule(i=st.integers(0, 100))
    def refund_rest(self, i: int) -> None:
        payment = self._payment(i, status__in=SETTLED)
        if payment is None or payment.refunded_amount == payment.amount:
            return
        left = payment.amount - payment.refunded_amount
        payment_refund(payment_id=payment.id, amount=left, reason="in full", actor_id=None)

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 100))
    def deliver(self, i: int) -> None:
        """Carry an allocated order through to the buyer's door."""
        order = self._order(i, status__in=ON_THE_WAY)
        if order is None:
            return
        for status in ON_THE_WAY[ON_THE_WAY.index(OrderStatus(order.status)) + 1 :]:
            orders_transition(order_ids=[order.id], to=status, reason="property test")
        orders_transition(order_ids=[order.id], to=OrderStatus.DELIVERED, reason="property test")

    @precondition(lambda self: Order.objects.filter(status=OrderStatus.DELIVERED).exists())
    @rule(days=st.integers(0, 30))
    def settle(self, days: int) -> None:
        """Run the release `days` from now: orders whose returns window has
        closed by then are released, once, for what they still hold."""
        now = timezone.now() + timedelta(days=days)
        window = timedelta(days=settings.AMUR["RETURNS_WINDOW_DAYS"])
        due: dict[int, dict[int, int]] = {}
        for order in Order.objects.filter(status=OrderStatus.DELIVERED).exclude(
            id__in=list(self.released)
        ):
            assert order.delivered_at is not None
            held = {
                m: n
                for (code, m), n in balances(order_id=order.id).items()
                if code == "merchant_payable"
            }
            if order.delivered_at + window <= now and any(held.values()):
                assert all(n > 0 for n in held.values()), held
                due[order.id] = {m: kopeks(n) for m, n in held.items() if m is not None}
        assert sorted(payables_release(now=now)) == sorted(due)
        self.released.update(due)
        assert payables_release(now=now) == []

    @invariant()
    def ledger_identities_hold(self) -> None:
        check_ledger(self.expected, self.released)


def check_ledger(
    expected: dict[int, dict[Component, int]], released: dict[int, dict[int, int]] | None = None
) -> None:
    released = released or {}
    rows = list(
        LedgerEntry.objects.values_list(
            "transaction_id",
            "transaction__kind",
            "transaction__payment_id",
            "transaction__order_id",
            "account__code",
            "merchant_id",
            "debit",
            "credit",
        )
    )
    # 1. Every transaction balances, and so does the ledger.
    per_txn: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for txn, _kind, _pay, _order, _code, _m, debit, credit in rows:
        per_txn[txn][0] += kopeks(debit)
        per_txn[txn][1] += kopeks(credit)
        per_txn[txn][2] += 1
    assert all(d == c and n >= 2 for d, c, n in per_txn.values()), per_txn
    assert sum(kopeks(r[6]) for r in rows) == sum(kopeks(r[7]) for r in rows)
    assert set(per_txn) == set(LedgerTransaction.objects.values_list("id", flat=True))

    captured: dict[int, dict[Component, int]] = defaultdict(dict)
    asset_in: dict[int, tuple[str, int]] = {}
    refunded: dict[int, dict[Component, int]] = defaultdict(lambda: defaultdict(int))
    balance: dict[Component, int] = defaultdict(int)
    release_moves: dict[int, dict[Component, int]] = defaultdict(lambda: defaultdict(int))
    clawed: dict[int, dict[int | None, int]] = defaultdict(lambda: defaultdict(int))
    for _txn, kind, pay, order_id, code, merchant_id, debit, credit in rows:
        net = kopeks(credit) - kopeks(debit)
        balance[(code, merchant_id)] += net
        if kind == "payable_release":
            assert pay is None
            release_moves[order_id][(code, merchant_id)] += net
            continue
        if code == RELEASED:
            # A refund after the release: the merchant's share comes back
            # from the released payable.
            assert kind == "refund"
            clawed[order_id][merchant_id] -= net
            code = "merchant_payable"
        if code not in COMPONENT_ACCOUNTS:
            if kind != "refund":
                asset_in[pay] = (code, -net)
            continue
        if kind == "refund":
            refunded[pay][(code, merchant_id)] -= net
        else:
            captured[pay][(code, merchant_id)] = net

    # 6. One release per order, of exactly what it held, and only when due.
    assert {
        order_id: {k: v for k, v in moves.items() if v} for order_id, moves in release_moves.items()
    } == {
        order_id: {
            **{("merchant_payable", m): -n for m, n in held.items()},
            **{(RELEASED, m): n for m, n in held.items()},
        }
        for order_id, held in released.items()
    }
    assert sorted(
        LedgerTransaction.objects.filter(kind="payable_release").values_list("order_id", flat=True)
    ) == sorted(released)
    assert set(clawed) <= set(released)

    payments = {p.id: p for p in Payment.objects.all()}
    refund_sums: dict[int, int] = defaultdict(int)
    for payment_id, amount in Refund.objects.values_list("payment_id", "amount"):
        refund_sums[payment_id] += kopeks(amount)
    expected_balance: dict[Component, int] = defaultdict(int)
    for payment in payments.values():
        total, back = kopeks(payment.amount), kopeks(payment.refunded_amount)
        # 5. No refund exceeds its capture; the status follows the amounts.
        assert refund_sums[payment.id] == back <= total
        if payment.status in SETTLED:
            assert payment.status == (
                "refunded" if back == total else "partially_refunded" if back else "captured"
            )
        else:
            assert back == 0 and payment.id not in captured and payment.id not in refunded
            # A declined attempt may precede the one that paid a released order.
            assert payment.order_id not in released or any(
                other.order_id == payment.order_id and other.status in SETTLED
                for other in payments.values()
            )
            continue
        # 2. The capture, exactly.
        assert captured[payment.id] == expected[payment.id]
        cash = payment.method == "cod"
        assert asset_in[payment.id] == (
            "courier_cash_in_hand" if cash else "buyer_payments_in_transit",
            total,
        )
        # 3. The refunds' share of each component.
        shares = refunded.get(payment.id, {})
        assert set(shares) <= set(expected[payment.id])
        assert sum(shares.values()) == back
        held_out = released.get(payment.order_id, {})
        for component, n in expected[payment.id].items():
            rho = shares.get(component, 0)
            exact = Fraction(n * back, total)
            assert floor(exact) - 1 <= rho <= ceil(exact), (component, n, rho, back, total)
            if back == total:
                assert rho == n
            code, owner = component
            if code == "merchant_payable" and payment.order_id in released:
                # 6. Released: held + released = n - rho, nothing left held,
                # and refunds after the release never take it below zero.
                out = held_out.get(owner or 0, 0)
                after = clawed[payment.order_id][owner]
                assert rho - after == n - out, (component, n, rho, out, after)
                assert 0 <= after <= out
                expected_balance[(RELEASED, owner)] += out - after
                expected_balance[component] += n - rho - (out - after)
            else:
                expected_balance[component] += n - rho
        asset = "courier_cash_in_hand" if cash else "buyer_payments_in_transit"
        expected_balance[(asset, None)] -= total if cash else total - back
        if cash:
            expected_balance[("refunds_payable", None)] += back
    # 4. Account balances (credit - debit; assets negative).
    assert {k: v for k, v in balance.items() if v} == {
        k: v for k, v in expected_balance.items() if v
    }
    # A cancelled order keeps no captured or open payment.
    assert not Payment.objects.filter(
        order__status=OrderStatus.CANCELLED,
        status__in=["captured", "partially_refunded", "awaiting_cash"],
    ).exists()


def test_random_payment_histories_keep_the_ledger_balanced(world: World) -> None:
    class InThisWorld(PaymentHistories):
        def __init__(self) -> None:
            super().__init__(world)

    run_state_machine_as_test(
        InThisWorld,
        settings=hsettings(
            max_examples=40,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )


# --- admin -------------------------------------------------------------------------


def test_the_ledger_admin_is_read_only_and_kept_from_merchant_staff(world: World) -> None:
    from django.contrib import admin
    from django.contrib.auth.models import Permission
    from django.test import Client, RequestFactory

    from tests.factories import MerchantStaffFactory, UserFactory

    payment = payment_card_charge(
        order_id=place(world, ("TEA-0001", 1), ("BOOT-0002", 1)).id,
        token="tok_approve",
        actor_id=None,
    )
    payment_refund(payment_id=payment.id, amount=D("10.00"), reason="dent", actor_id=None)
    superuser = UserFactory.create(email="root@amur.example", is_staff=True, is_superuser=True)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    for model in (LedgerAccount, LedgerTransaction, LedgerEntry, Refund):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)

    tea_merchant = world.products[0].merchant
    staff = MerchantStaffFactory.create(merchant=tea_merchant).user
    staff.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_ledgeraccount", "view_ledgertransaction", "view_ledgerentry"]
        )
    )
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/payments/ledgertransaction/").status_code == 403
    assert client.get("/admin/payments/ledgeraccount/").status_code == 403
    page = client.get("/admin/payments/ledgerentry/")
    assert page.status_code == 200
    # Only their own sub-ledger: the capture's credit and the refund's debit.
    assert page.context["cl"].result_count == 2
    assert set(page.context["cl"].queryset.values_list("merchant_id", flat=True)) == {
        tea_merchant.id
    }


def test_missing_accounts_are_recreated_from_the_chart(world: World) -> None:
    # A transactional test's flush empties the chart the data migration wrote.
    LedgerAccount.objects.all().delete()
    order = place(world, ("TEA-0001", 1))
    payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    assert LedgerAccount.objects.count() == 11
    assert LedgerTransaction.objects.get().entries.count() == 4

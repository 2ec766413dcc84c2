"""The double-entry ledger: the chart of accounts, `ledger_post` (the only
writer of ledger rows) and the posting rules for captures, cash collected on
delivery and refunds. Postings are written in the caller's transaction, the
one that moves the money.

Posting rules (debit = Dr, credit = Cr):

- card capture: Dr buyer_payments_in_transit (the total); Cr merchant_payable
  per merchant (its goods share less the platform fee), Cr platform_fee,
  Cr shipping_revenue (shipping), Cr duty_payable (duty).
- cash collected on delivery: Dr courier_cash_in_hand; the same credits.
- refund: Dr the capture's credit accounts, each in proportion to the refund
  (a refund of returned goods: the returning merchants' payables and the
  platform fee, split as a capture splits goods);
  Cr buyer_payments_in_transit (card, back through the acquirer) or
  Cr refunds_payable (bank transfer owed to the buyer). A chargeback (the
  card's bank takes back what is left of the payment) posts like a card
  refund under its own kind, `chargeback`. Once the order's
  payable is released, the merchants' share is debited to
  merchant_payable_released instead: the merchant owes it back, and it comes
  off the next payout.
- release, the returns window after delivery (payments/settlement.py):
  Dr merchant_payable, Cr merchant_payable_released per merchant, for what is
  still held on the order.
- cash collected that does not match the cash due: Dr courier_cash_in_hand,
  Cr cod_cash_unmatched (held until the reconciliation is resolved).
- courier remittance: Dr cash_at_operator, Cr courier_cash_in_hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from orders.models import Order, OrderLine
from payments.models import LedgerAccount, LedgerEntry, LedgerTransaction, Payment, Refund
from payments.splits import from_minor, merchant_net_shares, refund_split, to_minor

BUYER_PAYMENTS_IN_TRANSIT = "buyer_payments_in_transit"
COURIER_CASH_IN_HAND = "courier_cash_in_hand"
MERCHANT_PAYABLE = "merchant_payable"
MERCHANT_PAYABLE_RELEASED = "merchant_payable_released"
DUTY_PAYABLE = "duty_payable"
REFUNDS_PAYABLE = "refunds_payable"
SHIPPING_REVENUE = "shipping_revenue"
PLATFORM_FEE = "platform_fee"
FX_DIFFERENCE = "fx_difference"
CASH_AT_OPERATOR = "cash_at_operator"
COD_CASH_UNMATCHED = "cod_cash_unmatched"


@dataclass(frozen=True)
class AccountSpec:
    code: str
    name: str
    kind: str
    per_merchant: bool = False
    currency: str = "RUB"


_K = LedgerAccount.Kind
# The same chart is created by migrations 0003_ledger_accounts and
# 0005_released_payable_account and 0008_cod_remittance_accounts.
CHART: tuple[AccountSpec, ...] = (
    AccountSpec(BUYER_PAYMENTS_IN_TRANSIT, "Buyer card payments in transit", _K.ASSET),
    AccountSpec(COURIER_CASH_IN_HAND, "Cash held by couriers", _K.ASSET),
    AccountSpec(MERCHANT_PAYABLE, "Payable to merchants", _K.LIABILITY, per_merchant=True),
    AccountSpec(
        MERCHANT_PAYABLE_RELEASED,
        "Payable to merchants, released for payout",
        _K.LIABILITY,
        per_merchant=True,
    ),
    AccountSpec(DUTY_PAYABLE, "Import duty payable", _K.LIABILITY),
    AccountSpec(REFUNDS_PAYABLE, "Refunds owed to buyers by bank transfer", _K.LIABILITY),
    AccountSpec(SHIPPING_REVENUE, "Shipping revenue", _K.REVENUE),
    AccountSpec(PLATFORM_FEE, "Platform fee revenue", _K.REVENUE),
    AccountSpec(FX_DIFFERENCE, "Exchange differences", _K.EXPENSE),
    AccountSpec(CASH_AT_OPERATOR, "Cash remitted by couriers", _K.ASSET),
    AccountSpec(COD_CASH_UNMATCHED, "Cash collected not matching the cash due", _K.LIABILITY),
)

# A capture's credit side, in posting order (which also breaks rounding ties).
COMPONENT_ACCOUNTS = (MERCHANT_PAYABLE, PLATFORM_FEE, SHIPPING_REVENUE, DUTY_PAYABLE)
Component = tuple[str, int | None]  # (account code, merchant id for merchant_payable)
_TK = LedgerTransaction.Kind
# The postings of a payment itself (a release belongs to the order, not a payment).
PAYMENT_KINDS = (_TK.CAPTURE, _TK.COD_COLLECTION, _TK.REFUND, _TK.CHARGEBACK)
# Money going back out of a payment: they reverse the capture's credits.
REVERSAL_KINDS = (_TK.REFUND, _TK.CHARGEBACK)


class PostingLine(NamedTuple):
    account: str
    debit: Decimal
    credit: Decimal
    merchant_id: int | None = None


class LedgerPostingError(ValueError):
    """A posting that would break the ledger: a programming error, not user input."""


def ledger_accounts_ensure() -> None:
    """Create any account of the chart that is missing (the data migration
    creates them; a test database flushed between tests loses them)."""
    LedgerAccount.objects.bulk_create(
        [
            LedgerAccount(
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                currency=spec.currency,
                per_merchant=spec.per_merchant,
            )
            for spec in CHART
        ],
        ignore_conflicts=True,
    )


def _accounts(codes: set[str]) -> dict[str, LedgerAccount]:
    found = LedgerAccount.objects.in_bulk(list(codes), field_name="code")
    missing = codes - set(found)
    if missing & {spec.code for spec in CHART}:
        ledger_accounts_ensure()
        found = LedgerAccount.objects.in_bulk(list(codes), field_name="code")
    return found


def ledger_post(
    *,
    kind: str,
    lines: Sequence[tuple[str, Decimal, Decimal, int | None]],
    order_id: int | None = None,
    payment_id: int | None = None,
    memo: str = "",
) -> LedgerTransaction:
    """Write one balanced ledger transaction: lines are (account code, debit,
    credit, merchant id). Refuses, writing nothing, unless every line has
    exactly one positive side in whole minor units, merchant sub-ledger
    accounts (and only they) name a merchant, and debits equal credits in
    each currency."""
    if kind not in LedgerTransaction.Kind.values:
        raise LedgerPostingError(f"unknown ledger transaction kind {kind!r}")
    if not lines:
        raise LedgerPostingError("a ledger transaction needs entries")
    accounts = _accounts({line[0] for line in lines})
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    entries: list[LedgerEntry] = []
    for code, debit, credit, merchant_id in lines:
        account = accounts.get(code)
        if account is None:
            raise LedgerPostingError(f"unknown ledger account {code!r}")
        if not isinstance(debit, Decimal) or not isinstance(credit, Decimal):
            raise LedgerPostingError(f"{code}: amounts must be Decimal")
        if debit < 0 or credit < 0 or (debit > 0) == (credit > 0):
            raise LedgerPostingError(f"{code}: exactly one of debit and credit must be positive")
        try:
            to_minor(debit, account.currency)
            to_minor(credit, account.currency)
        except ValueError as error:
            raise LedgerPostingError(f"{code}: {error}") from None
        if account.per_merchant != (merchant_id is not None):
            raise LedgerPostingError(
                f"{code}: a merchant is {'required' if account.per_merchant else 'not allowed'}"
            )
        sums[account.currency][0] += debit
        sums[account.currency][1] += credit
        entries.append(
            LedgerEntry(
                account=account,
                debit=debit,
                credit=credit,
                currency=account.currency,
                merchant_id=merchant_id,
            )
        )
    for currency, (debits, credits) in sums.items():
        if debits != credits:
            raise LedgerPostingError(
                f"unbalanced {currency} posting: debits {debits} != credits {credits}"
            )
    with transaction.atomic(savepoint=False):
        posted = LedgerTransaction.objects.create(
            kind=kind, order_id=order_id, payment_id=payment_id, memo=memo[:300]
        )
        for entry in entries:
            entry.transaction = posted
        LedgerEntry.objects.bulk_create(entries)
    return posted


def _component_order(component: Component) -> tuple[int, int]:
    code, merchant_id = component
    return COMPONENT_ACCOUNTS.index(code), merchant_id or 0


def capture_components(*, order: Order, amount: Decimal) -> dict[Component, int]:
    """How a payment of the order's total divides, in minor units: each
    merchant's goods share (by its lines' price) less the platform fee,
    rounded down; the platform fee, which takes the rounding remainder;
    shipping; duty. The parts add up to the amount exactly."""
    currency = order.currency
    goods = to_minor(order.goods_rub, currency)
    shipping = to_minor(order.shipping_rub, currency)
    duty = to_minor(order.duty_rub, currency)
    if goods + shipping + duty != to_minor(amount, currency):
        raise LedgerPostingError(
            f"order {order.number}: goods, shipping and duty do not add up to {amount}"
        )
    by_merchant = dict(
        OrderLine.objects.filter(order_id=order.id)
        .order_by("merchant_id")
        .values_list("merchant_id")
        .annotate(total=Sum("line_total_cny"))
    )
    nets = merchant_net_shares(
        goods=goods,
        goods_by_merchant=by_merchant,
        fee_rate=Decimal(settings.AMUR["PLATFORM_FEE_RATE"]),
    )
    components: dict[Component, int] = {
        (MERCHANT_PAYABLE, merchant_id): net for merchant_id, net in sorted(nets.items())
    }
    components[(PLATFORM_FEE, None)] = goods - sum(nets.values())
    components[(SHIPPING_REVENUE, None)] = shipping
    components[(DUTY_PAYABLE, None)] = duty
    return components


def ledger_post_capture(*, payment: Payment, order: Order) -> LedgerTransaction:
    """Money in: a card capture, or cash collected on delivery."""
    cash = payment.method == Payment.Method.COD
    kind = LedgerTransaction.Kind.COD_COLLECTION if cash else LedgerTransaction.Kind.CAPTURE
    debit_account = COURIER_CASH_IN_HAND if cash else BUYER_PAYMENTS_IN_TRANSIT
    currency = payment.currency
    zero = Decimal(0)
    lines = [PostingLine(debit_account, payment.amount, zero)]
    lines += [
        PostingLine(code, zero, from_minor(units, currency), merchant_id)
        for (code, merchant_id), units in capture_components(
            order=order, amount=payment.amount
        ).items()
        if units
    ]
    return ledger_post(
        kind=kind,
        lines=lines,
        order_id=order.id,
        payment_id=payment.id,
        memo=f"{order.number}: {kind.label} {payment.amount} {currency}",
    )


def payment_components(*, payment_id: int) -> tuple[dict[Component, int], dict[Component, int]]:
    """(captured, refunded) per component of a payment, in minor units, read
    back from its postings: the capture's credits and the refunds' debits (a
    refund's debit to a released payable counts against merchant_payable)."""
    captured: dict[Component, int] = {}
    refunded: dict[Component, int] = {}
    rows = (
        LedgerEntry.objects.filter(
            transaction__payment_id=payment_id,
            transaction__kind__in=PAYMENT_KINDS,
            account__code__in=(*COMPONENT_ACCOUNTS, MERCHANT_PAYABLE_RELEASED),
        )
        .order_by()
        .values_list("transaction__kind", "account__code", "merchant_id", "currency")
        .annotate(debits=Sum("debit"), credits=Sum("credit"))
    )
    for kind, code, merchant_id, currency, debit, credit in rows:
        component = (
            MERCHANT_PAYABLE if code == MERCHANT_PAYABLE_RELEASED else code,
            merchant_id,
        )
        if kind in REVERSAL_KINDS:
            refunded[component] = refunded.get(component, 0) + to_minor(debit - credit, currency)
        else:
            captured[component] = captured.get(component, 0) + to_minor(credit - debit, currency)
    ordered = sorted(captured, key=_component_order)
    return {c: captured[c] for c in ordered}, refunded


def payable_released(*, order_id: int) -> bool:
    return LedgerTransaction.objects.filter(
        order_id=order_id, kind=LedgerTransaction.Kind.PAYABLE_RELEASE
    ).exists()


def _goods_shares(
    *,
    captured: Mapping[Component, int],
    refunded: Mapping[Component, int],
    amount: int,
    goods_by_merchant: Mapping[int, Decimal],
) -> dict[Component, int] | None:
    """A refund of returned goods taken from the goods alone: each returning
    merchant's payable its share less the platform fee (as a capture splits
    goods), the platform fee the rest; shipping and duty untouched. None when
    a component has less left than its share (earlier refunds split
    otherwise): the caller then splits in proportion."""
    nets = merchant_net_shares(
        goods=amount,
        goods_by_merchant=goods_by_merchant,
        fee_rate=Decimal(settings.AMUR["PLATFORM_FEE_RATE"]),
    )
    shares: dict[Component, int] = {
        (MERCHANT_PAYABLE, merchant_id): net for merchant_id, net in nets.items()
    }
    shares[(PLATFORM_FEE, None)] = amount - sum(nets.values())
    for component, units in shares.items():
        if units > captured.get(component, 0) - refunded.get(component, 0):
            return None
    return {component: shares.get(component, 0) for component in captured}


def ledger_post_refund(
    *, refund: Refund, payment: Payment, goods_by_merchant: Mapping[int, Decimal] | None = None
) -> LedgerTransaction:
    """Money out: reverse the capture's credits in proportion to the refund,
    to the kopek (payments.splits.refund_split), or, for returned goods
    (`goods_by_merchant`: the returned lines' price per merchant), from those
    merchants' payables and the platform fee only. A card refund or a
    chargeback goes back through the acquirer (buyer_payments_in_transit); a
    bank transfer is owed to the buyer (refunds_payable) until the bank
    confirms it."""
    order = payment.order
    captured, refunded = payment_components(payment_id=payment.id)
    if not captured:
        # Captured before the ledger existed: split as a capture would have.
        captured = capture_components(order=order, amount=payment.amount)
    currency = refund.currency
    amount = to_minor(refund.amount, currency)
    shares = (
        _goods_shares(
            captured=captured,
            refunded=refunded,
            amount=amount,
            goods_by_merchant=goods_by_merchant,
        )
        if goods_by_merchant
        else None
    )
    if shares is None:
        shares = refund_split(captured=captured, refunded=refunded, amount=amount)
    zero = Decimal(0)
    credit_account = (
        REFUNDS_PAYABLE
        if refund.method == Refund.Method.BANK_TRANSFER
        else BUYER_PAYMENTS_IN_TRANSIT
    )
    chargeback = refund.method == Refund.Method.CHARGEBACK
    kind = LedgerTransaction.Kind.CHARGEBACK if chargeback else LedgerTransaction.Kind.REFUND
    # The caller holds the order lock, so a release cannot slip in between.
    released = payable_released(order_id=order.id)
    lines = [
        PostingLine(
            MERCHANT_PAYABLE_RELEASED if released and code == MERCHANT_PAYABLE else code,
            from_minor(units, currency),
            zero,
            merchant_id,
        )
        for (code, merchant_id), units in shares.items()
        if units
    ]
    lines.append(PostingLine(credit_account, zero, refund.amount))
    return ledger_post(
        kind=kind,
        lines=lines,
        order_id=order.id,
        payment_id=payment.id,
        memo=f"{order.number}: {kind} #{refund.id} {refund.amount} {currency} ({refund.reason})",
    )


def payable_held(*, order_id: int) -> dict[int, int]:
    """What is still held in merchant_payable for an order, per merchant, in
    kopeks: its captures' credits less its refunds' debits."""
    rows = (
        LedgerEntry.objects.filter(transaction__order_id=order_id, account__code=MERCHANT_PAYABLE)
        .order_by()
        .values_list("merchant_id", "currency")
        .annotate(debits=Sum("debit"), credits=Sum("credit"))
    )
    held: dict[int, int] = {}
    for merchant_id, currency, debits, credits in rows:
        held[merchant_id] = held.get(merchant_id, 0) + to_minor(credits - debits, currency)
    return dict(sorted(held.items()))


def ledger_post_release(*, order: Order, held: dict[int, int]) -> LedgerTransaction:
    """Move what is held for each merchant of the order to its released
    payable. The database refuses a second release of the same order."""
    currency = order.currency
    zero = Decimal(0)
    lines: list[PostingLine] = []
    for merchant_id, units in held.items():
        if units < 0:
            raise LedgerPostingError(f"order {order.number}: merchant {merchant_id} holds {units}")
        if units:
            amount = from_minor(units, currency)
            lines.append(PostingLine(MERCHANT_PAYABLE, amount, zero, merchant_id))
            lines.append(PostingLine(MERCHANT_PAYABLE_RELEASED, zero, amount, merchant_id))
    return ledger_post(
        kind=LedgerTransaction.Kind.PAYABLE_RELEASE,
        lines=lines,
        order_id=order.id,
        memo=f"{order.number}: payable released {from_minor(sum(held.values()), currency)}",
    )


def ledger_post_cash_transfer(
    *,
    kind: str,
    debit_account: str,
    credit_account: str,
    amount: Decimal,
    currency: str,
    order_id: int | None = None,
    memo: str = "",
) -> LedgerTransaction:
    """Cash moving between two accounts: a collection that matches no cash
    due (courier_cash_in_hand from cod_cash_unmatched) or a courier's
    remittance (cash_at_operator from courier_cash_in_hand)."""
    account_currency = LedgerAccount.objects.filter(
        code__in=[debit_account, credit_account]
    ).values_list("currency", flat=True)
    if any(code != currency for code in account_currency):
        raise LedgerPostingError(f"{debit_account}/{credit_account} are not kept in {currency}")
    zero = Decimal(0)
    return ledger_post(
        kind=kind,
        lines=[
            PostingLine(debit_account, amount, zero),
            PostingLine(credit_account, zero, amount),
        ],
        order_id=order_id,
        memo=memo,
    )

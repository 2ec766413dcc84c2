"""Merchant settlement: releasing payables after the returns window, and the
weekly statement of what was released.

A capture credits each merchant's share to merchant_payable, where it is held
while the buyer may still return the goods. `payables_release` moves what is
still held on an order to merchant_payable_released once the order has been
delivered for RETURNS_WINDOW_DAYS; a refund after that debits the released
payable (the merchant owes it back). A statement lists, for one merchant and
one ISO week (Monday to Sunday, UTC), every order whose released payable moved
that week: its sum is exactly the week's movement of the merchant's
merchant_payable_released sub-ledger."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalogue.models import Merchant
from core.errors import Conflict, NotFound, ValidationFailed
from core.locking import Rank, lock_held, lock_new, lock_row, locked_transaction
from core.money import money_round
from core.statemachine import TransitionTable
from core.transitions import Context, Move, StateMachine
from orders.models import Order, OrderLine, OrderStatus
from orders.services import order_lock
from payments.ledger import (
    MERCHANT_PAYABLE,
    MERCHANT_PAYABLE_RELEASED,
    ledger_post_release,
    payable_held,
    payable_released,
)
from payments.models import (
    LedgerEntry,
    LedgerTransaction,
    Payment,
    SettlementLine,
    SettlementStatement,
    SettlementStatementEvent,
)
from payments.splits import from_minor, to_minor
from shipping.fulfilment.models import FulfilmentOrder

RELEASE = LedgerTransaction.Kind.PAYABLE_RELEASE
# A chargeback after the release claws the merchant's share back like a refund.
CLAWBACKS = (LedgerTransaction.Kind.REFUND, LedgerTransaction.Kind.CHARGEBACK)
ST = SettlementStatement.Status
STATEMENT_TRANSITIONS = TransitionTable.build("settlement statement", {ST.DRAFT: {ST.ISSUED}})


# --- Release -------------------------------------------------------------------


def payables_release(*, now: datetime) -> list[int]:
    """Release the held payable of every order delivered at least
    RETURNS_WINDOW_DAYS before `now`; returns the ids of the orders released.

    Idempotent: each order is released in its own transaction under its row
    lock, at most once (a unique constraint on the ledger backs this up), and
    only for what its refunds have left held."""
    cutoff = now - timedelta(days=settings.AMUR["RETURNS_WINDOW_DAYS"])
    candidates = list(
        Order.objects.filter(
            status=OrderStatus.DELIVERED,
            delivered_at__lte=cutoff,
            # A chargeback for less than was left leaves the rest held.
            payments__status__in=[
                Payment.Status.CAPTURED,
                Payment.Status.PARTIALLY_REFUNDED,
                Payment.Status.CHARGED_BACK,
            ],
        )
        .exclude(ledger_transactions__kind=RELEASE)
        .order_by("delivered_at", "id")
        .values_list("id", flat=True)
        .distinct()
    )
    released: list[int] = []
    for order_id in candidates:
        if _order_release(order_id=order_id, cutoff=cutoff):
            released.append(order_id)
    return released


def _order_release(*, order_id: int, cutoff: datetime) -> bool:
    with locked_transaction():
        order = order_lock(order_id=order_id)
        delivered_at = order.delivered_at
        if order.status != OrderStatus.DELIVERED or delivered_at is None or delivered_at > cutoff:
            return False
        if payable_released(order_id=order.id):
            return False
        held = payable_held(order_id=order.id)
        if not any(held.values()):
            return False  # refunded in full before the window closed
        ledger_post_release(order=order, held=held)
    return True


# --- Statements ------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRow:
    order_id: int
    order_number: str
    delivered_at: datetime | None
    goods_rub: Decimal
    fee_rub: Decimal
    refunds_rub: Decimal
    net_rub: Decimal
    cny_rub_rate: Decimal
    net_cny: Decimal
    # The merchant's parts of the order, by number, space-separated.
    fulfilment_orders: str = ""


def week_bounds(week_start: date) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) in UTC."""
    if week_start.weekday() != 0:
        raise ValidationFailed(
            _("A statement week starts on a Monday."),
            code="invalid",
            fields={"week_start": [_("Not a Monday.")]},
        )
    start = datetime.combine(week_start, time.min, tzinfo=UTC)
    return start, start + timedelta(days=7)


def week_start_of(moment: datetime) -> date:
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def _released_movements(
    *, merchant_id: int | None, start: datetime, end: datetime
) -> dict[tuple[int, int], dict[str, int]]:
    """(merchant, order) -> {"released": credits of the release, "clawed":
    debits of refunds after it}, in kopeks, for the ledger transactions of
    [start, end) on merchant_payable_released."""
    entries = LedgerEntry.objects.filter(
        account__code=MERCHANT_PAYABLE_RELEASED,
        transaction__created_at__gte=start,
        transaction__created_at__lt=end,
    )
    if merchant_id is not None:
        entries = entries.filter(merchant_id=merchant_id)
    rows = (
        entries.order_by()
        .values_list("merchant_id", "transaction__order_id", "transaction__kind", "currency")
        .annotate(debits=Sum("debit"), credits=Sum("credit"))
    )
    moved: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: {"released": 0, "clawed": 0})
    for merchant, order_id, kind, currency, debits, credits in rows:
        if kind != RELEASE and kind not in CLAWBACKS:
            raise ValueError(f"unexpected {kind} posting on {MERCHANT_PAYABLE_RELEASED}")
        net = to_minor(credits - debits, currency)
        if kind == RELEASE:
            moved[(merchant, order_id)]["released"] += net
        else:
            moved[(merchant, order_id)]["clawed"] -= net
    return moved


def statement_rows(*, merchant_id: int, start: datetime, end: datetime) -> list[StatementRow]:
    """One row per order whose released payable for the merchant moved in
    [start, end). For an order released in the period: its goods share at
    the order's prices, the platform fee (goods share less what the capture
    credited), and refunds of the merchant's share before the release; and
    for every order, refunds charged back after a release. net = goods - fee
    - refunds, and the rows' net adds up to the period's movement."""
    moved = {
        order_id: amounts
        for (_merchant, order_id), amounts in _released_movements(
            merchant_id=merchant_id, start=start, end=end
        ).items()
    }
    if not moved:
        return []
    orders = Order.objects.in_bulk(list(moved))
    captured: dict[int, int] = defaultdict(int)
    for order_id, currency, credits, debits in (
        LedgerEntry.objects.filter(
            account__code=MERCHANT_PAYABLE,
            merchant_id=merchant_id,
            transaction__order_id__in=list(moved),
            transaction__kind__in=[
                LedgerTransaction.Kind.CAPTURE,
                LedgerTransaction.Kind.COD_COLLECTION,
            ],
        )
        .order_by()
        .values_list("transaction__order_id", "currency")
        .annotate(credits=Sum("credit"), debits=Sum("debit"))
    ):
        captured[order_id] += to_minor(credits - debits, currency)
    weights: dict[int, Decimal] = defaultdict(Decimal)
    for order_id, line_merchant, line_total in OrderLine.objects.filter(
        order_id__in=list(moved)
    ).values_list("order_id", "merchant_id", "line_total_cny"):
        if line_merchant == merchant_id:
            weights[order_id] += line_total
    parts: dict[int, list[str]] = defaultdict(list)
    for order_id, number in (
        FulfilmentOrder.objects.filter(order_id__in=list(moved), merchant_id=merchant_id)
        .order_by("number")
        .values_list("order_id", "number")
    ):
        parts[order_id].append(number)
    rows: list[StatementRow] = []
    for order_id, amounts in moved.items():
        order = orders[order_id]
        currency = order.currency
        goods = fee = before = 0
        if amounts["released"]:
            # The merchant's part of the order's goods in roubles, to the kopek.
            share = order.goods_rub * weights[order_id] / order.goods_cny
            goods = to_minor(money_round(share, currency), currency)
            fee = goods - captured[order_id]
            before = captured[order_id] - amounts["released"]
        refunds = before + amounts["clawed"]
        net = from_minor(goods - fee - refunds, currency)
        rows.append(
            StatementRow(
                order_id=order_id,
                order_number=order.number,
                fulfilment_orders=" ".join(parts[order_id]),
                delivered_at=order.delivered_at,
                goods_rub=from_minor(goods, currency),
                fee_rub=from_minor(fee, currency),
                refunds_rub=from_minor(refunds, currency),
                net_rub=net,
                cny_rub_rate=order.cny_rub_rate,
                net_cny=money_round(net / order.cny_rub_rate, "CNY"),
            )
        )
    epoch = datetime.min.replace(tzinfo=UTC)
    rows.sort(key=lambda row: (row.delivered_at or epoch, row.order_number))
    return rows


def _statement_stamp(statement: SettlementStatement, to: str, context: Context) -> list[str]:
    if to == ST.ISSUED:
        statement.issued_at = context.at
        return ["issued_at"]
    return []


def _statement_events(
    moves: Sequence[Move[SettlementStatement]], context: Context
) -> list[SettlementStatementEvent]:
    return [
        SettlementStatementEvent(
            statement=move.row,
            from_status=move.previous,
            to_status=move.to,
            actor_id=context.actor_id,
            note=context.reason[:200],
        )
        for move in moves
    ]


STATEMENT_MACHINE = StateMachine(
    model=SettlementStatement,
    table=STATEMENT_TRANSITIONS,
    rank=Rank.STATEMENT,
    stamp=_statement_stamp,
    audit=_statement_events,
)


def statement_transition(
    *, statement: SettlementStatement, to: str, actor_id: int | None, note: str = ""
) -> SettlementStatement:
    """Move a statement the caller has locked (STATEMENT_MACHINE), with its
    audit event."""
    lock_held(Rank.STATEMENT, statement.id)
    STATEMENT_MACHINE.apply(
        rows=[statement], to=to, context=Context(actor_id=actor_id, reason=note)
    )
    return statement


def statement_build(
    *, merchant_id: int, week_start: date, actor_id: int | None = None
) -> SettlementStatement | None:
    """Build, or rebuild while it is a draft, the merchant's statement for
    the week starting on `week_start` (a Monday). An issued statement is
    returned unchanged; a week with no movement and no statement yet gives
    None."""
    start, end = week_bounds(week_start)
    if not Merchant.objects.filter(id=merchant_id).exists():
        raise NotFound()
    with locked_transaction():
        statement = lock_row(
            SettlementStatement.objects.filter(merchant_id=merchant_id, period_start=week_start),
            rank=Rank.STATEMENT,
        )
        if statement is not None and statement.status == ST.ISSUED:
            return statement
        rows = statement_rows(merchant_id=merchant_id, start=start, end=end)
        if statement is None and not rows:
            return None
        totals = {
            field: sum((getattr(row, field) for row in rows), Decimal("0.00"))
            for field in ("goods_rub", "fee_rub", "refunds_rub", "net_rub", "net_cny")
        }
        now = timezone.now()
        if statement is None:
            statement = SettlementStatement.objects.create(
                merchant_id=merchant_id,
                period_start=week_start,
                period_end=week_start + timedelta(days=6),
                built_at=now,
                **totals,
            )
            lock_new(Rank.STATEMENT, [statement.id])
            note, previous = "built", ""
        else:
            statement.lines.all().delete()
            for field, value in totals.items():
                setattr(statement, field, value)
            statement.built_at = now
            statement.save()
            note, previous = "rebuilt", ST.DRAFT
        SettlementLine.objects.bulk_create(
            [
                SettlementLine(
                    statement=statement,
                    order_id=row.order_id,
                    order_number=row.order_number,
                    fulfilment_orders=row.fulfilment_orders,
                    delivered_at=row.delivered_at,
                    goods_rub=row.goods_rub,
                    fee_rub=row.fee_rub,
                    refunds_rub=row.refunds_rub,
                    net_rub=row.net_rub,
                    cny_rub_rate=row.cny_rub_rate,
                    net_cny=row.net_cny,
                )
                for row in rows
            ]
        )
        SettlementStatementEvent.objects.create(
            statement=statement,
            from_status=previous,
            to_status=ST.DRAFT,
            actor_id=actor_id,
            note=note,
        )
    return statement


class StatementPeriodOpen(Conflict):
    code = "statement_period_open"
    default_message = _("The statement's week has not ended yet.")


def statement_issue(*, statement_id: int, actor_id: int | None) -> SettlementStatement:
    """Rebuild a draft from the ledger one last time and issue it. Only a
    week that has ended can be issued; issuing twice is refused."""
    statement = SettlementStatement.objects.filter(id=statement_id).first()
    if statement is None:
        raise NotFound()
    _start, end = week_bounds(statement.period_start)
    if timezone.now() < end:
        raise StatementPeriodOpen()
    with locked_transaction():
        rebuilt = statement_build(
            merchant_id=statement.merchant_id, week_start=statement.period_start, actor_id=actor_id
        )
        assert rebuilt is not None  # the statement exists, so a build returns it
        locked = lock_row(SettlementStatement.objects.filter(id=rebuilt.id), rank=Rank.STATEMENT)
        assert locked is not None
        return statement_transition(statement=locked, to=ST.ISSUED, actor_id=actor_id)


def statements_build_weekly(*, now: datetime) -> list[SettlementStatement]:
    """Build and issue last week's statement for every merchant whose
    released payable moved in it (and any draft already started for it)."""
    week_start = week_start_of(now) - timedelta(days=7)
    start, end = week_bounds(week_start)
    merchants = {
        merchant for merchant, _order in _released_movements(merchant_id=None, start=start, end=end)
    }
    merchants |= set(
        SettlementStatement.objects.filter(period_start=week_start, status=ST.DRAFT).values_list(
            "merchant_id", flat=True
        )
    )
    issued: list[SettlementStatement] = []
    for merchant_id in sorted(merchants):
        statement = statement_build(merchant_id=merchant_id, week_start=week_start)
        if statement is None:
            continue
        if statement.status == ST.DRAFT:
            statement = statement_issue(statement_id=statement.id, actor_id=None)
        issued.append(statement)
    return issued

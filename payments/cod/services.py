"""Cash on delivery, the courier's side: the cash each cash_collected scan
reports, the cash couriers hand over, and the daily reconciliation of both
against the cash due on the orders each courier delivered.

Cash a courier reports is never dropped: if it is exactly the cash due, the
order's payment is captured (payments.services.payment_cod_collect);
otherwise it is still posted to courier_cash_in_hand, against
cod_cash_unmatched, and the day's reconciliation flags the difference."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Courier
from core.errors import Conflict, NotFound, ValidationFailed
from core.money import money_round
from orders.models import Order, PaymentMethod
from orders.services import order_lock
from payments.cod.models import CashCollection, CodDifference, CodReconciliation, CourierRemittance
from payments.ledger import (
    CASH_AT_OPERATOR,
    COD_CASH_UNMATCHED,
    COURIER_CASH_IN_HAND,
    ledger_post_cash_transfer,
)
from payments.models import LedgerTransaction, Payment
from payments.services import REFUNDABLE, cash_amount_validate, payment_cod_collect, payments_lock
from shipping.fulfilment.models import Parcel
from shipping.tracking.events import CASH_COLLECTED
from shipping.tracking.models import TrackingEvent

# Couriers carry roubles: the scans accept only RUB, and the cash accounts of
# the ledger are kept in it.
CASH_CURRENCY = "RUB"
# Payments whose cash is (or was) due: not voided or failed.
LIVE_COD = (Payment.Status.AWAITING_CASH, *sorted(REFUNDABLE))
COUNTED = (CashCollection.Outcome.CAPTURED, CashCollection.Outcome.UNMATCHED)


def cash_collections_record(*, events: Sequence[TrackingEvent]) -> list[CashCollection]:
    """Record the cash of accepted cash_collected scans, in the scans'
    transaction, order by order in id order (locks: each order, then its
    payments)."""
    events = [e for e in events if e.event == CASH_COLLECTED]
    if not events:
        return []
    order_of = dict(
        Parcel.objects.filter(id__in={e.parcel_id for e in events}).values_list("id", "order_id")
    )
    recorded: list[CashCollection] = []
    for event in sorted(events, key=lambda e: (order_of[e.parcel_id], e.occurred_at, e.id)):
        recorded.append(_cash_collection_record(event=event, order_id=order_of[event.parcel_id]))
    return recorded


def _cash_collection_record(*, event: TrackingEvent, order_id: int) -> CashCollection:
    assert event.courier_id is not None and event.scan_id is not None
    amount = Decimal(event.data["amount"])
    currency = event.data["currency"]
    order = order_lock(order_id=order_id)
    payments = payments_lock(order=order, method=Payment.Method.COD)
    payment = payments[-1] if payments else None
    matches = payment is not None and (amount, currency) == (payment.amount, payment.currency)
    if payment is not None and matches and payment.status == Payment.Status.AWAITING_CASH:
        payment_cod_collect(
            order=order, amount=amount, currency=currency, courier_id=event.courier_id
        )
        payment.refresh_from_db()
        outcome = CashCollection.Outcome.CAPTURED
    elif payment is not None and matches and payment.status in REFUNDABLE:
        # The same collection reported again under another scan id.
        outcome = CashCollection.Outcome.REPEAT
    else:
        ledger_post_cash_transfer(
            kind=LedgerTransaction.Kind.COD_UNMATCHED,
            debit_account=COURIER_CASH_IN_HAND,
            credit_account=COD_CASH_UNMATCHED,
            amount=amount,
            currency=currency,
            order_id=order.id,
            memo=f"{order.number}: scan {event.scan_id}, {amount} {currency} collected"
            f" by courier {event.courier_id}, due "
            + (f"{payment.amount} {payment.currency}" if payment else "nothing"),
        )
        outcome = CashCollection.Outcome.UNMATCHED
    live = payment is not None and payment.status in LIVE_COD
    return CashCollection.objects.create(
        courier_id=event.courier_id,
        parcel_id=event.parcel_id,
        order=order,
        payment=payment,
        scan_id=event.scan_id,
        amount=amount,
        currency=currency,
        due=payment.amount if payment is not None and live else None,
        outcome=outcome,
        collected_at=event.occurred_at,
    )


def cod_remittance_record(
    *,
    courier_id: int,
    amount: Decimal,
    currency: str,
    reference: str,
    received_at: datetime,
    day: date | None = None,
    actor_id: int | None,
) -> CourierRemittance:
    """A courier handed over cash (or paid it into the operator's bank):
    Dr cash_at_operator, Cr courier_cash_in_hand, in one transaction with the
    record. `day` is the collection day it is for (by default the day it was
    received). 409 remittance_reference_used for a reference already
    recorded for this courier."""
    cash_amount_validate(amount=amount, currency=currency)
    if currency != CASH_CURRENCY:
        raise ValidationFailed(
            _("Couriers' cash is kept in another currency."),
            code="invalid",
            fields={"currency": [gettext("Only %(currency)s.") % {"currency": CASH_CURRENCY}]},
        )
    reference = reference.strip()
    if not reference:
        raise ValidationFailed(
            _("Give the receipt or payment reference."),
            code="invalid",
            fields={"reference": [_("This field is required.")]},
        )
    if received_at > timezone.now() + timedelta(minutes=10):
        raise ValidationFailed(
            _("The cash cannot be received in the future."),
            code="invalid",
            fields={"received_at": [_("In the future.")]},
        )
    courier = Courier.objects.filter(id=courier_id).first()
    if courier is None:
        raise NotFound(_("No such courier."))
    used = Conflict(
        _("This reference is already recorded for the courier."),
        code="remittance_reference_used",
        fields={"reference": [_("Already recorded.")]},
    )
    if CourierRemittance.objects.filter(courier=courier, reference=reference).exists():
        raise used
    try:
        with transaction.atomic():
            posted = ledger_post_cash_transfer(
                kind=LedgerTransaction.Kind.COD_REMITTANCE,
                debit_account=CASH_AT_OPERATOR,
                credit_account=COURIER_CASH_IN_HAND,
                amount=amount,
                currency=currency,
                memo=f"courier {courier.id} ({courier.name}): {amount} {currency}, {reference}",
            )
            return CourierRemittance.objects.create(
                courier=courier,
                amount=amount,
                currency=currency,
                reference=reference,
                day=day or cod_day_of(received_at),
                received_at=received_at,
                ledger_transaction=posted,
                recorded_by_id=actor_id,
            )
    except IntegrityError:
        # A concurrent request recorded the same reference first.
        raise used from None


def _cod_zone() -> ZoneInfo:
    return ZoneInfo(settings.AMUR["COD_DAY_TIMEZONE"])


def cod_day_of(moment: datetime) -> date:
    """The reconciliation day a moment falls on (in COD_DAY_TIMEZONE)."""
    return moment.astimezone(_cod_zone()).date()


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=_cod_zone())
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=_cod_zone())
    return start.astimezone(UTC), end.astimezone(UTC)


Key = tuple[int, str]  # (courier id, currency)


def _cash_due(start: datetime, end: datetime) -> dict[Key, dict[int, Decimal]]:
    """Per courier and currency, the cash due per order: a cash-on-delivery
    order's cash is due from the courier whose delivered scan came first,
    on that scan's day."""
    delivered = TrackingEvent.objects.filter(
        event="delivered",
        courier__isnull=False,
        parcel__order__payment_method=PaymentMethod.COD,
    )
    candidates = set(
        delivered.filter(occurred_at__gte=start, occurred_at__lt=end).values_list(
            "parcel__order_id", flat=True
        )
    )
    first: dict[int, tuple[datetime, int, int]] = {}
    for order_id, occurred_at, event_id, courier_id in delivered.filter(
        parcel__order_id__in=candidates
    ).values_list("parcel__order_id", "occurred_at", "id", "courier_id"):
        if order_id not in first or (occurred_at, event_id) < first[order_id][:2]:
            first[order_id] = (occurred_at, event_id, courier_id)
    dues = Payment.objects.filter(
        order_id__in=[o for o, (at, _e, _c) in first.items() if start <= at < end],
        method=Payment.Method.COD,
        status__in=LIVE_COD,
    ).values_list("order_id", "amount", "currency")
    due: dict[Key, dict[int, Decimal]] = defaultdict(dict)
    for order_id, amount, currency in dues:
        due[(first[order_id][2], currency)][order_id] = amount
    return due


def _cash_collected(start: datetime, end: datetime) -> dict[Key, dict[int, Decimal]]:
    collected: dict[Key, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for courier_id, currency, order_id, amount in (
        CashCollection.objects.filter(
            collected_at__gte=start, collected_at__lt=end, outcome__in=COUNTED
        )
        .values_list("courier_id", "currency", "order_id")
        .annotate(total=Sum("amount"))
        .order_by()
    ):
        # SQLite's sum drops trailing zeros; keep kopeks for display.
        collected[(courier_id, currency)][order_id] += money_round(amount, currency)
    return collected


def _differences(collection: Decimal, remittance: Decimal) -> list[str]:
    reasons = []
    if collection < 0:
        reasons.append(CodDifference.SHORT_COLLECTION)
    elif collection > 0:
        reasons.append(CodDifference.OVER_COLLECTION)
    if remittance < 0:
        reasons.append(CodDifference.SHORT_REMITTANCE)
    elif remittance > 0:
        reasons.append(CodDifference.OVER_REMITTANCE)
    return [str(reason) for reason in reasons]


def cod_reconcile(*, day: date) -> list[CodReconciliation]:
    """Compare, per courier, the cash due on the day's deliveries with the
    cash collected and the cash remitted for the day; flag every difference.
    Idempotent: a re-run rewrites the day's one row per courier (and
    currency), so late scans and remittances are picked up."""
    start, end = _day_bounds(day)
    due = _cash_due(start, end)
    collected = _cash_collected(start, end)
    remitted: dict[Key, Decimal] = {
        (courier_id, currency): money_round(total, currency)
        for courier_id, currency, total in CourierRemittance.objects.filter(day=day)
        .values_list("courier_id", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    existing = set(CodReconciliation.objects.filter(day=day).values_list("courier_id", "currency"))
    keys = sorted(existing | set(due) | set(collected) | set(remitted))
    now = timezone.now()
    rows: list[CodReconciliation] = []
    with transaction.atomic():
        for key in keys:
            courier_id, currency = key
            due_by_order = due.get(key, {})
            got_by_order = collected.get(key, {})
            expected = sum(due_by_order.values(), Decimal(0))
            cash = sum(got_by_order.values(), Decimal(0))
            handed = remitted.get(key, Decimal(0))
            reasons = _differences(cash - expected, handed - cash)
            orders = _order_differences(due_by_order, got_by_order)
            row, _created = CodReconciliation.objects.update_or_create(
                courier_id=courier_id,
                day=day,
                currency=currency,
                defaults={
                    "expected": expected,
                    "collected": cash,
                    "remitted": handed,
                    "collection_difference": cash - expected,
                    "remittance_difference": handed - cash,
                    "flagged": bool(reasons),
                    "reasons": reasons,
                    "orders": orders,
                    "computed_at": now,
                },
            )
            rows.append(row)
    return rows


def _order_differences(
    due: dict[int, Decimal], collected: dict[int, Decimal]
) -> list[dict[str, str]]:
    ids = sorted(o for o in set(due) | set(collected) if due.get(o) != collected.get(o))
    numbers = dict(Order.objects.filter(id__in=ids).values_list("id", "number"))
    return [
        {
            "order": numbers[o],
            "due": str(due.get(o, Decimal("0.00"))),
            "collected": str(collected.get(o, Decimal("0.00"))),
        }
        for o in ids
    ]


def cod_reconcile_recent(*, days: int = 2, today: date | None = None) -> int:
    """The beat task's work: reconcile the last `days` finished days, so a
    scan or remittance recorded a day late still lands. Returns the number
    of flagged rows."""
    today = today or cod_day_of(timezone.now())
    flagged = 0
    for back in range(days, 0, -1):
        flagged += sum(row.flagged for row in cod_reconcile(day=today - timedelta(days=back)))
    return flagged

"""Payment writes. An order becomes paid only here, through a captured payment.
Locks are taken stock first, then order, then payment, everywhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.cache import ReferenceCache
from core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from core.money import CURRENCY_CHOICES, MINOR_UNITS, money_round
from core.statemachine import TransitionTable
from orders.models import Order, OrderStatus
from orders.services import order_transition
from payments.cbr import feed_parse
from payments.ledger import ledger_post_capture, ledger_post_refund
from payments.models import ExchangeRate, Payment, PaymentEvent, Refund
from payments.providers import provider_get
from risk.services import order_risk_check_card
from warehouses.services import order_allocate

# The sandbox's test cards are all issued in Russia.
DEFAULT_CARD_COUNTRY = "RU"


@dataclass(frozen=True)
class Rates:
    cny_rub: Decimal
    eur_rub: Decimal
    date: date


class StaleRates(Conflict):
    code = "exchange_rate_stale"
    default_message = _("Exchange rates are out of date; checkout is paused until they refresh.")


_newest_rates = ReferenceCache[dict[str, ExchangeRate]](seconds=30)


def _newest_rates_read() -> dict[str, ExchangeRate]:
    newest: dict[str, ExchangeRate] = {}
    for rate in ExchangeRate.objects.filter(currency__in=["CNY", "EUR"]).order_by("-date")[:10]:
        newest.setdefault(rate.currency, rate)
    return newest


def rates_current() -> Rates:
    """The newest CNY and EUR rates, refusing ones older than the allowed age."""
    newest = _newest_rates.get("CNY+EUR", _newest_rates_read)
    if set(newest) != {"CNY", "EUR"}:
        raise StaleRates(_("No exchange rates are recorded yet."))
    oldest = min(newest["CNY"].date, newest["EUR"].date)
    max_age = timedelta(hours=settings.AMUR["RATE_MAX_AGE_HOURS"])
    if timezone.now().date() - oldest > max_age:
        raise StaleRates()
    return Rates(cny_rub=newest["CNY"].rate_to_rub, eur_rub=newest["EUR"].rate_to_rub, date=oldest)


def rate_record(*, currency: str, on: date, rate_to_rub: Decimal, source: str) -> ExchangeRate:
    rate, _created = ExchangeRate.objects.update_or_create(
        currency=currency, date=on, defaults={"rate_to_rub": rate_to_rub, "source": source}
    )
    _newest_rates.clear()
    return rate


def _locked_order(order_id: int) -> Order:
    return Order.objects.select_for_update().get(id=order_id)


P = Payment.Status
# Payments are created in their first status (as the card provider answered,
# or awaiting cash on delivery); every later move goes through
# payment_transition. Providers' notifications move card payments out of the
# open statuses.
PAYMENT_TRANSITIONS = TransitionTable.build(
    "payment",
    {
        P.PENDING: {P.REQUIRES_ACTION, P.AUTHORISED, P.CAPTURED, P.FAILED, P.VOIDED},
        P.REQUIRES_ACTION: {P.PENDING, P.AUTHORISED, P.CAPTURED, P.FAILED, P.VOIDED},
        P.AUTHORISED: {P.CAPTURED, P.FAILED, P.VOIDED},
        P.AWAITING_CASH: {P.CAPTURED, P.VOIDED},
        P.CAPTURED: {P.PARTIALLY_REFUNDED, P.REFUNDED, P.CHARGED_BACK},
        P.PARTIALLY_REFUNDED: {P.PARTIALLY_REFUNDED, P.REFUNDED, P.CHARGED_BACK},
    },
)
REFUNDABLE = frozenset({P.CAPTURED, P.PARTIALLY_REFUNDED, P.REFUNDED})
CHARGEABLE_BACK = frozenset({P.CAPTURED, P.PARTIALLY_REFUNDED})
# Every status a payment can reach once its money was taken.
CAPTURED_ONCE = REFUNDABLE | {P.CHARGED_BACK}
OPEN = frozenset({P.PENDING, P.REQUIRES_ACTION, P.AUTHORISED})


def payment_transition(
    *,
    payment: Payment,
    to: str,
    kind: str,
    amount: Decimal,
    actor_id: int | None,
    data: dict[str, Any] | None = None,
) -> Payment:
    """Move a payment the caller has locked (stock, order, then payment) to
    `to` if the table allows it, saving the amounts set on it, with its audit
    event in the same transaction."""
    PAYMENT_TRANSITIONS.check(payment.status, to)
    payment.status = to
    payment.save(
        update_fields=[
            "status",
            "refunded_amount",
            "captured_at",
            "decline_code",
            "confirmation_url",
        ]
    )
    PaymentEvent.objects.create(
        payment=payment,
        kind=kind,
        amount=amount,
        currency=payment.currency,
        data=data or {},
        actor_id=actor_id,
    )
    return payment


def payment_capture_record(*, payment: Payment, order: Order, actor_id: int | None) -> None:
    """What a captured card payment means, in the caller's transaction: the
    ledger posting, the order paid, and its stock allocated, unless the card's
    country trips a risk rule: then the paid order is held for staff review."""
    ledger_post_capture(payment=payment, order=order)
    order_transition(
        order_id=order.id, to=OrderStatus.PAID, actor_id=actor_id, reason="card captured"
    )
    hold = order_risk_check_card(
        order=order, card_country=payment.card_country or DEFAULT_CARD_COUNTRY, actor_id=actor_id
    )
    if hold is None:
        order_allocate(order_id=order.id, actor_id=actor_id)


def payments_open_void(*, order_id: int, actor_id: int | None, reason: str) -> list[Payment]:
    """Void the order's card payments still in progress (the caller holds the
    order's lock), asking their providers to cancel them. A provider that
    captures one anyway is answered with a refund when its notification comes
    (payments.card)."""
    voided = []
    for payment in (
        Payment.objects.select_for_update()
        .filter(order_id=order_id, status__in=OPEN)
        .order_by("id")
    ):
        provider_get(payment.provider).cancel(
            reference=payment.provider_reference,
            idempotence_key=f"{payment.provider_reference}-cancel",
        )
        payment_transition(
            payment=payment,
            to=P.VOIDED,
            kind=PaymentEvent.Kind.VOIDED,
            amount=payment.amount,
            actor_id=actor_id,
            data={"reason": reason},
        )
        voided.append(payment)
    return voided


def payment_card_charge(
    *,
    order_id: int,
    token: str,
    actor_id: int | None,
    card_country: str = DEFAULT_CARD_COUNTRY,
) -> Payment:
    """Start a card payment through the configured provider. It is captured or
    declined at once, or left pending, requiring the buyer's confirmation, or
    authorised: the provider's later notification settles it (payments.card).
    A new attempt voids the order's attempts still in progress. The card's
    issuing country is kept for the risk check made at capture."""
    provider = provider_get()
    if not provider.token_valid(token):
        raise ValidationFailed(
            _("The card token is not valid."),
            code="invalid_card_token",
            fields={"token": [_("Unknown card token.")]},
        )
    with transaction.atomic():
        order = _locked_order(order_id)
        if order.payment_method != Payment.Method.CARD:
            raise Conflict(_("This order is paid in cash on delivery."), code="not_card_order")
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise Conflict(_("This order is not awaiting payment."), code="order_not_payable")
        payments_open_void(order_id=order.id, actor_id=actor_id, reason="new attempt")
        attempt = Payment.objects.filter(order=order).count() + 1
        amount = money_round(order.total_rub, order.currency)
        base_url = settings.AMUR["PUBLIC_BASE_URL"] or "http://localhost:8000"
        result = provider.charge(
            token=token,
            amount=amount,
            currency=order.currency,
            idempotence_key=f"{order.number}-{attempt}",
            description=f"Amur {order.number}",
            return_url=f"{base_url}/api/v1/orders/{order.number}/",
        )
        captured = result.status == P.CAPTURED
        payment = Payment.objects.create(
            order=order,
            method=Payment.Method.CARD,
            provider=provider.name,
            amount=amount,
            currency=order.currency,
            provider_reference=result.reference,
            status=result.status,
            decline_code=result.decline_code,
            confirmation_url=result.confirmation_url,
            card_country=card_country,
            captured_at=timezone.now() if captured else None,
        )
        if result.status == P.FAILED:
            kinds = [PaymentEvent.Kind.FAILED]
        elif captured:
            kinds = [PaymentEvent.Kind.AUTHORISED, PaymentEvent.Kind.CAPTURED]
        else:
            kinds = [PaymentEvent.Kind.CREATED]
        PaymentEvent.objects.bulk_create(
            [
                PaymentEvent(
                    payment=payment,
                    kind=kind,
                    amount=amount,
                    currency=order.currency,
                    data={"decline_code": result.decline_code} if result.decline_code else {},
                    actor_id=actor_id,
                )
                for kind in kinds
            ]
        )
        if captured:
            payment_capture_record(payment=payment, order=order, actor_id=actor_id)
    if payment.status == P.AUTHORISED:
        from payments.card import payment_authorised_settle

        payment_authorised_settle(payment_id=payment.id, actor_id=actor_id)
        payment.refresh_from_db()
    # A declined attempt is kept as a failed payment; the caller reports why.
    return payment


def payment_cod_confirm(*, order_id: int, actor_id: int | None) -> Payment:
    with transaction.atomic():
        order = _locked_order(order_id)
        if order.payment_method != Payment.Method.COD:
            raise Conflict(_("This order is paid by card."), code="not_cod_order")
        payment = Payment.objects.create(
            order=order,
            method=Payment.Method.COD,
            provider="cod",
            amount=order.total_rub,
            currency=order.currency,
            status=Payment.Status.AWAITING_CASH,
        )
        PaymentEvent.objects.create(
            payment=payment,
            kind=PaymentEvent.Kind.COD_CONFIRMED,
            amount=order.total_rub,
            currency=order.currency,
            actor_id=actor_id,
        )
        order_transition(
            order_id=order.id,
            to=OrderStatus.COD_CONFIRMED,
            actor_id=actor_id,
            reason="cash on delivery",
        )
        order_allocate(order_id=order.id, actor_id=actor_id)
    return payment


def cash_amount_validate(*, amount: Decimal, currency: str) -> None:
    """Cash reported by a courier: a known currency, a positive amount in its
    minor unit. 400 otherwise."""
    if currency not in MINOR_UNITS:
        raise ValidationFailed(
            _("Unknown currency."), code="invalid", fields={"currency": [_("Unknown currency.")]}
        )
    if not isinstance(amount, Decimal) or amount <= 0 or amount != money_round(amount, currency):
        raise ValidationFailed(
            _("The amount must be positive, in whole kopeks."),
            code="invalid_amount",
            fields={"amount": [_("A positive amount in whole kopeks.")]},
        )


def payment_cod_collect(
    *, order_id: int, amount: Decimal, currency: str, courier_id: int
) -> Payment:
    """The courier collected cash on delivery: the order's cash-on-delivery
    payment is captured for exactly its amount, and the cash is posted to
    courier_cash_in_hand. A repeated report of the same collection returns the
    payment unchanged (courier scans are retried)."""
    cash_amount_validate(amount=amount, currency=currency)
    with transaction.atomic():
        order = _locked_order(order_id)
        if order.payment_method != Payment.Method.COD:
            raise Conflict(_("This order is paid by card."), code="not_cod_order")
        payment = (
            Payment.objects.select_for_update()
            .filter(order=order, method=Payment.Method.COD)
            .order_by("-id")
            .first()
        )
        if payment is None:
            raise Conflict(_("No cash is due on this order."), code="no_cash_due")
        matches = (amount, currency) == (payment.amount, payment.currency)
        if matches and payment.status in REFUNDABLE:
            return payment
        if payment.status != P.AWAITING_CASH:
            PAYMENT_TRANSITIONS.check(payment.status, P.CAPTURED)
        if not matches:
            raise Unprocessable(
                _("The cash collected does not match the amount due."),
                code="cod_amount_mismatch",
                fields={
                    "amount": [
                        gettext("%(amount)s %(currency)s is due.")
                        % {"amount": payment.amount, "currency": payment.currency}
                    ]
                },
            )
        payment.order = order
        payment.captured_at = timezone.now()
        payment_transition(
            payment=payment,
            to=P.CAPTURED,
            kind=PaymentEvent.Kind.CAPTURED,
            amount=amount,
            actor_id=None,
            data={"courier_id": courier_id, "cash": True},
        )
        ledger_post_capture(payment=payment, order=order)
    return payment


def payment_refund(
    *,
    payment_id: int,
    amount: Decimal,
    reason: str,
    actor_id: int | None,
    bank_reference: str = "",
) -> Refund:
    """Refund part or all of a captured payment, with its ledger postings.

    A card payment is refunded through its provider. Cash collected on
    delivery goes back by bank transfer: the refund is recorded with the
    transfer's reference (`bank_reference`, or one generated to quote in the
    transfer) and no provider is called. 422 refund_exceeds_capture when the
    amount is more than was captured less what is already refunded."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            _("Give a reason for the refund."),
            code="invalid",
            fields={"reason": [_("This field is required.")]},
        )
    row = (
        Payment.objects.filter(id=payment_id).values_list("order_id", "currency", "method").first()
    )
    if row is None:
        raise NotFound()
    order_id, currency, payment_method = row
    if bank_reference and payment_method == Payment.Method.CARD:
        raise ValidationFailed(
            _("A card payment is refunded to the card; a bank reference does not apply."),
            code="invalid",
            fields={"reference": [_("Only for cash-on-delivery refunds.")]},
        )
    if not isinstance(amount, Decimal) or amount <= 0 or amount != money_round(amount, currency):
        raise ValidationFailed(
            _("The refund must be a positive amount in whole kopeks."),
            code="invalid_refund_amount",
            fields={"amount": [_("A positive amount in whole kopeks.")]},
        )
    with transaction.atomic():
        order = _locked_order(order_id)
        payment = Payment.objects.select_for_update().get(id=payment_id)
        payment.order = order
        if payment.status not in REFUNDABLE:
            raise Conflict(
                _("Only a captured payment can be refunded."),
                code="payment_not_refundable",
                extra={"current_status": payment.status},
            )
        refundable = payment.amount - payment.refunded_amount
        if amount > refundable:
            raise Unprocessable(
                _("The refund is more than what is left of the captured amount."),
                code="refund_exceeds_capture",
                fields={
                    "amount": [
                        gettext("At most %(amount)s %(currency)s can be refunded.")
                        % {"amount": refundable, "currency": payment.currency}
                    ]
                },
                extra={"refundable": {"amount": str(refundable), "currency": payment.currency}},
            )
        number = payment.refunds.count() + 1
        if payment.method == Payment.Method.CARD:
            method = Refund.Method.CARD
            reference = provider_get(payment.provider).refund(
                reference=payment.provider_reference,
                amount=amount,
                currency=payment.currency,
                idempotence_key=f"{order.number}-{payment.id}-rf{number}",
            )
        else:
            method = Refund.Method.BANK_TRANSFER
            reference = bank_reference or f"{order.number}-RF{payment.id}-{number}"
        refund = Refund.objects.create(
            payment=payment,
            amount=amount,
            currency=payment.currency,
            reason=reason[:300],
            method=method,
            provider_reference=reference[:100],
            actor_id=actor_id,
        )
        payment.refunded_amount += amount
        payment_transition(
            payment=payment,
            to=P.REFUNDED if payment.refunded_amount == payment.amount else P.PARTIALLY_REFUNDED,
            kind=PaymentEvent.Kind.REFUNDED,
            amount=amount,
            actor_id=actor_id,
            data={
                "refund_id": refund.id,
                "reference": reference,
                "method": method,
                "reason": reason,
            },
        )
        ledger_post_refund(refund=refund, payment=payment)
    return refund


def payments_settle_on_cancel(
    *, order_id: int, actor_id: int | None, reason: str = "order cancelled"
) -> list[Payment]:
    """Refund what is left of captured payments (through payment_refund, so
    through each payment's own provider), void open cash-on-delivery ones and
    cancel card payments still in progress. Called inside the cancellation's
    transaction, after the order lock."""
    changed = payments_open_void(order_id=order_id, actor_id=actor_id, reason=reason)
    payments = (
        Payment.objects.select_for_update()
        .filter(order_id=order_id, status__in=[P.CAPTURED, P.PARTIALLY_REFUNDED, P.AWAITING_CASH])
        .order_by("id")
    )
    for payment in payments:
        if payment.status == P.AWAITING_CASH:
            payment_transition(
                payment=payment,
                to=P.VOIDED,
                kind=PaymentEvent.Kind.VOIDED,
                amount=payment.amount,
                actor_id=actor_id,
            )
        else:
            payment_refund(
                payment_id=payment.id,
                amount=payment.amount - payment.refunded_amount,
                reason=reason,
                actor_id=actor_id,
            )
            payment.refresh_from_db()
        changed.append(payment)
    return changed


def rate_latest(*, currency: str) -> Decimal | None:
    """Newest recorded rate, for display only (checkout uses rates_current)."""
    return (
        ExchangeRate.objects.filter(currency=currency)
        .order_by("-date")
        .values_list("rate_to_rub", flat=True)
        .first()
    )


def rates_refresh(*, fetch: Callable[[str], bytes] | None = None) -> list[ExchangeRate]:
    """Fetch the CBR daily feed and record the currencies Amur prices in.

    Idempotent: the same day's feed twice leaves the same rows."""
    url = settings.AMUR["CBR_DAILY_URL"]
    raw = (fetch or _http_get)(url)
    on, feed = feed_parse(raw)
    wanted = {code for code, _label in CURRENCY_CHOICES if code != "RUB"}
    with transaction.atomic():
        return [
            rate_record(currency=r.currency, on=on, rate_to_rub=r.rate_to_rub, source="cbr")
            for r in feed
            if r.currency in wanted
        ]


def _http_get(url: str) -> bytes:
    response = requests.get(url, timeout=15, headers={"user-agent": "Amur/1 (+rates)"})
    response.raise_for_status()
    return response.content

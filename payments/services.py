"""Payment writes. An order becomes paid only here, through a captured payment.
Locks are taken stock first, then order, then payment, everywhere."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, ValidationFailed
from core.money import CURRENCY_CHOICES, money_round
from orders.models import Order, OrderStatus
from orders.services import order_transition
from payments.cbr import feed_parse
from payments.models import ExchangeRate, Payment, PaymentEvent
from payments.providers.sandbox import TOKENS, SandboxProvider
from warehouses.services import order_allocate


@dataclass(frozen=True)
class Rates:
    cny_rub: Decimal
    eur_rub: Decimal
    date: date


class StaleRates(Conflict):
    code = "exchange_rate_stale"
    default_message = _("Exchange rates are out of date; checkout is paused until they refresh.")


def rates_current() -> Rates:
    """The newest CNY and EUR rates, refusing ones older than the allowed age."""
    newest: dict[str, ExchangeRate] = {}
    for rate in ExchangeRate.objects.filter(currency__in=["CNY", "EUR"]).order_by("-date")[:10]:
        newest.setdefault(rate.currency, rate)
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
    return rate


def _locked_order(order_id: int) -> Order:
    return Order.objects.select_for_update().get(id=order_id)


def payment_card_charge(*, order_id: int, token: str, actor_id: int | None) -> Payment:
    if token not in TOKENS:
        raise ValidationFailed(
            _("The card token is not valid."),
            code="invalid_card_token",
            fields={"token": [_("Unknown card token.")]},
        )
    provider = SandboxProvider()
    with transaction.atomic():
        order = _locked_order(order_id)
        if order.payment_method != Payment.Method.CARD:
            raise Conflict(_("This order is paid in cash on delivery."), code="not_card_order")
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise Conflict(_("This order is not awaiting payment."), code="order_not_payable")
        attempt = Payment.objects.filter(order=order).count() + 1
        amount = money_round(order.total_rub, order.currency)
        result = provider.charge(
            token=token,
            amount=amount,
            currency=order.currency,
            idempotence_key=f"{order.number}-{attempt}",
        )
        payment = Payment.objects.create(
            order=order,
            method=Payment.Method.CARD,
            provider=provider.name,
            amount=amount,
            currency=order.currency,
            provider_reference=result.reference,
            status=Payment.Status.CAPTURED if result.approved else Payment.Status.FAILED,
            decline_code=result.decline_code,
            captured_at=timezone.now() if result.approved else None,
        )
        if not result.approved:
            PaymentEvent.objects.create(
                payment=payment,
                kind=PaymentEvent.Kind.FAILED,
                amount=amount,
                currency=order.currency,
                data={"decline_code": result.decline_code},
                actor_id=actor_id,
            )
        else:
            PaymentEvent.objects.bulk_create(
                [
                    PaymentEvent(
                        payment=payment,
                        kind=kind,
                        amount=amount,
                        currency=order.currency,
                        actor_id=actor_id,
                    )
                    for kind in (PaymentEvent.Kind.AUTHORISED, PaymentEvent.Kind.CAPTURED)
                ]
            )
            order_transition(
                order_id=order.id, to=OrderStatus.PAID, actor_id=actor_id, reason="card captured"
            )
            order_allocate(order_id=order.id, actor_id=actor_id)
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


def payments_settle_on_cancel(*, order_id: int, actor_id: int | None) -> list[Payment]:
    """Refund captured card payments in full and void open cash-on-delivery
    ones. Called inside the cancellation's transaction, after the order lock."""
    provider = SandboxProvider()
    changed: list[Payment] = []
    payments = (
        Payment.objects.select_for_update()
        .filter(
            order_id=order_id, status__in=[Payment.Status.CAPTURED, Payment.Status.AWAITING_CASH]
        )
        .order_by("id")
    )
    for payment in payments:
        if payment.status == Payment.Status.CAPTURED:
            refundable = payment.amount - payment.refunded_amount
            reference = provider.refund(
                reference=payment.provider_reference, amount=refundable, currency=payment.currency
            )
            payment.refunded_amount = payment.amount
            payment.status = Payment.Status.REFUNDED
            kind, amount, data = PaymentEvent.Kind.REFUNDED, refundable, {"reference": reference}
        else:
            payment.status = Payment.Status.VOIDED
            kind, amount, data = PaymentEvent.Kind.VOIDED, payment.amount, {}
        payment.save(update_fields=["status", "refunded_amount"])
        PaymentEvent.objects.create(
            payment=payment,
            kind=kind,
            amount=amount,
            currency=payment.currency,
            data=data,
            actor_id=actor_id,
        )
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

"""Payment writes: card attempts, cash on delivery, refunds and voids.

Every function here that changes an order's payments takes the order its
caller has locked (commands locks the order first, core.locking) and locks
the payments under it. A payment's status moves only through
PAYMENT_MACHINE, with its PaymentEvent. Nothing here calls a provider: a call
owed to one is queued as a ProviderCall (payments.provider_calls) in the same
transaction and made after commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, NotFound, Unprocessable, ValidationFailed
from core.locking import Rank, lock_held, lock_new, lock_rows
from core.money import MINOR_UNITS, money_round
from core.statemachine import TransitionTable
from core.transitions import Context, Move, StateMachine
from orders.models import Order, OrderStatus
from payments.ledger import ledger_post_capture, ledger_post_refund
from payments.models import Payment, PaymentEvent, ProviderCall, Refund
from payments.provider_calls import provider_call_queue
from payments.providers import provider_get
from payments.receipts.services import (
    cod_receipt_record,
    payment_receipt_check,
    payment_receipt_record,
    refund_receipt_record,
)

# The sandbox's test cards are all issued in Russia.
DEFAULT_CARD_COUNTRY = "RU"

P = Payment.Status
# Payments are created in their first status (pending: the provider not yet
# asked or not yet answered; or awaiting cash on delivery); every later move
# goes through PAYMENT_MACHINE.
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
# Paid through a provider, refunded through it.
ONLINE = frozenset({Payment.Method.CARD, Payment.Method.SBP})
# The fields a move may set besides the status.
_PAYMENT_FIELDS = (
    "refunded_amount",
    "captured_at",
    "decline_code",
    "confirmation_url",
    "provider_reference",
)


def _payment_events(moves: Sequence[Move[Payment]], context: Context) -> list[PaymentEvent]:
    return [
        PaymentEvent(
            payment=move.row,
            kind=context.data["kind"],
            amount=context.data["amount"],
            currency=move.row.currency,
            data=context.data.get("details", {}),
            actor_id=context.actor_id,
        )
        for move in moves
    ]


PAYMENT_MACHINE = StateMachine(
    model=Payment, table=PAYMENT_TRANSITIONS, rank=Rank.PAYMENT, audit=_payment_events
)


def payment_transition(
    *,
    payment: Payment,
    to: str,
    kind: str,
    amount: Decimal,
    actor_id: int | None,
    data: dict[str, Any] | None = None,
) -> Payment:
    """Move a payment the caller has locked (under its order's lock) to `to`
    if the table allows it, saving the amounts set on it, with its audit
    event in the same transaction."""
    lock_held(Rank.PAYMENT, payment.id)
    PAYMENT_MACHINE.apply(
        rows=[payment],
        to=to,
        context=Context(
            actor_id=actor_id, data={"kind": kind, "amount": amount, "details": data or {}}
        ),
        extra_fields=_PAYMENT_FIELDS,
    )
    return payment


def payments_lock(*, order: Order, **filters: Any) -> list[Payment]:
    """The order's payments matching `filters`, locked under the order's lock."""
    return lock_rows(
        Payment.objects.filter(order_id=order.id, **filters),
        rank=Rank.PAYMENT,
        parent=[order.id],
    )


def payment_lock(*, order: Order, payment_id: int) -> Payment:
    payments = payments_lock(order=order, id=payment_id)
    if not payments:
        raise NotFound()
    payment = payments[0]
    payment.order = order
    return payment


def _created(payment: Payment, kind: str, amount: Decimal, actor_id: int | None) -> None:
    """A new payment is invisible to others until commit: as good as locked."""
    lock_new(Rank.PAYMENT, [payment.id])
    PaymentEvent.objects.create(
        payment=payment, kind=kind, amount=amount, currency=payment.currency, actor_id=actor_id
    )


class PaymentInProgress(Conflict):
    code = "payment_in_progress"
    default_message = _("A payment of this order is being processed; wait for its result.")


class OrderNotPayable(Conflict):
    code = "order_not_payable"
    default_message = _("This order is not awaiting payment.")


def payment_card_begin(
    *,
    order: Order,
    token: str,
    actor_id: int | None,
    card_country: str = DEFAULT_CARD_COUNTRY,
    method: str = Payment.Method.CARD,
) -> Payment:
    """Start an online payment (card or SBP) of an order the caller has
    locked: the payment (pending), its 54-FZ receipt and its charge call,
    made after commit. An attempt whose charge the provider has not answered
    yet is a 409: the buyer's second tap waits for the first. Attempts
    waiting for the buyer (3-D Secure, SBP) or the provider (pending) are
    voided: the new one replaces them. An SBP payment expires after
    SBP_PAYMENT_TTL_MINUTES (commands.pay.sbp_payments_expire)."""
    lock_held(Rank.ORDER, order.id)
    provider = provider_get()
    sbp = method == Payment.Method.SBP
    if not sbp and not provider.token_valid(token):
        raise ValidationFailed(
            _("The card token is not valid."),
            code="invalid_card_token",
            fields={"token": [_("Unknown card token.")]},
        )
    if order.payment_method != Payment.Method.CARD:
        raise Conflict(_("This order is paid in cash on delivery."), code="not_card_order")
    if order.status == OrderStatus.ON_HOLD:
        raise OrderNotPayable(
            _("This order is under review; it can be paid once the review is done."),
            code="order_under_review",
            extra={"current_status": order.status},
        )
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise OrderNotPayable(extra={"current_status": order.status})
    open_payments = payments_lock(order=order, status__in=OPEN)
    if any(p.status == P.PENDING and not p.provider_reference for p in open_payments):
        raise PaymentInProgress()
    payments_open_void(order=order, actor_id=actor_id, reason="new attempt")
    attempt = Payment.objects.filter(order=order).count() + 1
    amount = money_round(order.total_rub, order.currency)
    receipt_payload = payment_receipt_check(order=order, amount=amount)
    ttl = timedelta(minutes=settings.AMUR["SBP_PAYMENT_TTL_MINUTES"])
    payment = Payment.objects.create(
        order=order,
        method=method,
        provider=provider.name,
        amount=amount,
        currency=order.currency,
        status=P.PENDING,
        card_country="" if sbp else card_country,
        expires_at=timezone.now() + ttl if sbp else None,
    )
    _created(payment, PaymentEvent.Kind.CREATED, amount, actor_id)
    receipt = payment_receipt_record(order=order, payment=payment, payload=receipt_payload)
    base_url = settings.AMUR["PUBLIC_BASE_URL"] or "http://localhost:8000"
    provider_call_queue(
        payment=payment,
        kind=ProviderCall.Kind.CHARGE,
        idempotence_key=f"{order.number}-{attempt}",
        request={
            "token": "" if sbp else token,
            "method": method,
            "amount": str(amount),
            "currency": order.currency,
            "description": f"Amur {order.number}",
            "return_url": f"{base_url}/api/v1/orders/{order.number}/",
            "receipt": receipt.payload,
        },
    )
    return payment


def payments_open_void(*, order: Order, actor_id: int | None, reason: str) -> list[Payment]:
    """Void the order's card payments still in progress (the caller holds the
    order's lock) and queue their cancellation at the provider. A charge not
    answered yet is cancelled by its own answer: captured money that arrives
    for a voided attempt is refunded (payments.card.payment_state_apply)."""
    voided = []
    for payment in payments_lock(order=order, status__in=OPEN):
        payment_transition(
            payment=payment,
            to=P.VOIDED,
            kind=PaymentEvent.Kind.VOIDED,
            amount=payment.amount,
            actor_id=actor_id,
            data={"reason": reason},
        )
        if payment.provider_reference:
            provider_call_queue(
                payment=payment,
                kind=ProviderCall.Kind.CANCEL,
                idempotence_key=f"{payment.provider_reference}-cancel",
            )
        voided.append(payment)
    return voided


def payment_cod_open(*, order: Order, actor_id: int | None) -> Payment:
    """The cash the courier will collect, for an order the caller has locked."""
    lock_held(Rank.ORDER, order.id)
    if order.payment_method != Payment.Method.COD:
        raise Conflict(_("This order is paid by card."), code="not_cod_order")
    payment = Payment.objects.create(
        order=order,
        method=Payment.Method.COD,
        provider="cod",
        amount=order.total_rub,
        currency=order.currency,
        status=P.AWAITING_CASH,
    )
    _created(payment, PaymentEvent.Kind.COD_CONFIRMED, order.total_rub, actor_id)
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
    *, order: Order, amount: Decimal, currency: str, courier_id: int
) -> Payment:
    """The courier collected cash on delivery for an order the caller has
    locked: its cash-on-delivery payment is captured for exactly its amount,
    and the cash is posted to courier_cash_in_hand. A repeated report of the
    same collection returns the payment unchanged (courier scans are
    retried)."""
    cash_amount_validate(amount=amount, currency=currency)
    lock_held(Rank.ORDER, order.id)
    if order.payment_method != Payment.Method.COD:
        raise Conflict(_("This order is paid by card."), code="not_cod_order")
    payments = payments_lock(order=order, method=Payment.Method.COD)
    if not payments:
        raise Conflict(_("No cash is due on this order."), code="no_cash_due")
    payment = payments[-1]
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
    cod_receipt_record(order=order, payment=payment)
    return payment


def refund_request_check(
    *, payment_id: int, amount: Decimal, reason: str, bank_reference: str
) -> int:
    """Check a refund request before any lock; returns the payment's order id.
    404 for an unknown payment, 400 for a bad amount or reason."""
    if not reason.strip():
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
    if bank_reference and payment_method in ONLINE:
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
    return int(order_id)


def payment_refund_record(
    *,
    order: Order,
    payment_id: int,
    amount: Decimal,
    reason: str,
    actor_id: int | None,
    bank_reference: str = "",
    goods_by_merchant: Mapping[int, Decimal] | None = None,
) -> Refund:
    """Refund part or all of a captured payment of an order the caller has
    locked, with its ledger postings (`goods_by_merchant`: a refund of
    returned goods, payments.ledger.ledger_post_refund).

    A card payment is refunded through its provider: the refund is recorded
    pending and its call queued (the provider's reference arrives with the
    answer). Cash collected on delivery goes back by bank transfer: the
    refund is recorded with the transfer's reference (`bank_reference`, or one
    generated to quote in the transfer). 422 refund_exceeds_capture when the
    amount is more than was captured less what is already refunded."""
    reason = reason.strip()
    refund_request_check(
        payment_id=payment_id, amount=amount, reason=reason, bank_reference=bank_reference
    )
    payment = payment_lock(order=order, payment_id=payment_id)
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
    card = payment.method in ONLINE
    transfer_reference = bank_reference or f"{order.number}-RF{payment.id}-{number}"
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        currency=payment.currency,
        reason=reason[:300],
        method=Refund.Method.CARD if card else Refund.Method.BANK_TRANSFER,
        status=Refund.Status.PENDING if card else Refund.Status.SUCCEEDED,
        provider_reference="" if card else transfer_reference,
        actor_id=actor_id,
    )
    receipt = refund_receipt_record(order=order, payment=payment, refund=refund)
    if card:
        request: dict[str, Any] = {"amount": str(amount), "currency": payment.currency}
        if receipt is not None:
            request["receipt"] = receipt.payload
        provider_call_queue(
            payment=payment,
            refund=refund,
            kind=ProviderCall.Kind.REFUND,
            idempotence_key=f"{order.number}-{payment.id}-rf{number}",
            request=request,
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
            "reference": refund.provider_reference,
            "method": refund.method,
            "reason": reason,
        },
    )
    ledger_post_refund(refund=refund, payment=payment, goods_by_merchant=goods_by_merchant)
    return refund


def payments_settle_on_cancel(
    *, order: Order, actor_id: int | None, reason: str = "order cancelled"
) -> list[Payment]:
    """Refund what is left of captured payments (through payment_refund_record, so
    through each payment's own provider), void open cash-on-delivery ones and
    cancel card payments still in progress, for an order the caller has
    locked and is cancelling."""
    changed = payments_open_void(order=order, actor_id=actor_id, reason=reason)
    for payment in payments_lock(
        order=order, status__in=[P.CAPTURED, P.PARTIALLY_REFUNDED, P.AWAITING_CASH]
    ):
        if payment.status == P.AWAITING_CASH:
            payment_transition(
                payment=payment,
                to=P.VOIDED,
                kind=PaymentEvent.Kind.VOIDED,
                amount=payment.amount,
                actor_id=actor_id,
            )
        else:
            payment_refund_record(
                order=order,
                payment_id=payment.id,
                amount=payment.amount - payment.refunded_amount,
                reason=reason,
                actor_id=actor_id,
            )
            payment.refresh_from_db()
        changed.append(payment)
    return changed

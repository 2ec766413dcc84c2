"""Card chargebacks: the card's bank takes a captured payment back, as the
provider reports it. The money leaves the merchant's payable through the
ledger like a refund, and the merchants' staff are told by webhook."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, NotFound, ValidationFailed
from core.locking import locked_transaction
from core.money import money_round
from notifications.services import EventSpec, events_record
from orders.models import OrderLine
from orders.services import order_lock
from payments.ledger import ledger_post_refund
from payments.models import Payment, PaymentEvent, Refund
from payments.receipts.services import refund_receipt_record
from payments.services import CHARGEABLE_BACK, payment_lock, payment_transition

P = Payment.Status
PAYMENT_CHARGED_BACK = "payment.charged_back"


def payment_chargeback(
    *,
    payment_id: int,
    amount: Decimal,
    reason: str,
    provider_reference: str,
    actor_id: int | None,
) -> Refund:
    """The card's bank took a captured payment back (a chargeback reported by
    the provider): order lock, payment lock, then payment_chargeback_record.
    409 payment_not_chargeable when nothing captured is left to take."""
    row = Payment.objects.filter(id=payment_id).values_list("order_id", flat=True).first()
    if row is None:
        raise NotFound()
    with locked_transaction():
        order = order_lock(order_id=row)
        payment = payment_lock(order=order, payment_id=payment_id)
        return payment_chargeback_record(
            payment=payment,
            amount=amount,
            reason=reason,
            provider_reference=provider_reference,
            actor_id=actor_id,
        )


def payment_chargeback_record(
    *,
    payment: Payment,
    amount: Decimal,
    reason: str,
    provider_reference: str,
    actor_id: int | None,
) -> Refund:
    """Record a chargeback on a payment the caller has locked (order, then
    payment). The bank takes back what is still captured less refunded (at
    most `amount`, the sum it reported), and the payment is closed as
    charged_back: a Refund of method chargeback, posted like a card refund
    under the ledger kind `chargeback`, with its refund receipt. The same
    provider_reference again returns the recorded chargeback and writes
    nothing."""
    provider_reference = provider_reference.strip()[:100]
    if not provider_reference:
        raise ValidationFailed(
            _("A chargeback needs the provider's reference."),
            code="invalid",
            fields={"provider_reference": [_("This field is required.")]},
        )
    if (
        not isinstance(amount, Decimal)
        or amount <= 0
        or amount != money_round(amount, payment.currency)
    ):
        raise ValidationFailed(
            _("The chargeback must be a positive amount in whole kopeks."),
            code="invalid_chargeback_amount",
            fields={"amount": [_("A positive amount in whole kopeks.")]},
        )
    if payment.status == P.CHARGED_BACK:
        recorded = payment.refunds.filter(
            method=Refund.Method.CHARGEBACK, provider_reference=provider_reference
        ).first()
        if recorded is not None:
            return recorded
    if payment.method != Payment.Method.CARD or payment.status not in CHARGEABLE_BACK:
        raise Conflict(
            _("Only a captured card payment can be charged back."),
            code="payment_not_chargeable",
            extra={"current_status": payment.status},
        )
    taken = min(amount, payment.amount - payment.refunded_amount)
    reason = f"chargeback: {reason.strip() or 'no reason given'}"
    refund = Refund.objects.create(
        payment=payment,
        amount=taken,
        currency=payment.currency,
        reason=reason[:300],
        method=Refund.Method.CHARGEBACK,
        provider_reference=provider_reference,
        actor_id=actor_id,
    )
    payment.refunded_amount += taken
    payment_transition(
        payment=payment,
        to=P.CHARGED_BACK,
        kind=PaymentEvent.Kind.CHARGED_BACK,
        amount=taken,
        actor_id=actor_id,
        data={
            "refund_id": refund.id,
            "reference": provider_reference,
            "reported_amount": str(amount),
            "reason": reason,
        },
    )
    ledger_post_refund(refund=refund, payment=payment)
    # The buyer has the money back: 54-FZ wants a refund receipt for it.
    refund_receipt_record(order=payment.order, payment=payment, refund=refund)
    _chargeback_event_record(payment=payment, refund=refund, reported=amount)
    return refund


def _chargeback_event_record(*, payment: Payment, refund: Refund, reported: Decimal) -> None:
    """Tell the merchants whose goods the order holds (their staff's webhook
    subscriptions): the money is gone from their payable, and disputing it
    with the bank is theirs to do."""
    staff = (
        OrderLine.objects.filter(order_id=payment.order_id, merchant__staff__isnull=False)
        .values_list("merchant__staff__user_id", flat=True)
        .distinct()
    )
    events_record(
        events=[
            EventSpec(
                type=PAYMENT_CHARGED_BACK,
                subject=f"payment:{payment.id}",
                sequence=payment.events.count(),
                payload={
                    "order": payment.order.number,
                    "payment": payment.id,
                    "amount": {"amount": str(refund.amount), "currency": refund.currency},
                    "reported": {"amount": str(reported), "currency": refund.currency},
                    "reference": refund.provider_reference,
                    "reason": refund.reason,
                },
                occurred_at=refund.created_at,
                audience_ids=tuple(sorted(staff)),
            )
        ]
    )

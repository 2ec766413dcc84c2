"""Card payments brought to the state their provider reports.

`payment_state_apply` is the payments side of every provider answer (a
charge's or capture's reply, a verified notification): under the order's and
the payment's locks, taken by the caller (commands.pay), it records the
notification once under its unique key, moves the payment only as
PAYMENT_TRANSITIONS allows, posts the ledger on a capture, and queues the
provider calls that follow (capture an authorised payment the order still
wants, cancel one it does not, refund money captured too late). What a
capture means for the order (paid, the card country's risk check, stock
allocated) is the caller's."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, NotFound, Unprocessable
from core.locking import Rank, lock_held
from orders.models import Order, OrderStatus
from payments.chargebacks import payment_chargeback_record
from payments.ledger import ledger_post_capture
from payments.models import Payment, PaymentEvent, ProviderCall, ProviderNotification
from payments.provider_calls import provider_call_queue
from payments.providers import AmountMismatch, Notification, ProviderPayment, UnknownPayment
from payments.providers.sandbox import sandbox_notify
from payments.receipts.services import (
    late_refund_receipt,
    late_refund_receipt_record,
    receipts_due_now,
)
from payments.services import CAPTURED_ONCE, OPEN, payment_transition

logger = logging.getLogger(__name__)
P = Payment.Status
SETTLED = CAPTURED_ONCE | {P.AWAITING_CASH}

# What payment_state_apply did.
UNCHANGED = "unchanged"
DUPLICATE = "duplicate"
CAPTURE_NEEDED = "capture_needed"
CANCEL_NEEDED = "cancel_needed"
LATE_CAPTURE = "late_capture"


def payment_of_reference(*, provider_name: str, reference: str) -> tuple[int, int]:
    """(payment id, order id) of the provider's payment; 404 unknown_payment
    (nothing written) for a payment Amur did not make."""
    row = (
        Payment.objects.filter(provider=provider_name, provider_reference=reference)
        .values_list("id", "order_id")
        .first()
    )
    if row is None:
        raise UnknownPayment()
    return int(row[0]), int(row[1])


def notification_seen(*, provider_name: str, notification: Notification | None) -> bool:
    return notification is not None and (
        ProviderNotification.objects.filter(provider=provider_name, key=notification.key).exists()
    )


def payment_state_apply(
    *,
    payment: Payment,
    order: Order,
    state: ProviderPayment,
    notification: Notification | None = None,
    actor_id: int | None = None,
) -> str:
    """Bring a payment the caller has locked (order, then payment) to the
    state its provider reports; see the module's docstring. Returns what
    happened: a status reached (captured, failed...), or UNCHANGED,
    CAPTURE_NEEDED, CANCEL_NEEDED, LATE_CAPTURE (their calls queued)."""
    lock_held(Rank.PAYMENT, payment.id)
    payment.order = order
    if not payment.provider_reference and state.reference:
        # The charge's first answer names the payment at the provider.
        payment.provider_reference = state.reference[:100]
        Payment.objects.filter(id=payment.id).update(provider_reference=payment.provider_reference)
    _amount_check(payment=payment, state=state)
    if state.status == P.CHARGED_BACK:
        outcome = _chargeback_apply(payment=payment, notification=notification)
    else:
        outcome = _apply(payment=payment, order=order, state=state, actor_id=actor_id)
    if outcome == CAPTURE_NEEDED:
        provider_call_queue(
            payment=payment,
            kind=ProviderCall.Kind.CAPTURE,
            idempotence_key=f"{payment.provider_reference}-capture",
        )
    elif outcome == CANCEL_NEEDED:
        provider_call_queue(
            payment=payment,
            kind=ProviderCall.Kind.CANCEL,
            idempotence_key=f"{payment.provider_reference}-cancel",
        )
    elif outcome == LATE_CAPTURE:
        logger.warning("refunding %s payment %s captured too late", payment.provider, payment.id)
        # Its receipt was registered with the capture: the refund carries
        # the receipt that returns all of it.
        receipt = late_refund_receipt(payment=payment)
        request: dict[str, Any] = {"amount": str(payment.amount), "currency": payment.currency}
        if receipt is not None:
            request["receipt"] = receipt
        call = provider_call_queue(
            payment=payment,
            kind=ProviderCall.Kind.REFUND,
            idempotence_key=f"{payment.provider_reference}-late",
            request=request,
        )
        if receipt is not None:
            late_refund_receipt_record(order=order, payment=payment, call=call, payload=receipt)
        receipts_due_now(payment_id=payment.id)
    if notification is not None and outcome != UNCHANGED:
        ProviderNotification.objects.create(
            provider=payment.provider,
            key=notification.key,
            event=notification.event[:60],
            payment=payment,
            outcome=outcome,
            payload=notification.payload,
        )
    return outcome


def _apply(*, payment: Payment, order: Order, state: ProviderPayment, actor_id: int | None) -> str:
    target, current = state.status, payment.status
    if target == current:
        return UNCHANGED
    payable = (
        order.status == OrderStatus.PENDING_PAYMENT
        and not Payment.objects.filter(order=order, status__in=SETTLED)
        .exclude(id=payment.id)
        .exists()
    )
    if target == P.CAPTURED:
        if current in CAPTURED_ONCE:
            return UNCHANGED
        if current not in OPEN or not payable:
            # Money Amur no longer wants (the attempt was voided, or the order
            # was cancelled or paid otherwise): it goes back to the card.
            if current in OPEN:
                payment_transition(
                    payment=payment,
                    to=P.VOIDED,
                    kind=PaymentEvent.Kind.VOIDED,
                    amount=payment.amount,
                    actor_id=actor_id,
                    data={"reason": "captured after the order stopped awaiting payment"},
                )
            return LATE_CAPTURE
        payment.captured_at = timezone.now()
        payment_transition(
            payment=payment,
            to=P.CAPTURED,
            kind=PaymentEvent.Kind.CAPTURED,
            amount=payment.amount,
            actor_id=actor_id,
            data={"reference": state.reference},
        )
        ledger_post_capture(payment=payment, order=order)
        receipts_due_now(payment_id=payment.id)
        return P.CAPTURED
    if target == P.AUTHORISED and current in (P.VOIDED, P.FAILED):
        return CANCEL_NEEDED  # money held for an attempt Amur gave up: release it
    if current not in OPEN:
        # Settled, failed or voided here already: a late or stale answer.
        return UNCHANGED
    if target == P.AUTHORISED:
        if current != P.AUTHORISED:
            payment_transition(
                payment=payment,
                to=P.AUTHORISED,
                kind=PaymentEvent.Kind.AUTHORISED,
                amount=payment.amount,
                actor_id=actor_id,
            )
        return CAPTURE_NEEDED if payable else CANCEL_NEEDED
    if target in (P.FAILED, P.VOIDED):
        payment.decline_code = state.decline_code
        payment_transition(
            payment=payment,
            to=target,
            kind=PaymentEvent.Kind.FAILED if target == P.FAILED else PaymentEvent.Kind.VOIDED,
            amount=payment.amount,
            actor_id=actor_id,
            data={"decline_code": state.decline_code} if state.decline_code else {},
        )
        return target
    if target in (P.PENDING, P.REQUIRES_ACTION) and current != P.AUTHORISED:
        payment.confirmation_url = state.confirmation_url or payment.confirmation_url
        if target == current:
            return UNCHANGED
        payment_transition(
            payment=payment,
            to=target,
            kind=(
                PaymentEvent.Kind.REQUIRES_ACTION
                if target == P.REQUIRES_ACTION
                else PaymentEvent.Kind.CREATED
            ),
            amount=payment.amount,
            actor_id=actor_id,
            data={"status": target},
        )
        return target
    return UNCHANGED


def _chargeback_apply(*, payment: Payment, notification: Notification | None) -> str:
    """A chargeback is known only from a notification carrying its amount and
    reference (YooKassa reports none: disputes reach its merchants outside the
    API, so only the sandbox sends them)."""
    if notification is None:
        return UNCHANGED
    details = notification.payload
    if details["currency"] != payment.currency:
        raise Unprocessable(
            _("The chargeback is in another currency than the payment."),
            code="chargeback_currency_mismatch",
        )
    already = payment.status == P.CHARGED_BACK
    payment_chargeback_record(
        payment=payment,
        amount=Decimal(details["amount"]),
        reason=details["reason"],
        provider_reference=details["chargeback_reference"],
        actor_id=None,
    )
    return UNCHANGED if already else P.CHARGED_BACK


def _amount_check(*, payment: Payment, state: ProviderPayment) -> None:
    """Money held or taken must be the payment's own sum: a provider (or a
    forged read-back) reporting another one is refused before anything moves."""
    if state.amount is None or state.status not in (P.AUTHORISED, P.CAPTURED):
        return
    if (state.amount, state.currency) != (payment.amount, payment.currency):
        logger.error(
            "payment %s: provider reports %s %s, Amur asked for %s %s",
            payment.id,
            state.amount,
            state.currency,
            payment.amount,
            payment.currency,
        )
        raise AmountMismatch(
            extra={
                "expected": {"amount": str(payment.amount), "currency": payment.currency},
                "reported": {"amount": str(state.amount), "currency": state.currency},
            }
        )


def sandbox_payment_confirm(*, reference: str, approve: bool) -> Payment:
    """The buyer's answer on the sandbox's 3-D Secure page. The result reaches
    Amur the way a real provider's does: by a signed notification, owed by the
    sandbox (a SandboxDispatch row) and delivered by the caller after commit."""
    payment = Payment.objects.filter(provider="sandbox", provider_reference=reference).first()
    if payment is None:
        raise NotFound(_("No such payment."))
    if payment.status != P.REQUIRES_ACTION:
        raise Conflict(
            _("This payment is not waiting for confirmation."),
            code="payment_not_awaiting_confirmation",
            extra={"current_status": payment.status},
        )
    if approve:
        sandbox_notify(reference=reference, status=P.CAPTURED)
    else:
        sandbox_notify(reference=reference, status=P.FAILED, decline_code="authentication_failed")
    return payment

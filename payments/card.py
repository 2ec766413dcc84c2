"""Card payments settled by their providers' answers: notifications (verified
by the provider's own `notification_parse`), captures of authorised payments,
and the sandbox's confirmation page and notification delivery.

Every answer goes through `payment_provider_sync`: locks the order, then the
payment, records the notification once under its unique key, and moves the
payment only as PAYMENT_TRANSITIONS allows. An order becomes paid only through
a captured payment.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError, Conflict, NotFound, Unprocessable
from orders.models import Order, OrderStatus
from payments.chargebacks import payment_chargeback_record
from payments.models import Payment, PaymentEvent, ProviderNotification, SandboxDispatch
from payments.providers import (
    AmountMismatch,
    Notification,
    ProviderPayment,
    UnknownPayment,
    provider_get,
)
from payments.providers.sandbox import WEBHOOK_PATH, dispatch_signed, sandbox_notify
from payments.services import (
    CAPTURED_ONCE,
    OPEN,
    payment_capture_record,
    payment_transition,
)

logger = logging.getLogger(__name__)
P = Payment.Status
SETTLED = CAPTURED_ONCE | {P.AWAITING_CASH}

# What payment_provider_sync did; the caller follows up on the last three.
UNCHANGED = "unchanged"
DUPLICATE = "duplicate"
CAPTURE_NEEDED = "capture_needed"
CANCEL_NEEDED = "cancel_needed"
LATE_CAPTURE = "late_capture"


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
        payment_capture_record(payment=payment, order=order, actor_id=actor_id)
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
        payment_transition(
            payment=payment,
            to=target,
            kind=PaymentEvent.Kind.CREATED,
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


def payment_provider_sync(
    *,
    provider_name: str,
    state: ProviderPayment,
    notification: Notification | None = None,
    actor_id: int | None = None,
) -> str:
    """Bring Amur's payment to the state its provider reports, once per
    notification key; then capture an authorised payment the order still
    wants, cancel one it does not, and refund money captured too late.
    404 unknown_payment (nothing written) for a payment Amur did not make."""
    row = (
        Payment.objects.filter(provider=provider_name, provider_reference=state.reference)
        .values_list("id", "order_id")
        .first()
    )
    if row is None:
        raise UnknownPayment()
    payment_id, order_id = row
    with transaction.atomic():
        order = Order.objects.select_for_update().get(id=order_id)
        payment = Payment.objects.select_for_update().get(id=payment_id)
        if (
            notification is not None
            and ProviderNotification.objects.filter(
                provider=provider_name, key=notification.key
            ).exists()
        ):
            return DUPLICATE
        payment.order = order
        _amount_check(payment=payment, state=state)
        if state.status == P.CHARGED_BACK:
            outcome = _chargeback_apply(payment=payment, notification=notification)
        else:
            outcome = _apply(payment=payment, order=order, state=state, actor_id=actor_id)
        if notification is not None and outcome != UNCHANGED:
            ProviderNotification.objects.create(
                provider=provider_name,
                key=notification.key,
                event=notification.event[:60],
                payment=payment,
                outcome=outcome,
                payload=notification.payload,
            )
    if outcome == CAPTURE_NEEDED:
        payment_authorised_settle(payment_id=payment_id, actor_id=actor_id)
    elif outcome == CANCEL_NEEDED:
        answer = provider_get(provider_name).cancel(
            reference=state.reference, idempotence_key=f"{state.reference}-cancel"
        )
        payment_provider_sync(provider_name=provider_name, state=answer, actor_id=actor_id)
    elif outcome == LATE_CAPTURE:
        logger.warning("refunding %s payment %s captured too late", provider_name, payment_id)
        provider_get(provider_name).refund(
            reference=state.reference,
            amount=payment.amount,
            currency=payment.currency,
            idempotence_key=f"{state.reference}-late",
        )
    return outcome


def payment_authorised_settle(*, payment_id: int, actor_id: int | None) -> str:
    """Capture an authorised payment while its order awaits payment (cancel it
    otherwise), and record the provider's answer. Idempotent: the capture's
    idempotence key is the payment's."""
    payment = Payment.objects.select_related("order").get(id=payment_id)
    if payment.status != P.AUTHORISED:
        return UNCHANGED
    provider = provider_get(payment.provider)
    if payment.order.status == OrderStatus.PENDING_PAYMENT:
        answer = provider.capture(
            reference=payment.provider_reference,
            amount=payment.amount,
            currency=payment.currency,
            idempotence_key=f"{payment.provider_reference}-capture",
        )
    else:
        answer = provider.cancel(
            reference=payment.provider_reference,
            idempotence_key=f"{payment.provider_reference}-cancel",
        )
    return payment_provider_sync(provider_name=provider.name, state=answer, actor_id=actor_id)


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


def provider_notification_receive(
    *, provider_name: str, body: bytes, headers: Mapping[str, str]
) -> str:
    """A provider's notification: verified by the provider's own code, then
    applied once. The sandbox's in-process delivery comes through here too."""
    provider = provider_get(provider_name)
    notification = provider.notification_parse(body=body, headers=headers)
    return payment_provider_sync(
        provider_name=provider.name, state=notification.payment, notification=notification
    )


def sandbox_payment_confirm(*, reference: str, approve: bool) -> Payment:
    """The buyer's answer on the sandbox's 3-D Secure page. The result reaches
    Amur the way a real provider's does: by a signed notification."""
    payment = Payment.objects.filter(provider="sandbox", provider_reference=reference).first()
    if payment is None:
        raise NotFound(_("No such payment."))
    if payment.status != P.REQUIRES_ACTION:
        raise Conflict(
            _("This payment is not waiting for confirmation."),
            code="payment_not_awaiting_confirmation",
            extra={"current_status": payment.status},
        )
    with transaction.atomic():
        if approve:
            sandbox_notify(reference=reference, status=P.CAPTURED)
        else:
            sandbox_notify(
                reference=reference, status=P.FAILED, decline_code="authentication_failed"
            )
    return payment


def sandbox_dispatch_send(*, dispatch_id: int) -> bool:
    """Deliver one sandbox notification: posted to PUBLIC_BASE_URL when set,
    else handed to the same verifying receiver in process. True when done
    (delivered, or refused for good); raises to be retried on a network error
    or a 5xx."""
    dispatch = SandboxDispatch.objects.filter(id=dispatch_id, delivered_at__isnull=True).first()
    if dispatch is None:
        return True
    SandboxDispatch.objects.filter(id=dispatch_id).update(attempts=F("attempts") + 1)
    body, headers = dispatch_signed(dispatch)
    error = ""
    base = settings.AMUR["PUBLIC_BASE_URL"]
    try:
        if base:
            response = requests.post(
                base + WEBHOOK_PATH,
                data=body,
                headers=headers,
                timeout=settings.AMUR["WEBHOOK_TIMEOUT_SECONDS"],
            )
            if response.status_code >= 500:
                raise requests.HTTPError(f"HTTP {response.status_code}", response=response)
            if response.status_code >= 300:
                error = f"HTTP {response.status_code}: {response.text[:200]}"
        else:
            provider_notification_receive(provider_name="sandbox", body=body, headers=headers)
    except ApplicationError as refused:
        error = f"{refused.code}: {refused}"[:300]
    except requests.RequestException as failure:
        SandboxDispatch.objects.filter(id=dispatch_id).update(last_error=str(failure)[:300])
        raise
    SandboxDispatch.objects.filter(id=dispatch_id).update(
        delivered_at=timezone.now(), last_error=error
    )
    return True

"""Paying an order by card, and every answer a card provider gives.

- `payment_card_start` locks the order and writes the attempt with its
  charge call (payments.services.payment_card_begin); `payment_card_settle`
  then makes the charge, after that commit and with no row locked
  (commands.provider_calls), so a slow provider holds up nobody's checkout.
- `payment_provider_sync` is the one road for the provider's answers: the
  charge's or capture's reply, and verified notifications
  (`provider_notification_receive`). It locks the order, then the payment,
  applies the provider's state once (payments.card.payment_state_apply) and,
  for a capture, does what a capture means for the order: paid, the card's
  country checked by the risk rules, then its stock allocated (or held for
  review).
- The sandbox's notifications are delivered here too (`sandbox_dispatch_send`):
  posted to PUBLIC_BASE_URL when set, else handed to the same verifying
  receiver in process."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from commands.allocation import order_allocate
from commands.provider_calls import provider_calls_after_commit, provider_calls_run
from core.errors import ApplicationError
from core.locking import locked_transaction
from notifications.services import safe_enqueue
from orders.models import OrderStatus
from orders.services import order_lock, order_transition
from payments.card import (
    CANCEL_NEEDED,
    CAPTURE_NEEDED,
    DUPLICATE,
    LATE_CAPTURE,
    notification_seen,
    payment_of_reference,
    payment_state_apply,
    sandbox_payment_confirm,
)
from payments.models import Payment, SandboxDispatch
from payments.provider_calls import CallAnswer, provider_call_done
from payments.providers import Notification, ProviderPayment, provider_get
from payments.providers.sandbox import WEBHOOK_PATH, dispatch_signed
from payments.services import (
    DEFAULT_CARD_COUNTRY,
    OPEN,
    payment_card_begin,
    payment_lock,
    payments_open_void,
)
from risk.services import order_risk_check_card

P = Payment.Status
FOLLOW_UPS = frozenset({CAPTURE_NEEDED, CANCEL_NEEDED, LATE_CAPTURE})


def payment_card_start(
    *,
    order_id: int,
    token: str,
    actor_id: int | None,
    card_country: str = DEFAULT_CARD_COUNTRY,
    method: str = Payment.Method.CARD,
) -> Payment:
    """Write an online attempt (card or SBP) with its receipt and its charge
    call under the order's lock; the charge is made by `payment_card_settle`
    once this commits."""
    with locked_transaction():
        order = order_lock(order_id=order_id)
        return payment_card_begin(
            order=order, token=token, actor_id=actor_id, card_country=card_country, method=method
        )


def payment_card_settle(*, payment: Payment) -> Payment:
    """Make the attempt's charge now (and the calls its answer queues), in no
    transaction, and return the payment as the provider left it. A provider
    that does not answer leaves it pending; the sweep makes the call again."""
    provider_calls_run(order_id=payment.order_id)
    payment.refresh_from_db()
    return payment


def payment_card_charge(
    *,
    order_id: int,
    token: str,
    actor_id: int | None,
    card_country: str = DEFAULT_CARD_COUNTRY,
) -> Payment:
    """The whole card payment: the attempt written, then its charge made (for
    callers outside a request: seeding, tests, scripts)."""
    payment = payment_card_start(
        order_id=order_id, token=token, actor_id=actor_id, card_country=card_country
    )
    return payment_card_settle(payment=payment)


def sbp_payments_expire() -> int:
    """Void SBP payments the buyer did not confirm within their validity
    (SBP_PAYMENT_TTL_MINUTES), under their order's lock, and ask the provider
    to cancel them after commit. Money that arrives later for one is refunded
    (payments.card). Returns how many were voided."""
    voided = 0
    for payment_id, order_id in (
        Payment.objects.filter(
            method=Payment.Method.SBP, status__in=OPEN, expires_at__lt=timezone.now()
        )
        .order_by("id")
        .values_list("id", "order_id")[:500]
    ):
        with locked_transaction():
            order = order_lock(order_id=order_id)
            payment = payment_lock(order=order, payment_id=payment_id)
            if payment.status not in OPEN:
                continue  # settled meanwhile
            payments_open_void(order=order, actor_id=None, reason="SBP payment expired")
            provider_calls_after_commit(order_id=order.id)
            voided += 1
    return voided


def payment_captured_follow(*, order_id: int, payment: Payment, actor_id: int | None) -> None:
    """What a captured card payment means for its order, locked by the
    caller: paid, then allocated, unless the card's country trips a risk
    rule: then the paid order is held for staff review."""
    order = order_transition(
        order_id=order_id, to=OrderStatus.PAID, actor_id=actor_id, reason="card captured"
    )
    hold = order_risk_check_card(
        order=order, card_country=payment.card_country or DEFAULT_CARD_COUNTRY, actor_id=actor_id
    )
    if hold is None:
        order_allocate(order=order, actor_id=actor_id)


def payment_provider_sync(
    *,
    provider_name: str,
    state: ProviderPayment,
    notification: Notification | None = None,
    payment_id: int | None = None,
    answer: CallAnswer | None = None,
    actor_id: int | None = None,
) -> str:
    """Bring Amur's payment to the state its provider reports, once per
    notification key (see the module's docstring). The payment is named by
    its id (a call's answer) or by the provider's reference (404
    unknown_payment, nothing written, for one Amur did not make)."""
    if payment_id is None:
        payment_id, order_id = payment_of_reference(
            provider_name=provider_name, reference=state.reference
        )
    else:
        order_id = Payment.objects.values_list("order_id", flat=True).get(id=payment_id)
    with locked_transaction():
        order = order_lock(order_id=order_id)
        payment = payment_lock(order=order, payment_id=payment_id)
        if notification_seen(provider_name=provider_name, notification=notification):
            return DUPLICATE
        outcome = payment_state_apply(
            payment=payment, order=order, state=state, notification=notification, actor_id=actor_id
        )
        if outcome == P.CAPTURED:
            payment_captured_follow(order_id=order.id, payment=payment, actor_id=actor_id)
        if answer is not None:
            provider_call_done(answer=answer)
        if outcome in FOLLOW_UPS:
            provider_calls_after_commit(order_id=order.id)
    return outcome


def provider_notification_receive(
    *, provider_name: str, body: bytes, headers: Mapping[str, str]
) -> str:
    """A provider's notification: verified by the provider's own code (which
    may read the payment back from its API: before any lock), then applied
    once. The sandbox's in-process delivery comes through here too."""
    provider = provider_get(provider_name)
    notification = provider.notification_parse(body=body, headers=headers)
    return payment_provider_sync(
        provider_name=provider.name, state=notification.payment, notification=notification
    )


def sandbox_confirm(*, reference: str, approve: bool) -> Payment:
    """The buyer's answer on the sandbox's 3-D Secure page; the sandbox then
    notifies Amur of the result, as an acquirer would."""
    payment = sandbox_payment_confirm(reference=reference, approve=approve)
    sandbox_dispatches_deliver()
    payment.refresh_from_db()
    return payment


def sandbox_dispatches_deliver() -> None:
    """Send the sandbox's notifications not yet tried, each by its own task,
    once the caller's transaction (if any) commits: like an acquirer's, they
    arrive after the answer that announced them."""
    transaction.on_commit(_sandbox_dispatches_enqueue)


def _sandbox_dispatches_enqueue() -> None:
    from commands.tasks import sandbox_notification_deliver

    for dispatch_id in (
        SandboxDispatch.objects.filter(delivered_at__isnull=True, attempts=0)
        .order_by("id")
        .values_list("id", flat=True)[:100]
    ):
        safe_enqueue(functools.partial(sandbox_notification_deliver.delay, dispatch_id))


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

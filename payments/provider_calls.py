"""Calls owed to payment providers, made after commit with no row locked.

A command that decides a charge, capture, cancellation or refund writes a
ProviderCall in its own transaction (`provider_call_queue`). After commit,
the caller's runner (commands.provider_calls) claims the call
(`provider_call_claim`: a conditional UPDATE with a lease, so two workers
never make the same call at once), makes it (`provider_call_perform`: the
HTTP request, in no transaction) and hands the answer back to the payment's
sync path. A call that fails on the network or a 5xx is retried with backoff
by the sweep; the idempotence key makes every retry the same call at the
provider."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import requests
from django.db.models import F, Q
from django.utils import timezone

from core.errors import ApplicationError
from payments.models import Payment, ProviderCall, Refund
from payments.providers import ProviderPayment, ProviderUnavailable, provider_get
from payments.receipts.services import receipts_due_now

logger = logging.getLogger(__name__)

# A worker holds a claimed call this long; past it the call is due again.
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 10
# The code that queues a call makes it itself right after its commit; the
# sweep leaves a new call alone this long, so the two seldom race for it.
GRACE = timedelta(seconds=15)
# Backoff between failed attempts: 10 s, 20 s, 40 s ... at most an hour.
BACKOFF_FIRST = 10
BACKOFF_MAX = 3600


def provider_call_queue(
    *,
    payment: Payment,
    kind: str,
    idempotence_key: str,
    request: dict[str, Any] | None = None,
    refund: Refund | None = None,
) -> ProviderCall:
    """Owe the payment's provider a call, in the caller's transaction. The same
    idempotence key twice is one call."""
    call, _created = ProviderCall.objects.get_or_create(
        idempotence_key=idempotence_key,
        defaults={
            "payment": payment,
            "refund": refund,
            "kind": kind,
            "provider": payment.provider,
            "request": request or {},
            "next_attempt_at": timezone.now() + GRACE,
        },
    )
    return call


def provider_calls_due(*, payment_id: int | None = None, limit: int = 100) -> list[int]:
    """Ids of pending calls whose time has come and that nobody holds; for
    one payment, its calls never tried yet count as due at once (its own
    command makes them right after its commit)."""
    now = timezone.now()
    due = ProviderCall.objects.filter(status=ProviderCall.Status.PENDING)
    due = due.filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
    if payment_id is None:
        due = due.filter(next_attempt_at__lte=now)
    else:
        due = due.filter(Q(next_attempt_at__lte=now) | Q(attempts=0), payment_id=payment_id)
    return list(due.order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])


def provider_call_claim(*, call_id: int) -> ProviderCall | None:
    """Take the call for LEASE, or None if it is done or someone holds it.
    One conditional UPDATE, committed at once: no lock is held during the
    provider's answer."""
    now = timezone.now()
    taken = (
        ProviderCall.objects.filter(id=call_id, status=ProviderCall.Status.PENDING)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + LEASE, attempts=F("attempts") + 1)
    )
    if not taken:
        return None
    return ProviderCall.objects.select_related("payment", "refund").get(id=call_id)


@dataclass(frozen=True)
class CallAnswer:
    """What the provider said: the payment's state for a charge, capture or
    cancel; the refund's reference for a refund. None: no answer (retried)."""

    call: ProviderCall
    state: ProviderPayment | None = None
    refund_reference: str = ""
    refused: str = ""


def _state_json(state: ProviderPayment) -> dict[str, Any]:
    return {
        "reference": state.reference,
        "status": state.status,
        "decline_code": state.decline_code,
        "confirmation_url": state.confirmation_url,
        "amount": None if state.amount is None else str(state.amount),
        "currency": state.currency,
    }


def provider_call_perform(*, call: ProviderCall) -> CallAnswer | None:
    """Make a claimed call (no transaction, no lock). Returns the answer, or
    None when the provider did not answer (the call is due again later)."""
    provider = provider_get(call.provider)
    payment = call.payment
    request = call.request
    try:
        if call.kind == ProviderCall.Kind.CHARGE:
            state = provider.charge(
                token=request["token"],
                amount=Decimal(request["amount"]),
                currency=request["currency"],
                idempotence_key=call.idempotence_key,
                description=request.get("description", ""),
                return_url=request.get("return_url", ""),
                method=request.get("method", "card"),
                receipt=request.get("receipt"),
            )
            answer = CallAnswer(call=call, state=state)
        elif call.kind == ProviderCall.Kind.CAPTURE:
            answer = CallAnswer(
                call=call,
                state=provider.capture(
                    reference=payment.provider_reference,
                    amount=payment.amount,
                    currency=payment.currency,
                    idempotence_key=call.idempotence_key,
                ),
            )
        elif call.kind == ProviderCall.Kind.CANCEL:
            answer = CallAnswer(
                call=call,
                state=provider.cancel(
                    reference=payment.provider_reference,
                    idempotence_key=call.idempotence_key,
                ),
            )
        else:
            answer = CallAnswer(
                call=call,
                refund_reference=provider.refund(
                    reference=payment.provider_reference,
                    amount=Decimal(request["amount"]),
                    currency=request["currency"],
                    idempotence_key=call.idempotence_key,
                    receipt=request.get("receipt"),
                ),
            )
    except (requests.RequestException, ProviderUnavailable) as failure:
        _failed(call, str(failure))
        return None
    except ApplicationError as refusal:
        # The provider refused the call for good (a 4xx): nothing to retry.
        logger.error("provider refused %s %s: %s", call.kind, call.idempotence_key, refusal)
        return CallAnswer(call=call, refused=f"{refusal.code}: {refusal}"[:300])
    return answer


def _failed(call: ProviderCall, error: str) -> None:
    """No answer: due again after a backoff, or given up after MAX_ATTEMPTS."""
    delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (call.attempts - 1))
    delay = delay * (0.8 + 0.4 * random.random())
    given_up = call.attempts >= MAX_ATTEMPTS
    ProviderCall.objects.filter(id=call.id).update(
        status=ProviderCall.Status.FAILED if given_up else ProviderCall.Status.PENDING,
        locked_until=None,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        last_error=error[:300],
    )
    if given_up:
        logger.error(
            "provider call %s given up after %d attempts", call.idempotence_key, call.attempts
        )


def provider_call_done(*, answer: CallAnswer) -> None:
    """Record the answer on the call, in the caller's transaction (the one
    that applies it to the payment). A charge's card token is forgotten."""
    call = answer.call
    result: dict[str, Any]
    if answer.state is not None:
        result = _state_json(answer.state)
    elif answer.refused:
        result = {"refused": answer.refused}
    else:
        result = {"refund_reference": answer.refund_reference}
    request = {k: v for k, v in call.request.items() if k != "token"}
    ProviderCall.objects.filter(id=call.id).update(
        status=ProviderCall.Status.DONE if not answer.refused else ProviderCall.Status.FAILED,
        locked_until=None,
        done_at=timezone.now(),
        result=result,
        request=request,
        last_error=answer.refused,
    )


def refund_answer_record(*, answer: CallAnswer) -> None:
    """A refund call's answer: the refund succeeded with the provider's
    reference, or the provider refused it (operators then pay it back by
    other means: the ledger already owes it to the buyer)."""
    refund = answer.call.refund
    if refund is None:
        receipts_due_now(call_id=answer.call.id)  # a late capture's refund
        return
    if answer.refused:
        Refund.objects.filter(id=refund.id).update(status=Refund.Status.FAILED)
    else:
        Refund.objects.filter(id=refund.id).update(
            status=Refund.Status.SUCCEEDED, provider_reference=answer.refund_reference[:100]
        )
    receipts_due_now(refund_id=refund.id)

"""Making the calls owed to payment providers (payments.provider_calls), after
the transactions that queued them, with no row locked, and applying each
answer through the same path as a provider's notification
(commands.pay.payment_provider_sync).

The pay request makes its charge at once, after its commit, so the buyer
gets the provider's answer in the response; everything else is made by the
`commands.provider_calls_run` task enqueued after commit, and the beat sweep
makes whatever a lost task, a crash or a provider outage left due."""

from __future__ import annotations

import functools

from django.db import transaction

from notifications.services import safe_enqueue
from payments.models import Payment, ProviderCall
from payments.provider_calls import (
    CallAnswer,
    provider_call_claim,
    provider_call_done,
    provider_call_perform,
    provider_calls_due,
    refund_answer_record,
)
from payments.providers import ProviderPayment

# A charge answered "authorised" queues its capture, which may answer with a
# notification owed: a few rounds cover every chain Amur's providers make.
ROUNDS = 4


def provider_calls_after_commit(*, order_id: int | None = None) -> None:
    """After the caller's transaction commits, make the calls it queued."""
    from commands.tasks import run_provider_calls

    transaction.on_commit(
        functools.partial(safe_enqueue, functools.partial(run_provider_calls.delay, order_id))
    )


def provider_calls_run(*, order_id: int | None = None, limit: int = 100) -> int:
    """Make the due calls of the order's payments (of all orders when None),
    apply their answers, and go on with the calls those answers queue.
    Returns the number of calls answered. Safe to run anywhere, any number
    of times at once: each call is claimed before it is made."""
    answered = 0
    for _round in range(ROUNDS):
        due = _due(order_id=order_id, limit=limit)
        if not due:
            break
        for call_id in due:
            call = provider_call_claim(call_id=call_id)
            if call is None:
                continue
            answer = provider_call_perform(call=call)
            if answer is None:
                continue
            provider_answer_apply(answer=answer)
            answered += 1
    return answered


def _due(*, order_id: int | None, limit: int) -> list[int]:
    if order_id is None:
        return provider_calls_due(limit=limit)
    payment_ids = ProviderCall.objects.filter(
        payment__order_id=order_id, status=ProviderCall.Status.PENDING
    ).values_list("payment_id", flat=True)
    due: list[int] = []
    for payment_id in sorted(set(payment_ids)):
        due += provider_calls_due(payment_id=payment_id, limit=limit)
    return sorted(due)


def provider_answer_apply(*, answer: CallAnswer) -> None:
    """Apply a call's answer: a refund's reference to its refund; any other
    answer to the payment, through its sync path. A call the provider refused
    for good leaves a charge or capture failed."""
    from commands.pay import payment_provider_sync, sandbox_dispatches_deliver

    call = answer.call
    if call.kind == ProviderCall.Kind.REFUND:
        with transaction.atomic():
            provider_call_done(answer=answer)
            refund_answer_record(answer=answer)
    else:
        state = answer.state or ProviderPayment(
            reference="", status=Payment.Status.FAILED, decline_code="provider_error"
        )
        payment_provider_sync(
            provider_name=call.provider, state=state, payment_id=call.payment_id, answer=answer
        )
    if call.provider == "sandbox":
        # What the sandbox owes Amur after this call (a later result) is sent now.
        sandbox_dispatches_deliver()

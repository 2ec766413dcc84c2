"""Money given back to a buyer outside a cancellation: operator staff refund
part or all of a captured payment."""

from __future__ import annotations

from decimal import Decimal

from commands.provider_calls import provider_calls_run
from core.locking import locked_transaction
from orders.services import order_lock
from payments.models import Refund
from payments.services import payment_refund_record, refund_request_check


def payment_refund_request(
    *,
    payment_id: int,
    amount: Decimal,
    reason: str,
    actor_id: int | None,
    bank_reference: str = "",
) -> Refund:
    """Record the refund under the order's lock (payments.services
    payment_refund_record: a card refund is queued for its provider); the caller
    then asks the provider with `refund_settle`, after commit."""
    order_id = refund_request_check(
        payment_id=payment_id, amount=amount, reason=reason, bank_reference=bank_reference
    )
    with locked_transaction():
        order = order_lock(order_id=order_id)
        return payment_refund_record(
            order=order,
            payment_id=payment_id,
            amount=amount,
            reason=reason,
            actor_id=actor_id,
            bank_reference=bank_reference,
        )


def refund_settle(*, refund: Refund) -> Refund:
    """Ask the provider for a card refund now (no transaction, no lock) and
    return the refund as it answered; without an answer it stays pending
    and the sweep asks again."""
    provider_calls_run(order_id=refund.payment.order_id)
    refund.refresh_from_db()
    return refund


def payment_refund(
    *,
    payment_id: int,
    amount: Decimal,
    reason: str,
    actor_id: int | None,
    bank_reference: str = "",
) -> Refund:
    """The whole refund: recorded, then asked of the provider (for callers
    outside a request: admin actions, scripts, tests)."""
    refund = payment_refund_request(
        payment_id=payment_id,
        amount=amount,
        reason=reason,
        actor_id=actor_id,
        bank_reference=bank_reference,
    )
    return refund_settle(refund=refund)

"""Fiscal receipts written with the money movement they record, and sent or
checked after commit until the provider confirms them.

- `payment_receipt_record` (a card or SBP payment begun), `refund_receipt_record`
  (every refund but a chargeback) and `cod_receipt_record` (cash collected)
  are called inside the command's transaction, under the order's lock: they
  only insert rows. A payment's or card refund's receipt rides in the
  provider call that moves the money (its payload is in that call's
  request); the others are receipt requests of their own.
- `settlement_receipts_queue` (the sweep) writes the handover receipt of each
  delivered order paid in advance; a partial unique index makes a second one
  impossible.
- `receipts_send` (the sweep, and a task enqueued after each commit that
  wrote receipts) claims each due receipt with a lease (a conditional
  UPDATE, so two workers never send the same one), asks the provider with no
  transaction open and no row locked, and records the answer with a
  conditional UPDATE. The idempotence key makes a repeated send one receipt
  at the provider. A receipt stays pending, asked again with backoff, until
  the provider says registered or canceled."""

from __future__ import annotations

import functools
import logging
import random
from datetime import timedelta
from decimal import Decimal
from typing import cast

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError, Unprocessable
from core.locking import Rank, lock_held
from notifications.services import safe_enqueue
from orders.models import Order, OrderStatus
from payments.models import Payment, ProviderCall, Refund
from payments.providers import ProviderUnavailable, ReceiptState, provider_get
from payments.receipts.models import Receipt
from payments.receipts.payloads import (
    ReceiptPayload,
    cod_receipt,
    payment_receipt,
    receipt_problems,
    refund_items,
    refund_receipt,
    settlement_receipt,
)
from payments.splits import to_minor

logger = logging.getLogger(__name__)

R = Receipt.Status
P = Payment.Status
LEASE = timedelta(seconds=60)
BACKOFF_FIRST = 15
BACKOFF_MAX = 3600
# Money taken once: a payment in any of these has a receipt to register.
TAKEN = frozenset({P.CAPTURED, P.PARTIALLY_REFUNDED, P.REFUNDED, P.CHARGED_BACK})


def _queue(
    *,
    order: Order,
    payment: Payment,
    kind: str,
    channel: str,
    provider: str,
    payload: ReceiptPayload,
    amount: Decimal,
    idempotence_key: str,
    refund: Refund | None = None,
    provider_call: ProviderCall | None = None,
) -> Receipt:
    receipt, _created = Receipt.objects.get_or_create(
        idempotence_key=idempotence_key,
        defaults={
            "order": order,
            "payment": payment,
            "refund": refund,
            "provider_call": provider_call,
            "kind": kind,
            "channel": channel,
            "provider": provider,
            "payload": payload,
            "amount": amount,
            "currency": payment.currency,
            "next_attempt_at": timezone.now(),
        },
    )
    receipts_after_commit()
    return receipt


def payment_receipt_check(*, order: Order, amount: Decimal) -> ReceiptPayload:
    """The receipt an online payment of the order will carry; 422
    receipt_not_possible (before anything is written) when a fiscal data
    operator would refuse it, as for an order with no e-mail or phone to send
    it to."""
    payload = payment_receipt(order=order)
    problems = receipt_problems(payload, amount=amount)
    if problems:
        raise Unprocessable(
            _("A fiscal receipt cannot be made for this order."),
            code="receipt_not_possible",
            extra={"problems": problems},
        )
    return payload


def payment_receipt_record(*, order: Order, payment: Payment, payload: ReceiptPayload) -> Receipt:
    """The receipt of an online payment (a full prepayment), written with the
    payment under the order's lock; it travels with the charge."""
    lock_held(Rank.ORDER, order.id)
    return _queue(
        order=order,
        payment=payment,
        kind=Receipt.Kind.PAYMENT,
        channel=Receipt.Channel.WITH_PAYMENT,
        provider=payment.provider,
        payload=payload,
        amount=payment.amount,
        idempotence_key=f"rc-{order.number}-p{payment.id}",
    )


def cod_receipt_record(*, order: Order, payment: Payment) -> Receipt:
    """The receipt of cash collected at the door, under the order's lock."""
    lock_held(Rank.ORDER, order.id)
    return _queue(
        order=order,
        payment=payment,
        kind=Receipt.Kind.PAYMENT,
        channel=Receipt.Channel.OWN,
        provider=settings.AMUR["COD_RECEIPT_PROVIDER"],
        payload=cod_receipt(order=order, amount=payment.amount),
        amount=payment.amount,
        idempotence_key=f"rc-{order.number}-p{payment.id}",
    )


def _basis(payment: Payment) -> Receipt | None:
    """The receipt a refund returns money of: the settlement once the goods
    were handed over (a refund then undoes a full payment), else the
    payment's own receipt."""
    receipts = Receipt.objects.filter(
        payment_id=payment.id, kind__in=[Receipt.Kind.SETTLEMENT, Receipt.Kind.PAYMENT]
    ).exclude(status=R.CANCELED)
    return receipts.order_by("-kind", "-id").first()  # settlement sorts before payment


def refund_receipt_record(*, order: Order, payment: Payment, refund: Refund) -> Receipt | None:
    """The receipt of a refund, under the order's lock: with a card or SBP
    refund's provider call, or (cash on delivery refunded by bank transfer, a
    chargeback) a receipt request of its own. None when the payment had no receipt
    (paid before receipts were kept)."""
    lock_held(Rank.ORDER, order.id)
    basis = _basis(payment)
    if basis is None:
        return None
    earlier = Receipt.objects.filter(
        payment_id=payment.id, kind=Receipt.Kind.REFUND, id__gt=basis.id
    ).order_by("id")
    currency = payment.currency
    payload = refund_receipt(
        paid=cast(ReceiptPayload, basis.payload),
        earlier=[to_minor(r.amount, currency) for r in earlier],
        amount=to_minor(refund.amount, currency),
    )
    online = refund.method == Refund.Method.CARD
    if not online:
        # Money given back outside a refund call of ours: cash on delivery
        # refunded by bank transfer, or the card's bank taking a payment
        # back (a chargeback), which returns it to the card.
        settled = "cashless" if refund.method == Refund.Method.CHARGEBACK else "cash"
        payload = {
            "type": "refund",
            "send": True,
            **payload,
            "settlements": [{"type": settled, "amount": _money_json(refund.amount, currency)}],
        }
    return _queue(
        order=order,
        payment=payment,
        refund=refund,
        kind=Receipt.Kind.REFUND,
        channel=Receipt.Channel.WITH_REFUND if online else Receipt.Channel.OWN,
        provider=payment.provider if online else basis.provider,
        payload=payload,
        amount=refund.amount,
        idempotence_key=f"rc-{order.number}-r{refund.id}",
    )


def late_refund_receipt(*, payment: Payment) -> ReceiptPayload | None:
    """The receipt of giving back all of a payment captured after Amur gave
    it up (its receipt was registered with the capture), or None when the
    payment had no receipt."""
    basis = _basis(payment)
    if basis is None:
        return None
    return refund_receipt(
        paid=cast(ReceiptPayload, basis.payload),
        earlier=[],
        amount=to_minor(payment.amount, payment.currency),
    )


def late_refund_receipt_record(
    *, order: Order, payment: Payment, call: ProviderCall, payload: ReceiptPayload
) -> Receipt:
    """Record the receipt that rides in a late capture's refund call."""
    lock_held(Rank.ORDER, order.id)
    return _queue(
        order=order,
        payment=payment,
        provider_call=call,
        kind=Receipt.Kind.REFUND,
        channel=Receipt.Channel.WITH_REFUND,
        provider=payment.provider,
        payload=payload,
        amount=payment.amount,
        idempotence_key=f"rc-{order.number}-late{payment.id}",
    )


def _money_json(amount: Decimal, currency: str) -> dict[str, str]:
    return {"value": f"{amount:.2f}", "currency": currency}


def settlement_receipts_queue(*, limit: int = 200) -> int:
    """Write the handover receipt of every delivered order paid online whose
    payment receipt was registered and that has none yet: the prepayment
    credited against what is left of the order after refunds. Returns how
    many were written. Runs in the sweep: the delivery is shipping's, which
    knows nothing of payments."""
    candidates = (
        Receipt.objects.filter(
            kind=Receipt.Kind.PAYMENT,
            channel=Receipt.Channel.WITH_PAYMENT,
            status=R.SUCCEEDED,
            order__status=OrderStatus.DELIVERED,
            payment__status__in=[P.CAPTURED, P.PARTIALLY_REFUNDED],
        )
        .exclude(order__receipts__kind=Receipt.Kind.SETTLEMENT)
        .select_related("order__buyer__user", "payment")
        .order_by("id")[:limit]
    )
    written = 0
    for basis in candidates:
        if _settlement_write(basis):
            written += 1
    return written


def _settlement_write(basis: Receipt) -> bool:
    order, payment = basis.order, basis.payment
    left = payment.amount - payment.refunded_amount
    currency = payment.currency
    payload = settlement_receipt(
        order=order, payment_reference=payment.provider_reference, amount=left
    )
    if payment.refunded_amount:
        refunds = Receipt.objects.filter(payment_id=payment.id, kind=Receipt.Kind.REFUND)
        payload["items"] = refund_items(
            paid=[
                {**item, "payment_mode": "full_payment"}
                for item in cast(ReceiptPayload, basis.payload)["items"]
            ],
            earlier=[to_minor(r.amount, currency) for r in refunds.order_by("id")],
            amount=to_minor(left, currency),
        )
    try:
        with transaction.atomic():
            Receipt.objects.create(
                order=order,
                payment=payment,
                kind=Receipt.Kind.SETTLEMENT,
                channel=Receipt.Channel.OWN,
                provider=payment.provider,
                payload=payload,
                amount=left,
                currency=currency,
                idempotence_key=f"rc-{order.number}-s",
                next_attempt_at=timezone.now(),
            )
    except IntegrityError:
        return False  # another sweep wrote it first
    return True


def receipts_after_commit() -> None:
    """Once the caller's transaction commits, send what it queued."""
    from payments.tasks import send_receipts

    transaction.on_commit(functools.partial(safe_enqueue, send_receipts.delay))


def receipts_due(*, limit: int = 100) -> list[int]:
    now = timezone.now()
    return list(
        Receipt.objects.filter(status=R.PENDING, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def receipt_claim(*, receipt_id: int) -> Receipt | None:
    """Take the receipt for LEASE (one conditional UPDATE, committed at
    once), or None when it is settled or another worker holds it."""
    now = timezone.now()
    taken = (
        Receipt.objects.filter(id=receipt_id, status=R.PENDING, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + LEASE, attempts=F("attempts") + 1)
    )
    if not taken:
        return None
    return Receipt.objects.select_related("payment", "refund", "provider_call").get(id=receipt_id)


def receipts_send(*, limit: int = 100) -> int:
    """Write due handover receipts, then send or check every due receipt.
    Returns how many the provider settled (registered or canceled)."""
    settlement_receipts_queue()
    settled = 0
    for receipt_id in receipts_due(limit=limit):
        receipt = receipt_claim(receipt_id=receipt_id)
        if receipt is None:
            continue
        if _send(receipt):
            settled += 1
    return settled


def _send(receipt: Receipt) -> bool:
    try:
        state = _ask(receipt)
    except (requests.RequestException, ProviderUnavailable) as failure:
        _later(receipt, error=str(failure))
        return False
    except ApplicationError as refusal:
        # Refused for good (a 4xx: the payload is wrong): operators see it.
        logger.error("receipt %s refused: %s", receipt.idempotence_key, refusal)
        _settle(receipt, ReceiptState(provider_id="", status=R.CANCELED), f"{refusal}")
        return True
    if state is None or state.status == R.PENDING:
        _later(receipt, provider_id=state.provider_id if state else "")
        return False
    _settle(receipt, state, "")
    return True


def _ask(receipt: Receipt) -> ReceiptState | None:
    """What the provider says of the receipt (sending it first if it is a
    request of its own); None when there is nothing to ask yet."""
    provider = provider_get(receipt.provider)
    if receipt.channel == Receipt.Channel.OWN:
        if receipt.provider_id:
            return provider.receipt_find(receipt_id=receipt.provider_id)
        return provider.receipt_create(
            payload=dict(receipt.payload), idempotence_key=receipt.idempotence_key
        )
    if receipt.channel == Receipt.Channel.WITH_PAYMENT:
        payment = receipt.payment
        taken_late = Receipt.objects.filter(
            payment_id=payment.id, provider_call__isnull=False
        ).exists()
        if payment.status in (P.FAILED, P.VOIDED) and not taken_late:
            # No money was taken: the provider registers no receipt for it.
            return ReceiptState(provider_id="", status=R.CANCELED)
        if not (payment.status in TAKEN or taken_late) or not payment.provider_reference:
            return None
        return provider.receipt_find(payment_reference=payment.provider_reference)
    reference, failed = _refund_reference(receipt)
    if failed:
        return ReceiptState(provider_id="", status=R.CANCELED)
    if not reference:
        return None
    return provider.receipt_find(refund_reference=reference)


def _refund_reference(receipt: Receipt) -> tuple[str, bool]:
    """The provider's reference of the refund a receipt rides with ("" while
    unanswered), and whether the provider refused that refund."""
    if receipt.provider_call is not None:
        call = receipt.provider_call
        if call.status == ProviderCall.Status.FAILED:
            return "", True
        return str(call.result.get("refund_reference", "")), False
    refund = receipt.refund
    if refund is None or refund.status == Refund.Status.FAILED:
        return "", True
    if refund.status != Refund.Status.SUCCEEDED:
        return "", False
    return refund.provider_reference, False


def _later(receipt: Receipt, *, error: str = "", provider_id: str = "") -> None:
    delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** min(receipt.attempts - 1, 12))
    delay = delay * (0.8 + 0.4 * random.random())
    Receipt.objects.filter(id=receipt.id, status=R.PENDING).update(
        locked_until=None,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        last_error=error[:300],
        provider_id=provider_id[:100] or receipt.provider_id,
    )


def _settle(receipt: Receipt, state: ReceiptState, error: str) -> None:
    Receipt.objects.filter(id=receipt.id, status=R.PENDING).update(
        status=state.status,
        provider_id=state.provider_id[:100] or receipt.provider_id,
        locked_until=None,
        last_error=error[:300],
        registered_at=timezone.now() if state.status == R.SUCCEEDED else None,
    )


def receipts_due_now(
    *, payment_id: int | None = None, refund_id: int | None = None, call_id: int | None = None
) -> None:
    """The money of a payment or a refund moved at the provider: its pending
    receipts are worth asking about at once, not after their backoff."""
    pending = Receipt.objects.filter(status=R.PENDING)
    if call_id is not None:
        pending = pending.filter(provider_call_id=call_id)
    elif refund_id is not None:
        pending = pending.filter(refund_id=refund_id)
    elif payment_id is not None:
        pending = pending.filter(payment_id=payment_id, channel=Receipt.Channel.WITH_PAYMENT)
    if pending.update(next_attempt_at=timezone.now()):
        receipts_after_commit()

"""A card provider for development and tests, with documented test tokens.

| token                    | result                                                  |
|--------------------------|---------------------------------------------------------|
| tok_approve              | approved and captured at once                           |
| tok_mir_approve          | approved and captured at once (Mir)                     |
| tok_decline              | declined at once: card_declined                         |
| tok_insufficient_funds   | declined at once: insufficient_funds                    |
| tok_expired_card         | declined at once: expired_card                          |
| tok_3ds                  | requires_action: the buyer approves or declines on the  |
|                          | confirmation address; the result comes by notification  |
| tok_async_approve        | pending; captured later by notification                 |
| tok_async_decline        | pending; declined later by notification: card_declined  |

Any other token is rejected as invalid before a payment is attempted. An SBP
payment (`method="sbp"`) needs no token: it waits for the buyer on the
confirmation address, like 3-D Secure.

Receipts sent with a payment or a refund, or on their own, are checked as a
fiscal data operator would (payments.receipts.payloads.receipt_problems: a
bad one is refused, 422) and registered at once under an id derived from
the call's idempotence key.

A chargeback (the card's bank taking a captured payment back) is reported by
the notification `payment.charged_back`, whose data adds `amount`, `currency`,
`chargeback_reference` and `reason`; `sandbox_chargeback_notify` owes one.

Like a real acquirer, the sandbox tells Amur about results it reaches later by
a signed notification (Standard Webhooks, `SANDBOX_WEBHOOK_SECRET`). Each one
is a `SandboxDispatch` row; the code that called the sandbox delivers it
after commit (commands.pay), and a beat sweep delivers any left behind.

SANDBOX_LATENCY_SECONDS makes every call wait that long before answering, as a
slow acquirer would (for tests and benchmarks of what a slow provider holds up).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.errors import Unprocessable
from notifications.signing import headers_build, signature_verify
from payments.models import SandboxDispatch
from payments.providers import Notification, NotificationRejected, ProviderPayment, ReceiptState
from payments.receipts.payloads import receipt_problems

APPROVE = {"tok_approve", "tok_mir_approve"}
DECLINE = {
    "tok_decline": "card_declined",
    "tok_insufficient_funds": "insufficient_funds",
    "tok_expired_card": "expired_card",
}
THREE_DS = "tok_3ds"
LATER = {"tok_async_approve": "", "tok_async_decline": "card_declined"}
TOKENS = APPROVE | set(DECLINE) | {THREE_DS} | set(LATER)
WEBHOOK_PATH = "/api/v1/payments/webhooks/sandbox/"
NOTIFIED_STATUSES = {"captured", "failed", "voided", "charged_back"}
CHARGED_BACK = "charged_back"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def confirmation_path(reference: str) -> str:
    return f"/api/v1/payments/sandbox/confirm/{reference}/"


def sandbox_notify(
    *,
    reference: str,
    status: str,
    decline_code: str = "",
    extra: Mapping[str, str] | None = None,
) -> SandboxDispatch:
    """Owe Amur a notification of the payment's final state (sent by the
    caller after commit). The same fact twice is one notification."""
    event = f"payment.{status}"
    dispatch, _created = SandboxDispatch.objects.get_or_create(
        msg_id=f"msg_{_digest(f'{reference}:{event}')}",
        defaults={
            "reference": reference,
            "event": event,
            "body": {
                "type": event,
                "data": {
                    "reference": reference,
                    "status": status,
                    "decline_code": decline_code,
                    **(extra or {}),
                },
            },
        },
    )
    return dispatch


def sandbox_chargeback_notify(
    *, reference: str, amount: Decimal, currency: str, reason: str
) -> SandboxDispatch:
    """Owe Amur the notification that the card's bank took the payment back."""
    return sandbox_notify(
        reference=reference,
        status=CHARGED_BACK,
        extra={
            "amount": str(amount),
            "currency": currency,
            "chargeback_reference": "sbx_cb_" + _digest(reference),
            "reason": reason,
        },
    )


def dispatch_signed(dispatch: SandboxDispatch) -> tuple[bytes, dict[str, str]]:
    """The body and Standard Webhooks headers, signed now (the timestamp is the
    time of sending, so a retried notification is not refused as stale)."""
    body = json.dumps(dispatch.body, separators=(",", ":"), sort_keys=True).encode()
    headers = headers_build(
        secret=settings.AMUR["SANDBOX_WEBHOOK_SECRET"],
        msg_id=dispatch.msg_id,
        timestamp=int(time.time()),
        body=body,
    )
    return body, headers


def _latency() -> None:
    seconds = settings.AMUR["SANDBOX_LATENCY_SECONDS"]
    if seconds:
        time.sleep(seconds)


class SandboxProvider:
    name = "sandbox"

    def token_valid(self, token: str) -> bool:
        return token in TOKENS

    def charge(
        self,
        *,
        token: str,
        amount: Decimal,
        currency: str,
        idempotence_key: str,
        description: str = "",
        return_url: str = "",
        method: str = "card",
        receipt: Mapping[str, Any] | None = None,
    ) -> ProviderPayment:
        _latency()
        if receipt is not None:
            _receipt_check(receipt, amount)
        # The same idempotence key always gives the same reference, as real providers do.
        reference = "sbx_" + _digest(idempotence_key)
        if token == THREE_DS or method == "sbp":
            base = settings.AMUR["PUBLIC_BASE_URL"]
            return ProviderPayment(
                reference=reference,
                status="requires_action",
                confirmation_url=base + confirmation_path(reference),
            )
        if token in APPROVE:
            return ProviderPayment(reference=reference, status="captured")
        if token in DECLINE:
            return ProviderPayment(
                reference=reference, status="failed", decline_code=DECLINE[token]
            )
        decline_code = LATER[token]
        sandbox_notify(
            reference=reference,
            status="failed" if decline_code else "captured",
            decline_code=decline_code,
        )
        return ProviderPayment(reference=reference, status="pending")

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotence_key: str
    ) -> ProviderPayment:
        _latency()
        # The sandbox captures on approval (one stage), so there is nothing left to capture.
        return ProviderPayment(reference=reference, status="captured")

    def cancel(self, *, reference: str, idempotence_key: str) -> ProviderPayment:
        _latency()
        return ProviderPayment(reference=reference, status="voided")

    def refund(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        idempotence_key: str,
        receipt: Mapping[str, Any] | None = None,
    ) -> str:
        """Refund part or all of a charge; returns the refund's reference. The
        same idempotence key always gives the same refund, as real providers do."""
        _latency()
        if receipt is not None:
            _receipt_check(receipt, amount)
        return "sbx_rf_" + _digest(f"{reference}:{idempotence_key}")

    def receipt_create(self, *, payload: Mapping[str, Any], idempotence_key: str) -> ReceiptState:
        _latency()
        settlements = payload.get("settlements") or []
        _receipt_check(
            payload, sum((Decimal(s["amount"]["value"]) for s in settlements), Decimal(0))
        )
        return ReceiptState(provider_id="sbx_rc_" + _digest(idempotence_key), status="succeeded")

    def receipt_find(
        self, *, receipt_id: str = "", payment_reference: str = "", refund_reference: str = ""
    ) -> ReceiptState | None:
        # Registered as soon as the money moved (checked when it was sent):
        # reading that back waits for no acquirer, so it takes no latency.
        key = receipt_id or payment_reference or refund_reference
        return ReceiptState(provider_id=receipt_id or "sbx_rc_" + _digest(key), status="succeeded")

    def notification_parse(self, *, body: bytes, headers: Mapping[str, str]) -> Notification:
        """Trust the body only under a valid, fresh signature."""
        lowered = {k.lower(): v for k, v in headers.items()}
        msg_id = lowered.get("webhook-id", "")
        stamp = lowered.get("webhook-timestamp", "")
        signature = lowered.get("webhook-signature", "")
        if not (msg_id and stamp.isdigit() and signature):
            raise NotificationRejected(_("The notification is not signed."))
        tolerance = settings.AMUR["PROVIDER_WEBHOOK_TOLERANCE_SECONDS"]
        if abs(time.time() - int(stamp)) > tolerance:
            raise NotificationRejected(_("The notification's timestamp is too old or too new."))
        if not signature_verify(
            secret=settings.AMUR["SANDBOX_WEBHOOK_SECRET"],
            msg_id=msg_id,
            timestamp=int(stamp),
            body=body,
            header=signature,
        ):
            raise NotificationRejected(_("The notification's signature is not valid."))
        try:
            payload: Any = json.loads(body)
            data = payload["data"]
            state = ProviderPayment(
                reference=str(data["reference"]),
                status=str(data["status"]),
                decline_code=str(data.get("decline_code", "")),
            )
            details = _chargeback_details(data) if state.status == CHARGED_BACK else {}
        except (ValueError, KeyError, TypeError, ArithmeticError, RecursionError) as error:
            raise NotificationRejected(_("The notification could not be read.")) from error
        if state.status not in NOTIFIED_STATUSES:
            raise NotificationRejected(_("The notification could not be read."))
        return Notification(
            key=msg_id, event=str(payload.get("type", "")), payment=state, payload=details
        )


def _receipt_check(receipt: Mapping[str, Any], amount: Decimal) -> None:
    problems = receipt_problems(receipt, amount=amount)
    if problems:
        raise Unprocessable(
            _("The receipt was refused."), code="receipt_invalid", extra={"problems": problems}
        )


def _chargeback_details(data: Mapping[str, Any]) -> dict[str, str]:
    """What a chargeback notification adds: raises on anything unreadable."""
    amount = Decimal(str(data["amount"]))
    if not amount.is_finite():
        raise ValueError("amount")
    return {
        "amount": str(amount),
        "currency": str(data["currency"]),
        "chargeback_reference": str(data["chargeback_reference"]),
        "reason": str(data.get("reason", "")),
    }

"""YooKassa through its official SDK (`yookassa`).

Card payments are made in two stages (`capture: false`): YooKassa authorises
the card, the buyer confirms on YooKassa's page if the bank asks (3-D
Secure), and Amur captures only while the order still wants the money. SBP
payments are one-stage (`capture: true`, `payment_method_data` of type
`sbp`): a transfer from the buyer's bank cannot be held, so the buyer's
confirmation in the bank's app is the capture; money that arrives for an
order no longer waiting is refunded (payments.card).

The 54-FZ receipt travels in the payment's and the refund's own request
(`receipt`); a settlement receipt is a receipt request of its own (POST
/v3/receipts). Registration is asynchronous at YooKassa: Amur reads the
receipts of a payment or refund back until they are registered. Notifications are
not signed by YooKassa, so nothing in one is believed: Amur reads the payment
back from the API and acts on that answer alone.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from yookassa import Configuration
from yookassa import Payment as YooPayment
from yookassa import Receipt as YooReceipt
from yookassa import Refund as YooRefund
from yookassa.client import ApiClient
from yookassa.domain.common.http_verb import HttpVerb
from yookassa.domain.exceptions import ApiError, NotFoundError
from yookassa.domain.response.receipt_response import ReceiptResponse

from payments.providers import (
    Notification,
    NotificationRejected,
    ProviderPayment,
    ProviderUnavailable,
    ReceiptState,
    UnknownPayment,
)

# YooKassa's cancellation reasons, in Amur's decline codes.
REASONS = {
    "3d_secure_failed": "authentication_failed",
    "insufficient_funds": "insufficient_funds",
    "card_expired": "expired_card",
    "fraud_suspected": "fraud_suspected",
    "expired_on_confirmation": "confirmation_expired",
    "expired_on_capture": "confirmation_expired",
    "payment_method_restricted": "payment_method_restricted",
    "canceled_by_merchant": "cancelled",
    "general_decline": "card_declined",
    "call_issuer": "card_declined",
}
PAYMENT_EVENTS = {
    "payment.waiting_for_capture",
    "payment.succeeded",
    "payment.canceled",
}
REFUND_EVENTS = {"refund.succeeded"}
# No chargeback event: YooKassa's API has no notification or object for a
# chargeback (disputes reach the shop outside the API), so a YooKassa payment
# never becomes charged_back here; only the sandbox reports chargebacks.


def _configure() -> None:
    # The SDK keeps its configuration on a class; setting it before every call
    # keeps it equal to Amur's settings, which tests may change.
    Configuration.configure(
        settings.AMUR["YOOKASSA_SHOP_ID"],
        settings.AMUR["YOOKASSA_SECRET_KEY"],
        api_url=settings.AMUR["YOOKASSA_API_URL"],
        max_attempts=1,
    )


def _state(response: Any) -> ProviderPayment:
    state = _status(response)
    amount = getattr(response, "amount", None)
    if amount is None or getattr(amount, "value", None) is None:
        return state
    return dataclasses.replace(
        state, amount=Decimal(str(amount.value)), currency=str(amount.currency)
    )


def _status(response: Any) -> ProviderPayment:
    status = response.status
    confirmation = response.confirmation
    url = str(getattr(confirmation, "confirmation_url", "") or "") if confirmation else ""
    if status == "succeeded":
        return ProviderPayment(reference=response.id, status="captured")
    if status == "waiting_for_capture":
        return ProviderPayment(reference=response.id, status="authorised")
    if status == "canceled":
        details = response.cancellation_details
        reason = str(getattr(details, "reason", "") or "")
        if reason == "canceled_by_merchant":
            return ProviderPayment(reference=response.id, status="voided", decline_code="cancelled")
        return ProviderPayment(
            reference=response.id,
            status="failed",
            decline_code=REASONS.get(reason, "card_declined"),
        )
    if url:
        return ProviderPayment(
            reference=response.id, status="requires_action", confirmation_url=url
        )
    return ProviderPayment(reference=response.id, status="pending")


def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
    _configure()
    try:
        return method(*args, **kwargs)
    except NotFoundError as error:
        raise UnknownPayment() from error
    except ApiError as error:
        raise ProviderUnavailable(code="provider_error") from error
    except Exception as error:  # the SDK lets connection errors out in several shapes
        raise ProviderUnavailable() from error


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"value": f"{amount:.2f}", "currency": currency}


class YooKassaProvider:
    name = "yookassa"

    def token_valid(self, token: str) -> bool:
        # A payment token from YooKassa's checkout widget; YooKassa judges it.
        return bool(token.strip())

    def charge(
        self,
        *,
        token: str,
        amount: Decimal,
        currency: str,
        idempotence_key: str,
        description: str,
        return_url: str,
        method: str = "card",
        receipt: Mapping[str, Any] | None = None,
    ) -> ProviderPayment:
        params: dict[str, Any] = {
            "amount": _money(amount, currency),
            "confirmation": {"type": "redirect", "return_url": return_url},
            "description": description[:128],
            "metadata": {"amur_key": idempotence_key},
        }
        if method == "sbp":
            params.update(payment_method_data={"type": "sbp"}, capture=True)
        else:
            params.update(payment_token=token, capture=False)
        if receipt:
            params["receipt"] = dict(receipt)
        return _state(_call(YooPayment.create, params, idempotence_key))

    def payment_get(self, *, reference: str) -> ProviderPayment:
        return _state(_call(YooPayment.find_one, reference))

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotence_key: str
    ) -> ProviderPayment:
        params = {"amount": _money(amount, currency)}
        return _state(_call(YooPayment.capture, reference, params, idempotence_key))

    def cancel(self, *, reference: str, idempotence_key: str) -> ProviderPayment:
        current = self.payment_get(reference=reference)
        if current.status != "authorised":
            # Only an authorised payment can be cancelled; a pending one
            # expires at YooKassa on its own.
            return current
        return _state(_call(YooPayment.cancel, reference, idempotence_key))

    def refund(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        idempotence_key: str,
        receipt: Mapping[str, Any] | None = None,
    ) -> str:
        params: dict[str, Any] = {"payment_id": reference, "amount": _money(amount, currency)}
        if receipt:
            params["receipt"] = dict(receipt)
        response = _call(YooRefund.create, params, idempotence_key)
        return str(response.id)

    def receipt_create(self, *, payload: Mapping[str, Any], idempotence_key: str) -> ReceiptState:
        # Posted as it is, not through the SDK's ReceiptRequest, which copies
        # the customer's e-mail and phone to the top level: the row keeps the
        # exact body YooKassa got.
        response = ReceiptResponse(
            _call(
                lambda: ApiClient().request(
                    HttpVerb.POST,
                    YooReceipt.base_path,
                    None,
                    {"Idempotence-Key": idempotence_key},
                    dict(payload),
                )
            )
        )
        return ReceiptState(provider_id=str(response.id), status=str(response.status))

    def receipt_find(
        self, *, receipt_id: str = "", payment_reference: str = "", refund_reference: str = ""
    ) -> ReceiptState | None:
        """A receipt by its id, or the one registered with a payment or a
        refund (the oldest of the payment's payment receipts: a settlement
        receipt is made later, and Amur asks for it by its own id)."""
        if receipt_id:
            response = _call(YooReceipt.find_one, receipt_id)
            return ReceiptState(provider_id=str(response.id), status=str(response.status))
        query = {"refund_id": refund_reference} if refund_reference else {}
        query = query or {"payment_id": payment_reference}
        kind = "refund" if refund_reference else "payment"
        found = [r for r in _call(YooReceipt.list, query).items or [] if r.type == kind]
        if not found:
            return None
        oldest = found[-1]  # YooKassa lists newest first
        return ReceiptState(provider_id=str(oldest.id), status=str(oldest.status))

    def notification_parse(self, *, body: bytes, headers: Mapping[str, str]) -> Notification:
        """Read the notification's subject back from the API; the body only
        says which payment or refund to look at."""
        try:
            payload: Any = json.loads(body)
            event = str(payload["event"])
            object_id = str(payload["object"]["id"])
        except (ValueError, KeyError, TypeError, RecursionError) as error:
            raise NotificationRejected(_("The notification could not be read.")) from error
        if payload.get("type") != "notification" or not object_id:
            raise NotificationRejected(_("The notification could not be read."))
        if event in REFUND_EVENTS:
            refund = _call(YooRefund.find_one, object_id)
            state = self.payment_get(reference=str(refund.payment_id))
            key = f"refund:{object_id}:{refund.status}"
        elif event in PAYMENT_EVENTS:
            state = self.payment_get(reference=object_id)
            key = f"payment:{object_id}:{state.status}"
        else:
            raise NotificationRejected(_("This kind of notification is not handled."))
        return Notification(key=key, event=event, payment=state, payload={"event": event})

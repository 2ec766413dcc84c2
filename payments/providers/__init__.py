"""Card providers behind one interface.

A provider answers every call with the payment's state in Amur's own terms
(`ProviderPayment`); `notification_parse` turns a provider's notification into
a state Amur can trust (a verified signature, or the payment read back from the
provider's API) or raises `NotificationRejected`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.errors import ApplicationError, NotFound


@dataclass(frozen=True)
class ProviderPayment:
    """A payment as the provider sees it. `status` is one of Payment.Status:
    pending, requires_action, authorised, captured, failed or voided."""

    reference: str
    status: str
    confirmation_url: str = ""
    decline_code: str = ""
    # What the provider holds for the payment, where it says (read-backs).
    amount: Decimal | None = None
    currency: str = ""


@dataclass(frozen=True)
class ReceiptState:
    """A fiscal receipt as the provider sees it: `status` is pending,
    succeeded (registered) or canceled."""

    provider_id: str
    status: str


@dataclass(frozen=True)
class Notification:
    """A verified notification: `key` is unique per provider for one fact, so
    a repeated notification has the same key."""

    key: str
    event: str
    payment: ProviderPayment
    payload: dict[str, Any] = field(default_factory=dict)


class NotificationRejected(ApplicationError):
    """Not from the provider, malformed, or about a payment it does not know."""

    code = "notification_rejected"
    default_message = _("The notification was rejected.")


class AmountMismatch(NotificationRejected):
    """The provider holds a different sum than Amur asked for: nothing is
    applied, and operators are alerted through the error log."""

    status_code = 409
    code = "amount_mismatch"
    default_message = _("The provider reports a different amount for this payment.")


class UnknownPayment(NotFound):
    code = "unknown_payment"
    default_message = _("No such payment.")


class ProviderUnavailable(ApplicationError):
    status_code = 502
    code = "provider_unavailable"
    default_message = _("The payment provider did not answer; try again.")


class PaymentProvider(Protocol):
    name: str

    def token_valid(self, token: str) -> bool: ...

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
    ) -> ProviderPayment: ...

    def capture(
        self, *, reference: str, amount: Decimal, currency: str, idempotence_key: str
    ) -> ProviderPayment: ...

    def cancel(self, *, reference: str, idempotence_key: str) -> ProviderPayment: ...

    def refund(
        self,
        *,
        reference: str,
        amount: Decimal,
        currency: str,
        idempotence_key: str,
        receipt: Mapping[str, Any] | None = None,
    ) -> str: ...

    def receipt_create(
        self, *, payload: Mapping[str, Any], idempotence_key: str
    ) -> ReceiptState: ...

    def receipt_find(
        self, *, receipt_id: str = "", payment_reference: str = "", refund_reference: str = ""
    ) -> ReceiptState | None: ...

    def notification_parse(self, *, body: bytes, headers: Mapping[str, str]) -> Notification: ...


# Decline reasons, as stable codes for clients and messages for people.
DECLINE_MESSAGES = {
    "card_declined": _("The card was declined by its bank."),
    "insufficient_funds": _("There is not enough money on the card."),
    "expired_card": _("The card has expired."),
    "authentication_failed": _("The card holder did not confirm the payment (3-D Secure)."),
    "fraud_suspected": _("The bank suspects fraud and refused the payment."),
    "confirmation_expired": _("The payment was not confirmed in time."),
    "payment_method_restricted": _("This card cannot be used for this payment."),
    "cancelled": _("The payment was cancelled."),
    "provider_error": _("The payment provider refused the payment."),
}


def decline_message(code: str) -> str:
    return str(DECLINE_MESSAGES.get(code, DECLINE_MESSAGES["provider_error"]))


PROVIDER_NAMES = ("sandbox", "yookassa")


def provider_get(name: str | None = None) -> PaymentProvider:
    """The provider called `name`, or the configured one for new payments."""
    name = name or settings.AMUR["PAYMENT_PROVIDER"]
    if name == "sandbox":
        from payments.providers.sandbox import SandboxProvider

        return SandboxProvider()
    if name == "yookassa":
        from payments.providers.yookassa import YooKassaProvider

        return YooKassaProvider()
    raise UnknownPayment(_("Unknown payment provider."))

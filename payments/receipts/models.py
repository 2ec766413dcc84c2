"""Fiscal receipts (54-FZ), one row each: what was sent, to whom, and what the
provider answered. Imported by payments/models.py, so they belong to the
payments app; payments/receipts/services.py writes them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import CURRENCY_CHOICES, MONEY_DIGITS, MONEY_PLACES


class Receipt(models.Model):
    """A fiscal receipt owed for a payment, its settlement or a refund.

    A card or SBP payment's receipt and a card refund's receipt travel with
    the provider call that takes or returns the money (YooKassa's `receipt`
    object); a settlement receipt and a cash-on-delivery receipt are sent on
    their own. Either way the row stays pending until the provider says the
    receipt was registered, and the sweep asks again until it does."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("Payment (prepayment or cash on delivery)")
        SETTLEMENT = "settlement", _("Settlement on handover")
        REFUND = "refund", _("Refund")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Registered")
        CANCELED = "canceled", _("Canceled")

    class Channel(models.TextChoices):
        # How the payload reaches the provider: inside the payment's or the
        # refund's own call, or as a receipt request of its own.
        WITH_PAYMENT = "with_payment", _("With the payment")
        WITH_REFUND = "with_refund", _("With the refund")
        OWN = "own", _("Receipt request")

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="receipts")
    payment = models.ForeignKey(
        "payments.Payment", on_delete=models.PROTECT, related_name="receipts"
    )
    refund = models.OneToOneField(
        "payments.Refund",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="receipt",
    )
    # A refund Amur makes of money captured after it gave the payment up
    # (payments.card: a late capture) has no Refund row: its receipt rides
    # in that provider call.
    provider_call = models.OneToOneField(
        "payments.ProviderCall",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="receipt",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    provider = models.CharField(max_length=20)
    provider_id = models.CharField(max_length=100, blank=True)
    idempotence_key = models.CharField(max_length=120, unique=True)
    # The receipt object exactly as sent (YooKassa's shape).
    payload = models.JSONField()
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="RUB")
    attempts = models.PositiveSmallIntegerField(default=0)
    # A worker sending or checking the receipt holds it until then.
    locked_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    registered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("fiscal receipt")
        verbose_name_plural = _("fiscal receipts")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["payment"], condition=Q(kind="payment"), name="receipt_one_per_payment"
            ),
            models.UniqueConstraint(
                fields=["order"], condition=Q(kind="settlement"), name="receipt_one_settlement"
            ),
            models.CheckConstraint(
                condition=Q(kind="refund", refund__isnull=False, provider_call__isnull=True)
                | Q(kind="refund", refund__isnull=True, provider_call__isnull=False)
                | (~Q(kind="refund") & Q(refund__isnull=True, provider_call__isnull=True)),
                name="receipt_refund_with_refund",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="receipt_amount_positive"),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="pending"), name="receipt_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} receipt {self.idempotence_key} ({self.status})"

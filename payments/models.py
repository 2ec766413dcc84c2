from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.money import CURRENCY_CHOICES, MONEY_DIGITS, MONEY_PLACES, RATE_DIGITS, RATE_PLACES
from orders.models import Order


class ExchangeRate(models.Model):
    """Roubles for one unit of a currency on a date (Central Bank of Russia)."""

    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    date = models.DateField()
    rate_to_rub = models.DecimalField(max_digits=RATE_DIGITS, decimal_places=RATE_PLACES)
    source = models.CharField(max_length=40, default="cbr")
    fetched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("exchange rate")

        verbose_name_plural = _("exchange rates")
        ordering = ["-date", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "date"], name="rate_one_per_day"),
            models.CheckConstraint(condition=Q(rate_to_rub__gt=0), name="rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.date}: {self.rate_to_rub} RUB"


class Payment(models.Model):
    class Method(models.TextChoices):
        CARD = "card", _("Card")
        COD = "cod", _("Cash on delivery")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        AWAITING_CASH = "awaiting_cash", _("Awaiting cash on delivery")
        CAPTURED = "captured", _("Captured")
        FAILED = "failed", _("Failed")
        VOIDED = "voided", _("Voided")
        REFUNDED = "refunded", _("Refunded")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=4, choices=Method.choices)
    provider = models.CharField(max_length=20)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    refunded_amount = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, default=0
    )
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="RUB")
    provider_reference = models.CharField(max_length=100, blank=True)
    decline_code = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    captured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("payment")

        verbose_name_plural = _("payments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="payment_refund_within_amount",
            ),
            models.UniqueConstraint(
                fields=["order"],
                condition=Q(status__in=["captured", "awaiting_cash", "refunded"]),
                name="payment_one_settled_per_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.method} {self.amount} {self.currency} {self.status}"


class PaymentEvent(models.Model):
    class Kind(models.TextChoices):
        AUTHORISED = "authorised", _("Authorised")
        CAPTURED = "captured", _("Captured")
        VOIDED = "voided", _("Voided")
        REFUNDED = "refunded", _("Refunded")
        FAILED = "failed", _("Failed")
        COD_CONFIRMED = "cod_confirmed", _("Cash on delivery confirmed")

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("payment event")

        verbose_name_plural = _("payment events")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.kind} {self.amount}"

"""Cash on delivery on the courier's side: every cash_collected scan, the
cash couriers hand over, and the daily reconciliation of the two against the
cash due (payments/cod/services.py writes them). Imported by
payments/models.py, so they belong to the payments app."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import CURRENCY_CHOICES, MONEY_DIGITS, MONEY_PLACES


class CashCollection(models.Model):
    """One accepted cash_collected scan: what the courier says the buyer paid."""

    class Outcome(models.TextChoices):
        CAPTURED = "captured", _("Captured the cash-on-delivery payment")
        UNMATCHED = "unmatched", _("Held: does not match the cash due")
        REPEAT = "repeat", _("Repeat report of a collected payment")

    courier = models.ForeignKey(
        "accounts.Courier", on_delete=models.PROTECT, related_name="cash_collections"
    )
    parcel = models.ForeignKey(
        "shipping.Parcel", on_delete=models.PROTECT, related_name="cash_collections"
    )
    order = models.ForeignKey(
        "orders.Order", on_delete=models.PROTECT, related_name="cash_collections"
    )
    payment = models.ForeignKey(
        "payments.Payment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cash_collections",
    )
    scan_id = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES)
    due = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        null=True,
        blank=True,
        help_text=_("Cash due on the order when the scan arrived"),
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    collected_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("cash collection")
        verbose_name_plural = _("cash collections")
        ordering = ["-collected_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="cash_collection_positive"),
        ]
        indexes = [
            models.Index(fields=["courier", "collected_at"], name="cash_collection_courier_day")
        ]

    def __str__(self) -> str:
        return f"{self.scan_id}: {self.amount} {self.currency} ({self.outcome})"


class CourierRemittance(models.Model):
    """Cash a courier handed to the operator (or paid into its bank) for the
    collections of one day."""

    courier = models.ForeignKey(
        "accounts.Courier", on_delete=models.PROTECT, related_name="remittances"
    )
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="RUB")
    reference = models.CharField(
        max_length=100, help_text=_("Cash receipt or bank payment order number")
    )
    day = models.DateField(help_text=_("The collection day this cash is for"))
    received_at = models.DateTimeField()
    ledger_transaction = models.OneToOneField(
        "payments.LedgerTransaction",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("courier remittance")
        verbose_name_plural = _("courier remittances")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="remittance_positive"),
            models.UniqueConstraint(
                fields=["courier", "reference"], name="remittance_reference_unique"
            ),
        ]
        indexes = [models.Index(fields=["courier", "day"], name="remittance_courier_day")]

    def __str__(self) -> str:
        return f"{self.courier_id} {self.day}: {self.amount} {self.currency} ({self.reference})"


class CodDifference(models.TextChoices):
    SHORT_COLLECTION = "short_collection", _("Collected less than was due")
    OVER_COLLECTION = "over_collection", _("Collected more than was due")
    SHORT_REMITTANCE = "short_remittance", _("Remitted less than was collected")
    OVER_REMITTANCE = "over_remittance", _("Remitted more than was collected")


class CodReconciliation(models.Model):
    """One courier's cash on one day: due, collected, remitted. Rebuilt by
    every run of cod_reconcile for that day; flagged when any differs."""

    courier = models.ForeignKey(
        "accounts.Courier", on_delete=models.PROTECT, related_name="cod_reconciliations"
    )
    day = models.DateField()
    currency = models.CharField(max_length=3, choices=CURRENCY_CHOICES, default="RUB")
    expected = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    collected = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    remitted = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    collection_difference = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        help_text=_("Collected less expected"),
    )
    remittance_difference = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        help_text=_("Remitted less collected"),
    )
    flagged = models.BooleanField(default=False)
    reasons = models.JSONField(default=list, blank=True)
    orders = models.JSONField(
        default=list, blank=True, help_text=_("Orders whose cash collected differs from the due")
    )
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("cash-on-delivery reconciliation")
        verbose_name_plural = _("cash-on-delivery reconciliations")
        ordering = ["-day", "courier_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["courier", "day", "currency"], name="cod_reconciliation_one_per_day"
            ),
            models.CheckConstraint(
                condition=Q(flagged=True)
                | (Q(collection_difference=0) & Q(remittance_difference=0)),
                name="cod_reconciliation_difference_flagged",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.courier_id} {self.day} {self.currency}"

"""Customs: the import duty rules and the reasons customs hold a parcel."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DutyRule(models.Model):
    """Russian personal-import allowance, effective-dated: the newest row whose
    valid_from has come applies."""

    valid_from = models.DateField(unique=True)
    value_threshold_eur = models.DecimalField(max_digits=10, decimal_places=2)
    weight_threshold_kg = models.DecimalField(max_digits=8, decimal_places=3)
    rate_on_excess_value = models.DecimalField(max_digits=5, decimal_places=4)
    min_eur_per_excess_kg = models.DecimalField(max_digits=8, decimal_places=2)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("duty rule")

        verbose_name_plural = _("duty rules")
        ordering = ["-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(value_threshold_eur__gte=0)
                & Q(weight_threshold_kg__gte=0)
                & Q(rate_on_excess_value__gte=0)
                & Q(rate_on_excess_value__lte=1)
                & Q(min_eur_per_excess_kg__gte=0),
                name="duty_rule_sane",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"from {self.valid_from}: EUR {self.value_threshold_eur}"
            f" / {self.weight_threshold_kg} kg"
        )


class CustomsHoldReason(models.TextChoices):
    """Why customs hold a parcel, as the courier's `customs_held` scan reports it."""

    DOCUMENTS = "documents", _("Documents are missing or incomplete")
    VALUATION = "valuation", _("The declared value is questioned")
    PROHIBITED = "prohibited", _("The goods are prohibited or restricted")
    INSPECTION = "inspection", _("Held for physical inspection")
    DUTIES = "duties", _("Import duty must be paid")

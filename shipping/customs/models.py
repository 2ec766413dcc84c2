"""Customs: the import duty rules and the reasons customs hold a parcel."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DutyBasis(models.TextChoices):
    EXCESS = "excess", _("Over the threshold")
    WHOLE = "whole", _("The whole amount")


class DutyScope(models.TextChoices):
    PARCEL = "parcel", _("Each parcel")
    PURCHASE = "purchase", _("Each purchase (all parcels of an order together)")


class DutyRule(models.Model):
    """The EAEU allowance for goods individuals buy abroad, effective-dated:
    the newest row whose valid_from has come applies to an order placed that
    day. Above the thresholds the duty is `rate` of the value (over the value
    threshold, or the whole value) but at least `min_eur_per_kg` for each kg
    (over the weight threshold, or every kg); docs/customs-duty.md."""

    valid_from = models.DateField(unique=True)
    scope = models.CharField(max_length=8, choices=DutyScope.choices, default=DutyScope.PARCEL)
    value_threshold_eur = models.DecimalField(max_digits=10, decimal_places=2)
    weight_threshold_kg = models.DecimalField(
        max_digits=8,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("Empty: no weight allowance, only the value threshold makes goods dutiable"),
    )
    value_basis = models.CharField(
        max_length=6, choices=DutyBasis.choices, default=DutyBasis.EXCESS
    )
    rate = models.DecimalField(max_digits=5, decimal_places=4)
    weight_basis = models.CharField(
        max_length=6, choices=DutyBasis.choices, default=DutyBasis.EXCESS
    )
    min_eur_per_kg = models.DecimalField(max_digits=8, decimal_places=2)
    import_vat_rate = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Empty: no import VAT is charged at checkout"),
    )
    import_vat_from_first_euro = models.BooleanField(
        default=False,
        help_text=_("VAT on every parcel or purchase, not only on those that pay duty"),
    )
    source = models.CharField(max_length=300, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("duty rule")

        verbose_name_plural = _("duty rules")
        ordering = ["-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(value_threshold_eur__gte=0)
                & (Q(weight_threshold_kg__isnull=True) | Q(weight_threshold_kg__gte=0))
                & Q(rate__gte=0)
                & Q(rate__lte=1)
                & Q(min_eur_per_kg__gte=0)
                & (
                    Q(import_vat_rate__isnull=True)
                    | (Q(import_vat_rate__gte=0) & Q(import_vat_rate__lte=1))
                ),
                name="duty_rule_sane",
            ),
            # An allowance by weight needs a threshold to count the excess from.
            models.CheckConstraint(
                condition=~Q(weight_basis="excess", weight_threshold_kg__isnull=True),
                name="duty_rule_weight_excess_has_threshold",
            ),
        ]

    def __str__(self) -> str:
        weight = f" / {self.weight_threshold_kg} kg" if self.weight_threshold_kg is not None else ""
        return f"from {self.valid_from}: EUR {self.value_threshold_eur}{weight}"


hs_prefix_validator = RegexValidator(r"^\d{2,10}$", _("An HS code prefix has 2 to 10 digits."))


class DutyExclusion(models.Model):
    """Goods that may not be cleared with the simplified e-commerce
    declaration under a rule, by HS code prefix: Amur does not sell them
    across the border while the rule is in force."""

    rule = models.ForeignKey(DutyRule, on_delete=models.CASCADE, related_name="exclusions")
    hs_prefix = models.CharField(max_length=10, validators=[hs_prefix_validator])
    description = models.CharField(max_length=200)

    class Meta:
        verbose_name = _("goods excluded from the simplified declaration")
        verbose_name_plural = _("goods excluded from the simplified declaration")
        ordering = ["rule", "hs_prefix"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "hs_prefix"], name="duty_exclusion_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.hs_prefix} {self.description}"


class CustomsHoldReason(models.TextChoices):
    """Why customs hold a parcel, as the courier's `customs_held` scan reports it."""

    DOCUMENTS = "documents", _("Documents are missing or incomplete")
    VALUATION = "valuation", _("The declared value is questioned")
    PROHIBITED = "prohibited", _("The goods are prohibited or restricted")
    INSPECTION = "inspection", _("Held for physical inspection")
    DUTIES = "duties", _("Import duty must be paid")

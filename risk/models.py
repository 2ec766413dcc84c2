"""Risk rules are data, so operators tune them in the admin without a
release; a hold records why an order waits for staff review and who decided."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import MONEY_DIGITS, MONEY_PLACES
from orders.models import Order, OrderStatus


class RuleKind(models.TextChoices):
    ORDERS_PER_HOUR = "orders_per_hour", _("Orders per buyer per hour")
    NEW_ACCOUNT_CAP = "new_account_cap", _("Order total cap for new accounts (RUB)")
    CARD_COUNTRY = "card_country", _("Card country differs from the delivery country")
    COD_CAP = "cod_cap", _("Cash-on-delivery order total cap (RUB)")


class RiskRule(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    kind = models.CharField(max_length=20, choices=RuleKind.choices)
    limit = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        null=True,
        blank=True,
        help_text=_(
            "The largest value allowed: orders in the last hour, or an order total in RUB. "
            "Anything above it holds the order. Not used for the card country rule."
        ),
    )
    account_age_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("New account rule only: accounts younger than this many days."),
    )
    is_active = models.BooleanField(default=True)
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("risk rule")
        verbose_name_plural = _("risk rules")
        ordering = ["kind", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=RuleKind.CARD_COUNTRY) | Q(limit__isnull=False, limit__gte=0),
                name="risk_rule_limit_required",
            ),
            models.CheckConstraint(
                condition=~Q(kind=RuleKind.NEW_ACCOUNT_CAP) | Q(account_age_days__gt=0),
                name="risk_rule_new_account_age_required",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Decision(models.TextChoices):
    PENDING = "", _("Awaiting review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn: the order was cancelled")


class RiskHold(models.Model):
    """One hold of an order by the risk rules and its review."""

    class Stage(models.TextChoices):
        PLACEMENT = "placement", _("Order placement")
        PAYMENT = "payment", _("Card payment")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="risk_holds")
    stage = models.CharField(max_length=10, choices=Stage.choices)
    held_from = models.CharField(max_length=20, choices=OrderStatus.choices)
    reasons = models.JSONField(default=list, help_text=_("The rules tripped and the values seen."))
    created_at = models.DateTimeField(auto_now_add=True)
    decision = models.CharField(max_length=10, choices=Decision.choices, blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("held order")
        verbose_name_plural = _("held orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(decision=""), name="risk_hold_one_open_per_order"
            ),
            models.CheckConstraint(
                condition=Q(decision="", decided_at__isnull=True)
                | (~Q(decision="") & Q(decided_at__isnull=False)),
                name="risk_hold_decided_at_with_decision",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order} ({self.get_stage_display()})"

"""The people who use Amur besides operator staff: buyers, merchants' staff
and couriers, each a profile beside a Django user."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.models import Merchant
from core.validators import phone_validator


class Language(models.TextChoices):
    RU = "ru", "Русский"
    ZH = "zh-hans", "中文"
    EN = "en", "English"


class Buyer(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="buyer"
    )
    phone = models.CharField(max_length=12, blank=True, validators=[phone_validator])
    language = models.CharField(max_length=8, choices=Language.choices, default=Language.RU)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("buyer")
        verbose_name_plural = _("buyers")

    def __str__(self) -> str:
        return self.user.email or self.user.get_username()


class MerchantStaff(models.Model):
    """A user working for one merchant: sees only that merchant's data."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="merchant_staff"
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="staff")

    class Meta:
        verbose_name = _("merchant staff member")
        verbose_name_plural = _("merchant staff members")

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant}"


class Courier(models.Model):
    """A courier or carrier agent who reports scans. Which lanes it serves is
    kept by shipping (Lane.couriers); the regions it delivers in, here."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="courier"
    )
    name = models.CharField(max_length=100)
    company = models.CharField(max_length=100, blank=True)
    regions = models.JSONField(default=list, blank=True, help_text=_("Region codes it delivers in"))

    class Meta:
        verbose_name = _("courier")
        verbose_name_plural = _("couriers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

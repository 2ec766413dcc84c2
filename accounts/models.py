"""The people who use Amur besides operator staff: buyers, merchants' staff
and couriers, each a profile beside a Django user."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from catalogue.models import Merchant
from core.models import IdentityDocument
from core.validators import country_validator, phone_validator


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
    # Where the person works: access from outside Russia to Russian buyers'
    # data is a cross-border transfer (152-FZ art. 12), so only staff in
    # Russia see recipients' phones unmasked.
    country = models.CharField(
        max_length=2,
        default="CN",
        validators=[country_validator],
        help_text=_("ISO country code of where this person works"),
    )

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


class BuyerIdentity(IdentityDocument):
    """The identity document a buyer saved once in the profile; copied onto
    each order whose parcels cross the border."""

    buyer = models.OneToOneField(Buyer, on_delete=models.CASCADE, related_name="identity")

    class Meta:
        verbose_name = _("buyer's identity document")
        verbose_name_plural = _("buyers' identity documents")


class PersonalDataConsent(models.Model):
    """A buyer's consent to the processing of personal data (152-FZ art. 9),
    recorded at registration: which policy, when; withdrawn_at once taken back."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_data_consents"
    )
    policy_version = models.CharField(max_length=40)
    given_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("personal data consent")
        verbose_name_plural = _("personal data consents")
        ordering = ["-given_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.policy_version} @ {self.given_at:%Y-%m-%d}"


# The zones Amur's staff work in: Harbin and Suifenhe (China's one zone), the
# Russian warehouses' cities, and the operator's UTC.
TIME_ZONE_CHOICES = [
    ("Asia/Shanghai", _("China (Harbin, Suifenhe), UTC+8")),
    ("Asia/Vladivostok", _("Vladivostok, UTC+10")),
    ("Asia/Novosibirsk", _("Novosibirsk, UTC+7")),
    ("Asia/Krasnoyarsk", _("Krasnoyarsk, UTC+7")),
    ("Asia/Yekaterinburg", _("Yekaterinburg, UTC+5")),
    ("Europe/Moscow", _("Moscow, UTC+3")),
    ("UTC", _("UTC")),
]


class StaffPreference(models.Model):
    """A staff user's own settings for the admin. Without a row (or with an
    empty zone) merchant staff read Asia/Shanghai and operators UTC."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_preference",
        verbose_name=_("user"),
    )
    time_zone = models.CharField(
        _("time zone"), max_length=40, choices=TIME_ZONE_CHOICES, blank=True, default=""
    )

    class Meta:
        verbose_name = _("staff preference")
        verbose_name_plural = _("staff preferences")

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone or '-'}"

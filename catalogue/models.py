"""The catalogue: the merchants who sell and the products (SKUs) they sell."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.money import MONEY_DIGITS, MONEY_PLACES
from core.validators import country_validator, hs_code_validator


class Merchant(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    name_zh = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, default="Harbin")
    contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="products")
    sku = models.CharField(
        max_length=64,
        unique=True,
        validators=[RegexValidator(r"^[A-Z0-9][A-Z0-9-]{1,63}$", _("Use A-Z, 0-9 and dashes."))],
    )
    name_ru = models.CharField(max_length=200)
    name_zh = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    description_ru = models.TextField(blank=True)
    description_zh = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    hs_code = models.CharField(max_length=10, validators=[hs_code_validator])
    weight_g = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    length_mm = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    width_mm = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    height_mm = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    price_cny = models.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    origin_country = models.CharField(max_length=2, default="CN", validators=[country_validator])
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(price_cny__gt=0), name="product_price_positive"),
            models.CheckConstraint(condition=Q(weight_g__gt=0), name="product_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name_en}"

    def name_in(self, language: str) -> str:
        return {"zh-hans": self.name_zh, "en": self.name_en}.get(language) or self.name_ru

    def description_in(self, language: str) -> str:
        return {"zh-hans": self.description_zh, "en": self.description_en}.get(
            language
        ) or self.description_ru

    @property
    def volume_cm3(self) -> Decimal:
        return Decimal(self.length_mm * self.width_mm * self.height_mm) / 1000

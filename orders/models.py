from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Buyer
from catalogue.models import Merchant, Product
from core.models import IdentityDocument
from core.money import MONEY_DIGITS, MONEY_PLACES, RATE_DIGITS, RATE_PLACES
from core.regions import REGION_CHOICES
from core.validators import phone_validator, postcode_validator

HALF_CENT = Decimal("0.005")


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Pending payment")
    PAID = "paid", _("Paid")
    # Held by a risk rule until operator staff approve or reject it.
    ON_HOLD = "on_hold", _("On review")
    COD_CONFIRMED = "cod_confirmed", _("Cash on delivery confirmed")
    ALLOCATED = "allocated", _("Allocated")
    PACKED = "packed", _("Packed")
    IN_TRANSIT = "in_transit", _("In transit")
    DELIVERED = "delivered", _("Delivered")
    # Every parcel came back to the sender (refused, not collected).
    RETURNED = "returned", _("Returned to sender")
    CANCELLED = "cancelled", _("Cancelled")


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card")
    COD = "cod", _("Cash on delivery")


def _money(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, **kwargs)  # type: ignore[arg-type]


class Order(models.Model):
    number = models.CharField(max_length=20, unique=True)
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT
    )
    payment_method = models.CharField(max_length=4, choices=PaymentMethod.choices)
    # Delivery address, copied at checkout so later edits do not rewrite history.
    recipient_name = models.CharField(max_length=200)
    recipient_phone = models.CharField(max_length=12, validators=[phone_validator])
    region = models.CharField(max_length=6, choices=REGION_CHOICES)
    city = models.CharField(max_length=100)
    postcode = models.CharField(max_length=6, validators=[postcode_validator])
    street = models.CharField(max_length=300)
    # Money: goods priced in CNY, charged in RUB at the recorded rates.
    currency = models.CharField(max_length=3, default="RUB", editable=False)
    goods_cny = _money()
    goods_rub = _money()
    shipping_rub = _money()
    duty_rub = _money()
    total_rub = _money()
    cny_rub_rate = models.DecimalField(max_digits=RATE_DIGITS, decimal_places=RATE_PLACES)
    eur_rub_rate = models.DecimalField(max_digits=RATE_DIGITS, decimal_places=RATE_PLACES)
    rates_date = models.DateField()
    plan = models.JSONField(default=list, help_text=_("The planned parcels the buyer was quoted."))
    event_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    # When the retention run erased the recipient's personal data (152-FZ).
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("order")

        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(goods_rub__gte=0) & Q(shipping_rub__gte=0) & Q(duty_rub__gte=0),
                name="order_amounts_not_negative",
            ),
            # Within half a kopek: SQLite keeps decimals as floating point.
            models.CheckConstraint(
                condition=Q(
                    total_rub__gt=F("goods_rub") + F("shipping_rub") + F("duty_rub") - HALF_CENT
                )
                & Q(total_rub__lt=F("goods_rub") + F("shipping_rub") + F("duty_rub") + HALF_CENT),
                name="order_total_adds_up",
            ),
            models.CheckConstraint(condition=Q(cny_rub_rate__gt=0), name="order_rate_positive"),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="order_status_created"),
            # The hourly payables release reads delivered orders by when.
            models.Index(
                fields=["delivered_at"],
                name="order_delivered",
                condition=Q(status="delivered"),
            ),
            # The daily recipients' retention reads closed orders not yet
            # anonymised: the indexes hold only those, not every order ever closed.
            models.Index(
                fields=["delivered_at"],
                name="order_delivered_to_anonymise",
                condition=Q(status="delivered", anonymised_at__isnull=True),
            ),
            models.Index(
                fields=["cancelled_at"],
                name="order_cancelled_to_anonymise",
                condition=Q(status="cancelled", anonymised_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="order_lines")
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit_price_cny = _money()
    line_total_cny = _money()
    # The storefront's page of the good as sold: customs want a link to each
    # good of an express parcel (FTS order No. 1861).
    product_url = models.URLField(max_length=500, blank=True, default="", db_default="")

    class Meta:
        verbose_name = _("order line")

        verbose_name_plural = _("order lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="order_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(line_total_cny__gt=F("unit_price_cny") * F("quantity") - HALF_CENT)
                & Q(line_total_cny__lt=F("unit_price_cny") * F("quantity") + HALF_CENT),
                name="order_line_total_adds_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} x {self.quantity}"


class OrderEvent(models.Model):
    """Audit trail: one row per status change, written with the change."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    sequence = models.PositiveIntegerField()
    from_status = models.CharField(max_length=20, choices=OrderStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("order event")

        verbose_name_plural = _("order events")
        ordering = ["order_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "sequence"], name="order_event_sequence_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.number} #{self.sequence}: {self.get_to_status_display()}"


class OrderRecipientIdentity(IdentityDocument):
    """The identity document the order's parcels are declared with: copied
    from the buyer's profile at placement or given for this order before
    packing. Deleted by the retention run (orders.retention)."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="recipient_identity")

    class Meta:
        verbose_name = _("recipient's identity document")
        verbose_name_plural = _("recipients' identity documents")

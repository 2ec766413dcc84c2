from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from catalogue.models import Product
from core.places import city_name
from orders.models import Order, OrderLine


class Warehouse(models.Model):
    class Kind(models.TextChoices):
        DOMESTIC = "domestic", _("Domestic (China)")
        BORDER = "border", _("Border")
        OVERSEAS = "overseas", _("Overseas (Russia)")

    # The ops URLs take codes of these characters only (core.converters).
    code = models.CharField(
        max_length=8,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", _("Use letters, digits, _ and -."))],
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    city = models.CharField(max_length=100)
    country = models.CharField(max_length=2)
    address = models.CharField(max_length=300, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("warehouse")

        verbose_name_plural = _("warehouses")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {city_name(self.code)}"


class StockLevel(models.Model):
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    location = models.CharField(max_length=20, blank=True, help_text=_("Bin, e.g. A-03-2"))
    low_stock_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_(
            "The merchant's staff are notified (stock.low) when available units fall below this."
        ),
    )

    class Meta:
        verbose_name = _("stock level")

        verbose_name_plural = _("stock levels")
        ordering = ["warehouse_id", "product_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["warehouse", "product"], name="stock_one_row_per_place"
            ),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__gte=0), name="stock_reserved_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"
            ),
        ]

    def __str__(self) -> str:
        return _("{sku} at {warehouse}: {on_hand} on hand, {reserved} reserved").format(
            sku=self.product.sku,
            warehouse=city_name(self.warehouse.code),
            on_hand=self.on_hand,
            reserved=self.reserved,
        )

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockMovement(models.Model):
    """Append-only ledger: every stock level is the sum of its movements."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        RESERVATION = "reservation", _("Reservation")
        RELEASE = "release", _("Release")
        PICK = "pick", _("Pick")
        ADJUSTMENT = "adjustment", _("Adjustment")
        TRANSFER_OUT = "transfer_out", _("Transfer out")
        TRANSFER_IN = "transfer_in", _("Transfer in")
        RETURN = "return", _("Return")

    stock = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    on_hand_delta = models.IntegerField(default=0)
    reserved_delta = models.IntegerField(default=0)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("stock movement")

        verbose_name_plural = _("stock movements")
        ordering = ["id"]

    def __str__(self) -> str:
        return _("{kind}: on hand {on_hand:+}, reserved {reserved:+}").format(
            kind=self.get_kind_display(), on_hand=self.on_hand_delta, reserved=self.reserved_delta
        )


class Reservation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        RELEASED = "released", _("Released")
        PICKED = "picked", _("Picked")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reservations")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="reservations")
    stock = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("reservation")

        verbose_name_plural = _("reservations")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="reservation_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order.number}: {self.quantity} × {self.stock.product.sku}"

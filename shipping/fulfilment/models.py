"""Fulfilment: parcels, their contents, and the S10 tracking number series."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from catalogue.models import Merchant
from core.money import MONEY_DIGITS, MONEY_PLACES
from orders.models import Order, OrderLine
from shipping.linehaul.models import Departure, Lane
from warehouses.models import Warehouse


class ParcelStatus(models.TextChoices):
    INFO_RECEIVED = "info_received", _("Information received")
    IN_TRANSIT = "in_transit", _("In transit")
    IN_CUSTOMS = "in_customs", _("In customs")
    CUSTOMS_HELD = "customs_held", _("Held by customs")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    DELIVERY_FAILED = "delivery_failed", _("Delivery failed")
    AVAILABLE_FOR_PICKUP = "available_for_pickup", _("Available for pickup")
    DELIVERED = "delivered", _("Delivered")
    RETURNED = "returned", _("Returned")
    EXCEPTION = "exception", _("Exception")
    EXPIRED = "expired", _("Expired")


class UnassignedReason(models.TextChoices):
    NO_OPEN_DEPARTURE = "no_open_departure", _("No open departure before its cut-off.")
    NO_CAPACITY = "no_capacity", _("No capacity left on the open departures.")


class FulfilmentOrderStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting payment")
    READY = "ready", _("Ready to pack")
    PACKED = "packed", _("Packed")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    # Every parcel of the part back with the sender, none delivered.
    RETURNED = "returned", _("Returned to the sender")
    CANCELLED = "cancelled", _("Cancelled")


class FulfilmentOrder(models.Model):
    """One merchant's goods of an order from one warehouse: what that
    merchant packs and ships (as Shopify's FulfillmentOrder). The buyer sees
    one order; each fulfilment order is one of its shipments."""

    order = models.ForeignKey(
        Order,
        on_delete=models.PROTECT,
        related_name="fulfilment_orders",
        verbose_name=_("order"),
    )
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        related_name="fulfilment_orders",
        verbose_name=_("merchant"),
    )
    warehouse = models.ForeignKey(
        Warehouse,
        on_delete=models.PROTECT,
        related_name="fulfilment_orders",
        verbose_name=_("warehouse"),
    )
    # The order's number and the part's place in it: 8H3K2M9Q-2.
    number = models.CharField(_("number"), max_length=24, unique=True)
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=FulfilmentOrderStatus.choices,
        default=FulfilmentOrderStatus.PENDING,
    )
    # This merchant's share of the goods, in the order's CNY prices.
    goods_cny = models.DecimalField(
        _("goods (CNY)"), max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES
    )
    event_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("fulfilment order")
        verbose_name_plural = _("fulfilment orders")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "merchant", "warehouse"], name="fulfilment_order_one_per_part"
            ),
            models.CheckConstraint(
                condition=Q(goods_cny__gte=0), name="fulfilment_order_goods_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "status"], name="fulfilment_order_merchant"),
        ]

    def __str__(self) -> str:
        return self.number


class FulfilmentOrderLine(models.Model):
    fulfilment_order = models.ForeignKey(
        FulfilmentOrder, on_delete=models.CASCADE, related_name="lines"
    )
    line = models.ForeignKey(
        OrderLine,
        on_delete=models.PROTECT,
        related_name="fulfilment_lines",
        verbose_name=_("order line"),
    )
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("fulfilment order line")
        verbose_name_plural = _("fulfilment order lines")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fulfilment_order", "line"], name="fulfilment_line_once"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="fulfilment_line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line.sku} × {self.quantity}"


class FulfilmentOrderEvent(models.Model):
    """Audit trail of a fulfilment order: one row per status change."""

    fulfilment_order = models.ForeignKey(
        FulfilmentOrder, on_delete=models.CASCADE, related_name="events"
    )
    sequence = models.PositiveIntegerField(_("sequence"))
    from_status = models.CharField(
        _("from"), max_length=10, choices=FulfilmentOrderStatus.choices, blank=True
    )
    to_status = models.CharField(_("to"), max_length=10, choices=FulfilmentOrderStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("by"),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("fulfilment step")
        verbose_name_plural = _("fulfilment steps")
        ordering = ["fulfilment_order_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["fulfilment_order", "sequence"], name="fulfilment_event_sequence_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fulfilment_order_id} #{self.sequence} {self.from_status}->{self.to_status}"


class Parcel(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="parcels")
    # Empty on parcels packed before orders were split, whose contents the
    # data migration could not give to one merchant.
    fulfilment_order = models.ForeignKey(
        FulfilmentOrder,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parcels",
        verbose_name=_("fulfilment order"),
    )
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="parcels")
    lane = models.ForeignKey(Lane, on_delete=models.PROTECT, related_name="parcels")
    departure = models.ForeignKey(
        Departure, null=True, blank=True, on_delete=models.PROTECT, related_name="parcels"
    )
    tracking_number = models.CharField(max_length=13, unique=True)
    status = models.CharField(
        max_length=20, choices=ParcelStatus.choices, default=ParcelStatus.INFO_RECEIVED, blank=True
    )
    weight_g = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    length_mm = models.PositiveIntegerField()
    width_mm = models.PositiveIntegerField()
    height_mm = models.PositiveIntegerField()
    value_cny = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    # The customs payments the buyer prepaid for this parcel (duty and any
    # import VAT), as quoted (shipping.customs.duty); empty on parcels packed
    # before they were recorded.
    duty_eur = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    duty_rub = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    # The last mile past Amur's couriers (shipping.lastmile): the point the
    # buyer collects from, its carrier, and the carrier's own number for the
    # parcel beside the S10 (CDEK's waybill number; Russian Post tracks the S10).
    pickup_point = models.ForeignKey(
        "shipping.PickupPoint",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parcels",
    )
    carrier = models.CharField(max_length=20, blank=True)
    carrier_number = models.CharField(max_length=32, blank=True, db_index=True)
    promised_min_days = models.PositiveSmallIntegerField()
    promised_max_days = models.PositiveSmallIntegerField()
    unassigned_reason = models.CharField(
        max_length=20, choices=UnassignedReason.choices, blank=True
    )
    event_seq = models.PositiveIntegerField(default=0)
    expected_weight_g = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Sum of the contents' catalogue weights")
    )
    weight_override_reason = models.CharField(
        max_length=300,
        blank=True,
        help_text=_("Why a measured weight outside the tolerance was accepted"),
    )
    weight_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("parcel")

        verbose_name_plural = _("parcels")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(weight_g__gt=0), name="parcel_weight_positive"),
        ]
        indexes = [
            models.Index(
                fields=["lane", "created_at"],
                name="parcel_to_plan",
                condition=Q(departure__isnull=True),
            ),
            # The daily expiry of silent trackers (shipping.tracking.expiry).
            models.Index(fields=["status", "created_at"], name="parcel_open_by_age"),
        ]

    def __str__(self) -> str:
        return self.tracking_number

    @property
    def volume_m3(self) -> Decimal:
        return Decimal(self.length_mm * self.width_mm * self.height_mm) / Decimal(1_000_000_000)


class ParcelLine(models.Model):
    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("parcel line")

        verbose_name_plural = _("parcel lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="parcel_line_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parcel_id}: {self.line_id} x {self.quantity}"


class TrackingSeries(models.Model):
    """An S10 series: a prefix and country with a range of serials, used in
    `priority` order until exhausted (shipping.fulfilment.numbers). On
    PostgreSQL the position is a sequence of its own (`sequence_name`) and
    `next_serial` only its starting point; on SQLite `next_serial` is the
    position, taken under the row's lock."""

    prefix = models.CharField(max_length=2)
    country = models.CharField(max_length=2)
    next_serial = models.PositiveIntegerField(default=1)
    first_serial = models.PositiveIntegerField(default=1)
    last_serial = models.PositiveIntegerField(default=99_999_999)
    priority = models.PositiveSmallIntegerField(
        default=0, help_text=_("Series are used lowest first, the next when one runs out.")
    )
    is_active = models.BooleanField(default=True)
    # When its last number was issued: it may start again 12 months later.
    exhausted_at = models.DateTimeField(null=True, blank=True)
    # When it passed 80 % used (the alert is given once per cycle).
    warned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("tracking number series")
        verbose_name_plural = _("tracking number series")
        ordering = ["priority", "id"]
        constraints = [
            models.UniqueConstraint(fields=["prefix", "country"], name="tracking_series_unique"),
            models.CheckConstraint(
                condition=Q(next_serial__lte=99_999_999), name="tracking_series_range"
            ),
            models.CheckConstraint(
                condition=Q(first_serial__gte=1)
                & Q(first_serial__lte=F("last_serial"))
                & Q(last_serial__lte=99_999_999),
                name="tracking_series_bounds",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}..{self.country}"

    @property
    def sequence_name(self) -> str:
        return f"s10_series_{self.id}"

    @property
    def size(self) -> int:
        return self.last_serial - self.first_serial + 1

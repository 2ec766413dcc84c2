"""The last mile: pickup points and lockers, an order's delivery choice, and
the shipments handed to a carrier (CDEK, Russian Post)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.regions import REGION_CHOICES


class Carrier(models.TextChoices):
    CDEK = "cdek", _("CDEK")
    RUSSIAN_POST = "russian_post", _("Russian Post")


class PointKind(models.TextChoices):
    PICKUP_POINT = "pickup_point", _("Pickup point")
    LOCKER = "locker", _("Parcel locker")


class DeliveryKind(models.TextChoices):
    DOOR = "door", _("To the door")
    PICKUP_POINT = "pickup_point", _("To a pickup point")


class PickupPoint(models.Model):
    carrier = models.CharField(max_length=20, choices=Carrier.choices)
    # The carrier's own code; unique across carriers (CDEK codes are letters
    # and digits, Russian Post's are the office's postcode with a prefix), so
    # a checkout names a point by its code alone.
    code = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=20, choices=PointKind.choices)
    name = models.CharField(max_length=200)
    region = models.CharField(max_length=6, choices=REGION_CHOICES)
    city = models.CharField(max_length=100)
    # The city as searched (catalogue.search.search_fold): SQLite folds only
    # ASCII case, and buyers type ё as е.
    city_folded = models.CharField(max_length=100, editable=False, default="")
    postcode = models.CharField(max_length=6)
    address = models.CharField(max_length=300)
    latitude = models.DecimalField(max_digits=9, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)
    fias_id = models.UUIDField(null=True, blank=True, help_text=_("FIAS address object id"))
    opening_hours = models.CharField(max_length=200, blank=True)
    # Empty: no limit of that kind.
    max_weight_g = models.PositiveIntegerField(null=True, blank=True)
    max_length_mm = models.PositiveIntegerField(null=True, blank=True)
    max_width_mm = models.PositiveIntegerField(null=True, blank=True)
    max_height_mm = models.PositiveIntegerField(null=True, blank=True)
    cash_allowed = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("pickup point")
        verbose_name_plural = _("pickup points")
        ordering = ["code"]
        indexes = [
            models.Index(fields=["city_folded"], name="pickup_point_city"),
            models.Index(fields=["postcode"], name="pickup_point_postcode"),
            models.Index(fields=["latitude", "longitude"], name="pickup_point_position"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(latitude__gte=-90, latitude__lte=90)
                & Q(longitude__gte=-180, longitude__lte=180),
                name="pickup_point_coordinates",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def cell_mm(self) -> tuple[int, int, int] | None:
        dims = (self.max_length_mm, self.max_width_mm, self.max_height_mm)
        if any(d is None for d in dims):
            return None
        return (
            int(self.max_length_mm or 0),
            int(self.max_width_mm or 0),
            int(self.max_height_mm or 0),
        )


class OrderDelivery(models.Model):
    """Where an order goes: the buyer's door (Amur's couriers) or a pickup
    point (its carrier). Written at placement; orders without one go to the
    door."""

    order = models.OneToOneField(
        "orders.Order", on_delete=models.CASCADE, primary_key=True, related_name="delivery"
    )
    kind = models.CharField(max_length=20, choices=DeliveryKind.choices)
    pickup_point = models.ForeignKey(
        PickupPoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("order delivery")
        verbose_name_plural = _("order deliveries")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="door", pickup_point__isnull=True)
                | Q(kind="pickup_point", pickup_point__isnull=False),
                name="order_delivery_point_iff_point",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"


class ShipmentStatus(models.TextChoices):
    PENDING = "pending", _("To be registered with the carrier")
    REGISTERED = "registered", _("Registered with the carrier")
    FAILED = "failed", _("Refused by the carrier")
    CANCEL_PENDING = "cancel_pending", _("To be cancelled at the carrier")
    CANCELLED = "cancelled", _("Cancelled at the carrier")


class CarrierShipment(models.Model):
    """A parcel handed to a carrier: written in the packing transaction, its
    calls to the carrier made after commit from this row (claimed with a
    lease, retried with backoff), each idempotent on the carrier's side by
    the parcel's S10 number."""

    parcel = models.OneToOneField(
        "shipping.Parcel", on_delete=models.CASCADE, related_name="carrier_shipment"
    )
    carrier = models.CharField(max_length=20, choices=Carrier.choices)
    pickup_point = models.ForeignKey(
        PickupPoint, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.PENDING
    )
    # The carrier's id of the shipment (CDEK's order uuid).
    reference = models.CharField(max_length=64, blank=True, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    label_pdf = models.BinaryField(null=True, blank=True, editable=False)
    tracked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("carrier shipment")
        verbose_name_plural = _("carrier shipments")
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="carrier_shipment_due",
                condition=Q(status__in=["pending", "cancel_pending"]),
            ),
            # The tracking poll reads the registered (open) shipments per carrier.
            models.Index(
                fields=["carrier", "id"],
                name="carrier_shipment_open",
                condition=Q(status="registered"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.parcel_id} {self.status}"


class CarrierTicket(models.Model):
    """A batch tracking request (Russian Post's getTicket): its answer is
    collected by a later poll, once the carrier has prepared it."""

    carrier = models.CharField(max_length=20, choices=Carrier.choices)
    ticket = models.CharField(max_length=64, unique=True)
    numbers = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("carrier tracking ticket")
        verbose_name_plural = _("carrier tracking tickets")
        ordering = ["id"]
        indexes = [
            # The tracking poll collects the tickets not answered yet.
            models.Index(
                fields=["carrier", "id"],
                name="carrier_ticket_open",
                condition=Q(answered_at=None),
            )
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.ticket}"

"""Line-haul: lanes with their tariffs and delivery windows, the departures on
them, and the stock transfers that ride the departures."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from catalogue.models import Product
from core.money import MONEY_DIGITS, MONEY_PLACES
from core.places import city_name
from core.regions import REGION_CHOICES
from warehouses.models import Warehouse


class Lane(models.Model):
    class Mode(models.TextChoices):
        AIR = "air", _("Air")
        ROAD = "road", _("Road")
        RAIL = "rail", _("Rail")

    # The ops URLs take codes of these characters only (core.converters).
    code = models.CharField(
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$", _("Use letters, digits, _ and -."))],
    )
    name = models.CharField(max_length=100)
    origin = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="lanes")
    origin_hub = models.CharField(max_length=3, help_text=_("IATA or hub code, e.g. HRB"))
    destination_hub = models.CharField(max_length=3, help_text=_("e.g. SVX"))
    mode = models.CharField(max_length=4, choices=Mode.choices)
    carrier = models.CharField(max_length=100)
    transit_days = models.PositiveSmallIntegerField()
    crosses_border = models.BooleanField(default=True)
    max_parcel_weight_g = models.PositiveIntegerField(default=31_000)
    base_fee_cny = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    per_100g_cny = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    is_active = models.BooleanField(default=True)
    couriers = models.ManyToManyField(
        "accounts.Courier",
        blank=True,
        related_name="lanes",
    )

    class Meta:
        verbose_name = _("lane")

        verbose_name_plural = _("lanes")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(base_fee_cny__gte=0) & Q(per_100g_cny__gte=0),
                name="lane_tariff_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(max_parcel_weight_g__gt=0), name="lane_max_weight_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.display_name}"

    @property
    def display_name(self) -> str:
        """The lane in the reader's language, from its hubs and mode (the
        stored name is the operator's, in one language)."""
        return _("{origin} – {destination}, {mode}").format(
            origin=city_name(self.origin_hub),
            destination=city_name(self.destination_hub),
            mode=self.get_mode_display(),
        )


class LaneRegion(models.Model):
    """A region a lane delivers to, with the promised window from dispatch."""

    lane = models.ForeignKey(Lane, on_delete=models.CASCADE, related_name="regions")
    region = models.CharField(max_length=6, choices=REGION_CHOICES)
    min_days = models.PositiveSmallIntegerField()
    max_days = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = _("lane region")

        verbose_name_plural = _("lane regions")
        ordering = ["lane_id", "region"]
        constraints = [
            models.UniqueConstraint(fields=["lane", "region"], name="lane_region_unique"),
            models.CheckConstraint(
                condition=Q(min_days__lte=models.F("max_days")), name="lane_region_window"
            ),
        ]

    def __str__(self) -> str:
        return _("{region}: {low}-{high} days").format(
            region=self.get_region_display(), low=self.min_days, high=self.max_days
        )


class DepartureStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    LOADING = "loading", _("Loading")
    CLOSED = "closed", _("Closed")
    DEPARTED = "departed", _("Departed")
    ARRIVED = "arrived", _("Arrived")
    CANCELLED = "cancelled", _("Cancelled")


class Departure(models.Model):
    lane = models.ForeignKey(Lane, on_delete=models.PROTECT, related_name="departures")
    number = models.CharField(max_length=20, help_text=_("Flight, truck or train number"))
    scheduled_at = models.DateTimeField()
    cutoff_at = models.DateTimeField()
    capacity_kg = models.DecimalField(max_digits=10, decimal_places=3)
    capacity_m3 = models.DecimalField(max_digits=10, decimal_places=3)
    capacity_pieces = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=DepartureStatus.choices, default=DepartureStatus.SCHEDULED
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("departure")

        verbose_name_plural = _("departures")
        ordering = ["scheduled_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lane", "number", "scheduled_at"], name="departure_unique"
            ),
            models.CheckConstraint(
                condition=Q(cutoff_at__lte=models.F("scheduled_at")), name="departure_cutoff_before"
            ),
            models.CheckConstraint(
                condition=Q(capacity_kg__gt=0) & Q(capacity_m3__gt=0) & Q(capacity_pieces__gt=0),
                name="departure_capacity_positive",
            ),
        ]
        indexes = [models.Index(fields=["lane", "status", "scheduled_at"], name="departure_open")]

    def __str__(self) -> str:
        return f"{self.number} {self.scheduled_at:%Y-%m-%d %H:%M}"


class DepartureEvent(models.Model):
    departure = models.ForeignKey(Departure, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, choices=DepartureStatus.choices)
    to_status = models.CharField(max_length=10, choices=DepartureStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("departure event")

        verbose_name_plural = _("departure events")
        ordering = ["departure_id", "id"]

    def __str__(self) -> str:
        return f"{self.departure_id} {self.from_status}->{self.to_status}"


class TransferStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    DISPATCHED = "dispatched", _("Dispatched")
    RECEIVED = "received", _("Received")
    CANCELLED = "cancelled", _("Cancelled")


class Transfer(models.Model):
    """Stock sent from one warehouse to another on a lane departure
    (shipping.transfers)."""

    origin = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_out")
    destination = models.ForeignKey(
        Warehouse, on_delete=models.PROTECT, related_name="transfers_in"
    )
    departure = models.ForeignKey(Departure, on_delete=models.PROTECT, related_name="transfers")
    status = models.CharField(
        max_length=10, choices=TransferStatus.choices, default=TransferStatus.DRAFT
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("transfer")
        verbose_name_plural = _("transfers")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(origin=F("destination")), name="transfer_between_two_warehouses"
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        status__in=["draft", "cancelled"],
                        dispatched_at__isnull=True,
                        received_at__isnull=True,
                    )
                    | Q(status="dispatched", dispatched_at__isnull=False, received_at__isnull=True)
                    | Q(status="received", dispatched_at__isnull=False, received_at__isnull=False)
                ),
                name="transfer_stamps_match_status",
            ),
        ]
        indexes = [
            models.Index(
                fields=["destination"],
                name="transfer_in_transit",
                condition=Q(status="dispatched"),
            )
        ]

    def __str__(self) -> str:
        return (
            f"T-{self.id} {self.origin.code} → {self.destination.code}: {self.get_status_display()}"
        )


class TransferLine(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity_sent = models.PositiveIntegerField()
    quantity_received = models.PositiveIntegerField(null=True, blank=True)
    shortfall_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = _("transfer line")
        verbose_name_plural = _("transfer lines")
        ordering = ["transfer_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["transfer", "product"], name="transfer_line_one_per_product"
            ),
            models.CheckConstraint(
                condition=Q(quantity_sent__gt=0), name="transfer_line_sent_positive"
            ),
            models.CheckConstraint(
                condition=Q(quantity_received__isnull=True)
                | Q(quantity_received__lte=F("quantity_sent")),
                name="transfer_line_received_within_sent",
            ),
            models.CheckConstraint(
                condition=Q(quantity_received__isnull=True)
                | Q(quantity_received=F("quantity_sent"), shortfall_reason="")
                | (Q(quantity_received__lt=F("quantity_sent")) & ~Q(shortfall_reason="")),
                name="transfer_line_shortfall_explained",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.transfer_id}: {self.product_id} x {self.quantity_sent}"

    @property
    def shortfall(self) -> int:
        """Units sent but not received (0 until the transfer is received)."""
        if self.quantity_received is None:
            return 0
        return self.quantity_sent - self.quantity_received


class TransferEvent(models.Model):
    transfer = models.ForeignKey(Transfer, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, choices=TransferStatus.choices)
    to_status = models.CharField(max_length=10, choices=TransferStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("transfer event")
        verbose_name_plural = _("transfer events")
        ordering = ["transfer_id", "id"]

    def __str__(self) -> str:
        return f"{self.transfer_id} {self.from_status}->{self.to_status}"

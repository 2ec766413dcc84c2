from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.money import MONEY_DIGITS, MONEY_PLACES
from orders.models import Order, OrderLine, Product
from orders.regions import REGION_CHOICES
from warehouses.models import Warehouse


class Lane(models.Model):
    class Mode(models.TextChoices):
        AIR = "air", _("Air")
        ROAD = "road", _("Road")
        RAIL = "rail", _("Rail")

    code = models.CharField(max_length=20, unique=True)
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
        return self.code


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
        return f"{self.lane_id} -> {self.region} {self.min_days}-{self.max_days} d"


class DutyRule(models.Model):
    """Russian personal-import allowance, effective-dated: the newest row whose
    valid_from has come applies."""

    valid_from = models.DateField(unique=True)
    value_threshold_eur = models.DecimalField(max_digits=10, decimal_places=2)
    weight_threshold_kg = models.DecimalField(max_digits=8, decimal_places=3)
    rate_on_excess_value = models.DecimalField(max_digits=5, decimal_places=4)
    min_eur_per_excess_kg = models.DecimalField(max_digits=8, decimal_places=2)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("duty rule")

        verbose_name_plural = _("duty rules")
        ordering = ["-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(value_threshold_eur__gte=0)
                & Q(weight_threshold_kg__gte=0)
                & Q(rate_on_excess_value__gte=0)
                & Q(rate_on_excess_value__lte=1)
                & Q(min_eur_per_excess_kg__gte=0),
                name="duty_rule_sane",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"from {self.valid_from}: EUR {self.value_threshold_eur}"
            f" / {self.weight_threshold_kg} kg"
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


class CustomsHoldReason(models.TextChoices):
    """Why customs hold a parcel, as the courier's `customs_held` scan reports it."""

    DOCUMENTS = "documents", _("Documents are missing or incomplete")
    VALUATION = "valuation", _("The declared value is questioned")
    PROHIBITED = "prohibited", _("The goods are prohibited or restricted")
    INSPECTION = "inspection", _("Held for physical inspection")
    DUTIES = "duties", _("Import duty must be paid")


class DeliveryFailureReason(models.TextChoices):
    """Why the last mile failed, as the courier's `delivery_failed` scan reports it."""

    REFUSED = "refused", _("Refused by the recipient")
    ABSENT = "absent", _("Recipient not at home")
    WRONG_ADDRESS = "wrong_address", _("Wrong or incomplete address")
    DAMAGED = "damaged", _("Parcel damaged")
    OTHER = "other", _("Other reason")


class UnassignedReason(models.TextChoices):
    NO_OPEN_DEPARTURE = "no_open_departure", _("No open departure before its cut-off.")
    NO_CAPACITY = "no_capacity", _("No capacity left on the open departures.")


class Parcel(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="parcels")
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
            )
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


class Courier(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="courier"
    )
    name = models.CharField(max_length=100)
    company = models.CharField(max_length=100, blank=True)
    lanes = models.ManyToManyField(Lane, blank=True, related_name="couriers")
    regions = models.JSONField(default=list, blank=True, help_text=_("Region codes it delivers in"))

    class Meta:
        verbose_name = _("courier")

        verbose_name_plural = _("couriers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TrackingEvent(models.Model):
    class Source(models.TextChoices):
        SYSTEM = "system", _("System")
        DEPARTURE = "departure", _("Departure")
        COURIER = "courier", _("Courier")

    # No index of its own: tracking_timeline (parcel, occurred_at) serves
    # lookups by parcel, and every courier batch would write both.
    parcel = models.ForeignKey(
        Parcel, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    event = models.CharField(max_length=30)
    status = models.CharField(max_length=20, choices=ParcelStatus.choices, blank=True)
    emsevt = models.CharField(max_length=3, blank=True, help_text=_("UPU EMSEVT code"))
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    location = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    courier = models.ForeignKey(Courier, null=True, blank=True, on_delete=models.SET_NULL)
    scan_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("tracking event")

        verbose_name_plural = _("tracking events")
        ordering = ["parcel_id", "occurred_at", "id"]
        indexes = [models.Index(fields=["parcel", "occurred_at"], name="tracking_timeline")]

    def __str__(self) -> str:
        return f"{self.parcel_id} {self.event} {self.occurred_at:%Y-%m-%d %H:%M}"


class PendingEvent(models.Model):
    """A tracking event stored but not yet applied to its parcel's status
    (courier scans; shipping.timeline). Deleted when applied."""

    # No database foreign keys: the rows are written by the statement that
    # inserts their events (ids and parcels taken from it), and each checked
    # key would take a share lock on an event and a parcel row, a thousand
    # each per courier batch. Deletes still cascade, through the ORM.
    event = models.OneToOneField(
        TrackingEvent,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
    )
    # The event's parcel again: refreshes find a parcel's pending events by
    # this column's index, without joining the events table.
    parcel = models.ForeignKey(
        Parcel, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )

    class Meta:
        verbose_name = _("pending tracking event")
        verbose_name_plural = _("pending tracking events")

    def __str__(self) -> str:
        return f"{self.parcel_id} event {self.event_id}"


class TrackingSeries(models.Model):
    """Next free S10 serial per prefix and country."""

    prefix = models.CharField(max_length=2)
    country = models.CharField(max_length=2)
    next_serial = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("tracking number series")
        verbose_name_plural = _("tracking number series")
        constraints = [
            models.UniqueConstraint(fields=["prefix", "country"], name="tracking_series_unique"),
            models.CheckConstraint(
                condition=Q(next_serial__lte=99_999_999), name="tracking_series_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}..{self.country} next {self.next_serial}"


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
        return f"T-{self.id} {self.origin_id}->{self.destination_id} {self.status}"


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


# The cash-on-delivery models live in their own module; importing it here
# registers them with the shipping app.
import shipping.cod_models  # noqa: E402, F401

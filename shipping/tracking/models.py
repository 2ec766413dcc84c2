"""Tracking: every parcel's timeline of events, and courier scans stored but not yet applied."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shipping.fulfilment.models import Parcel, ParcelStatus


class DeliveryFailureReason(models.TextChoices):
    """Why the last mile failed, as the courier's `delivery_failed` scan reports it."""

    REFUSED = "refused", _("Refused by the recipient")
    ABSENT = "absent", _("Recipient not at home")
    WRONG_ADDRESS = "wrong_address", _("Wrong or incomplete address")
    DAMAGED = "damaged", _("Parcel damaged")
    # Not collected from a pickup point or locker in time: the carrier sends
    # it back to the sender.
    STORAGE_EXPIRED = "storage_expired", _("Not collected from the pickup point in time")
    OTHER = "other", _("Other reason")


class TrackingEvent(models.Model):
    class Source(models.TextChoices):
        SYSTEM = "system", _("System")
        DEPARTURE = "departure", _("Departure")
        COURIER = "courier", _("Courier")
        CARRIER = "carrier", _("Carrier")

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
    courier = models.ForeignKey(
        "accounts.Courier", null=True, blank=True, on_delete=models.SET_NULL
    )
    # Unique with occurred_at (the partition key on PostgreSQL, which wants it
    # in every unique constraint): a courier's device resends a scan with the
    # same id and time. The index also serves lookups by scan_id alone.
    # Null, not blank, for events that are no scan: the constraint must not
    # see them as one repeated id.
    scan_id = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("tracking event")

        verbose_name_plural = _("tracking events")
        ordering = ["parcel_id", "occurred_at", "id"]
        indexes = [
            models.Index(fields=["parcel", "occurred_at"], name="tracking_timeline"),
            # Every courier batch asks which of its parcels already reached a
            # final status: through the timeline index that read every event
            # of a thousand parcels (the query took 3.8 ms of a batch's 75 in
            # process, 2.3 ms with this index); this one holds the final
            # events alone.
            models.Index(
                fields=["parcel"],
                name="tracking_final",
                condition=models.Q(status__in=["delivered", "expired", "returned"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["scan_id", "occurred_at"], name="tracking_scan_once")
        ]

    def __str__(self) -> str:
        return (
            f"{self.parcel.tracking_number} · {timezone.localtime(self.occurred_at):%Y-%m-%d %H:%M}"
        )


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

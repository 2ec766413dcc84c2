"""Returns: goods a buyer sends back after hand-over, and parcels the last
mile returns to sender (refused, not collected)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.money import MONEY_DIGITS, MONEY_PLACES
from orders.models import Order, OrderLine
from shipping.fulfilment.models import Parcel
from warehouses.models import Warehouse


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Return requested")
    APPROVED = "approved", _("Return approved")
    REJECTED = "rejected", _("Return rejected")
    IN_TRANSIT = "in_transit", _("Return parcel in transit")
    RECEIVED = "received", _("Returned goods received")
    REFUNDED = "refunded", _("Return refunded")
    CLOSED = "closed", _("Return closed")


class ReturnKind(models.TextChoices):
    BUYER = "buyer", _("Returned by the buyer")
    RETURN_TO_SENDER = "return_to_sender", _("Returned to sender by the carrier")


# The reason Amur itself records on a return and its first event (the others
# are people's words: the buyer's reason, staff's decision notes), kept in
# English for operators and webhooks; buyers read its label.
RETURNED_TO_SENDER = "returned to sender"
SYSTEM_REASONS = {RETURNED_TO_SENDER: _("The carrier brought the parcel back to the sender.")}


class Return(models.Model):
    number = models.CharField(max_length=24, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    kind = models.CharField(max_length=20, choices=ReturnKind.choices)
    status = models.CharField(max_length=12, choices=ReturnStatus.choices)
    reason = models.CharField(max_length=500, blank=True)
    # The outbound parcel the carrier brought back (returns to sender only).
    parcel = models.OneToOneField(
        Parcel, null=True, blank=True, on_delete=models.PROTECT, related_name="return_to_sender"
    )
    # The return parcel: the carrier's number for the buyer's shipment back,
    # or the outbound parcel's own for a return to sender.
    tracking_number = models.CharField(max_length=40, blank=True)
    carrier = models.CharField(max_length=40, blank=True)
    warehouse = models.ForeignKey(
        Warehouse, null=True, blank=True, on_delete=models.PROTECT, related_name="returns"
    )
    decision_note = models.CharField(max_length=300, blank=True)
    currency = models.CharField(max_length=3, default="RUB", editable=False)
    refund_amount = models.DecimalField(
        max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    event_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(refund_amount__isnull=True) | Q(refund_amount__gte=0),
                name="return_refund_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class ReturnLine(models.Model):
    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    # What the returns warehouse made of the units on receipt.
    restocked = models.PositiveIntegerField(default=0)
    written_off = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="return_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(restocked__lte=F("quantity") - F("written_off")),
                name="return_line_received_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line_id} x {self.quantity}"


class ReturnEvent(models.Model):
    """Audit trail: one row per status change of a return, written with it."""

    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="events")
    sequence = models.PositiveIntegerField()
    from_status = models.CharField(max_length=12, choices=ReturnStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=ReturnStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("return event")
        verbose_name_plural = _("return events")
        ordering = ["return_request_id", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["return_request", "sequence"], name="return_event_sequence_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.return_request_id} #{self.sequence} {self.from_status}->{self.to_status}"

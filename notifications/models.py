"""Durable outbox of domain events and their delivery to webhooks and e-mail."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.fields import EncryptedTextField


class WebhookSubscription(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=500)
    # Encrypted at rest (FIELD_ENCRYPTION_KEYS); shown once, when created.
    secret = EncryptedTextField(editable=False)
    event_types = models.JSONField(default=list, blank=True, help_text=_("Empty: every type."))
    all_events = models.BooleanField(
        default=False,
        help_text=_("Storefronts: receive every buyer's events, not only the owner's."),
    )
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    paused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook subscription")

        verbose_name_plural = _("webhook subscriptions")
        ordering = ["id"]
        permissions = [("subscribe_all_events", "Can subscribe to every buyer's events")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class OutboxEvent(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64, db_index=True)
    subject = models.CharField(
        max_length=100, help_text=_("What changed, e.g. parcel:RR123456785CN")
    )
    sequence = models.PositiveIntegerField(default=1)
    payload = models.JSONField()
    audience = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    audience_ids = models.JSONField(
        default=list,
        blank=True,
        help_text=_("More users whose webhook subscriptions receive the event (user ids)."),
    )
    email_to = models.EmailField(blank=True)
    email_subject = models.CharField(max_length=200, blank=True)
    email_body = models.TextField(blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("outbox event")

        verbose_name_plural = _("outbox events")
        ordering = ["created_at"]
        indexes = [
            # The admin's list, newest first, without sorting the table.
            models.Index(fields=["created_at"], name="outbox_created"),
            models.Index(
                fields=["created_at"],
                name="outbox_undispatched",
                condition=models.Q(dispatched_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.subject} #{self.sequence}"


class WebhookDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed (not retried)")
        DEAD = "dead", _("Dead-lettered")

    # No database foreign key: on PostgreSQL the outbox is partitioned, and a
    # reference must name its whole key. Deletes still cascade through the ORM;
    # retention drops an event's deliveries with it (same day, same partition).
    event = models.ForeignKey(
        OutboxEvent, on_delete=models.CASCADE, related_name="deliveries", db_constraint=False
    )
    # The event's created_at: the partition key, so an event and its
    # deliveries live in partitions of the same day and are dropped together.
    event_created_at = models.DateTimeField()
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["event", "subscription", "event_created_at"],
                name="webhook_delivery_once_per_subscription",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status="pending"),
            ),
            # The dead-letter gauge per subscription (ecommerce.observability).
            models.Index(
                fields=["subscription"],
                name="webhook_delivery_dead",
                condition=models.Q(status="dead"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.subscription_id}"


class WebhookAttempt(models.Model):
    # No database foreign key: both tables are partitioned on PostgreSQL.
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="log", db_constraint=False
    )
    number = models.PositiveSmallIntegerField()
    requested_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("webhook attempt")

        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery_id", "number"]
        constraints = [
            # With requested_at, the partition key: numbers are taken under the
            # delivery's lease, so this is the last line, not the only one.
            models.UniqueConstraint(
                fields=["delivery", "number", "requested_at"], name="webhook_attempt_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"


class Email(models.Model):
    """One e-mail to send, durable: written in the transaction that decided
    to send it, then retried until sent (the e-mail sweep). A message is
    claimed for EMAIL_LEASE_SECONDS before it is handed to the mail server
    and marked sent after; only a worker killed in between sends it twice."""

    event_id = models.UUIDField(
        null=True, blank=True, unique=True, help_text=_("The outbox event it tells of, if any.")
    )
    to = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("e-mail")
        verbose_name_plural = _("e-mails")
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="email_unsent_due",
                condition=models.Q(sent_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.to}: {self.subject}"

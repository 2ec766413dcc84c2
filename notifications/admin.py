from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin_base import LargeTableAdmin, ReadOnlyAdmin, ReadOnlyInline
from notifications.delivery import webhook_delivery_resend
from notifications.models import (
    Email,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from notifications.services import subscription_resume


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("url", "owner", "all_events", "is_active", "consecutive_failures", "paused_at")
    list_filter = ("is_active", "all_events")
    search_fields = ("url", "owner__email")
    # The signing secret is not shown: its owner saw it once, when subscribing.
    exclude = ("secret",)
    readonly_fields = ("consecutive_failures", "paused_at", "created_at")
    actions = ["resume"]

    @admin.action(description="Resume the selected subscriptions")
    def resume(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset:
            subscription_resume(subscription_id=subscription.id)
        messages.success(request, f"Resumed {queryset.count()} subscriptions.")


@admin.register(OutboxEvent)
class OutboxEventAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = ("type", "subject", "sequence", "occurred_at", "dispatched_at", "emailed_at")
    list_filter = ("type",)
    search_fields = ("subject",)
    # No date hierarchy: its bar reads the oldest and newest row of the table.


@admin.register(Email)
class EmailAdmin(ReadOnlyAdmin):
    list_display = ("to", "subject", "attempts", "next_attempt_at", "sent_at", "last_error")
    search_fields = ("to", "subject")
    date_hierarchy = "created_at"


class WebhookAttemptInline(ReadOnlyInline):
    model = WebhookAttempt
    fields = ("number", "requested_at", "duration_ms", "status_code", "error", "response_excerpt")
    readonly_fields = fields


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(LargeTableAdmin, ReadOnlyAdmin):
    list_display = (
        "event",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
    )
    list_filter = ("status",)
    search_fields = ("event__subject", "subscription__url")
    list_select_related = ("event", "subscription")
    inlines = [WebhookAttemptInline]
    actions = ["resend"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Changing is only done by the resend action; the form stays read-only.
        return request.user.has_perm("notifications.change_webhookdelivery") and obj is None

    @admin.action(description="Resend the selected deliveries")
    def resend(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        ids = list(queryset.values_list("id", flat=True))
        for delivery_id in ids:
            webhook_delivery_resend(delivery_id=delivery_id)
        messages.success(request, f"Queued {len(ids)} deliveries to be sent again.")

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api import JSONBooleanField, StrictSerializer
from notifications.models import WebhookSubscription

EVENT_TYPES = [
    "order.status_changed",
    "parcel.status_changed",
    "stock.low",
    "payment.charged_back",
]


def _is_private(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return True
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_reserved
        ):
            return True
    return False


class SubscriptionInputSerializer(StrictSerializer):
    url = serializers.URLField(max_length=500)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_TYPES), required=False, default=list
    )
    all_events = JSONBooleanField(required=False, default=False)

    def validate_url(self, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"}:
            raise serializers.ValidationError(_("Use an http or https address."))
        allow_private = settings.AMUR["WEBHOOK_ALLOW_PRIVATE_URLS"]
        if not allow_private and (parts.scheme != "https" or _is_private(parts.hostname or "")):
            raise serializers.ValidationError(_("Use a public https address."))
        return value


class SubscriptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "event_types", "all_events", "is_active", "created_at"]


class SubscriptionCreatedSerializer(SubscriptionSerializer):
    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]

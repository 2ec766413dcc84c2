from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IDEMPOTENCY_HEADER, caller_id, error_responses
from core.errors import Forbidden, NotFound
from core.idempotency import idempotent
from notifications.models import WebhookSubscription
from notifications.serializers import (
    SubscriptionCreatedSerializer,
    SubscriptionInputSerializer,
    SubscriptionSerializer,
)
from notifications.services import subscription_create


class WebhookListCreateView(generics.ListAPIView):
    """The caller's subscriptions (secrets are never listed); POST adds one."""

    serializer_class = SubscriptionSerializer
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        return WebhookSubscription.objects.filter(owner_id=self.request.user.pk).order_by("id")

    @extend_schema(tags=["webhooks"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=SubscriptionInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: SubscriptionCreatedSerializer, **error_responses(400, 401, 403, 409, 422)},
        tags=["webhooks"],
        description="The signing secret is returned once, in this response.",
    )
    @idempotent()
    def post(self, request: Request) -> Response:
        serializer = SubscriptionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["all_events"] and not request.user.has_perm("notifications.subscribe_all_events"):
            raise Forbidden(_("Only storefront accounts may receive every buyer's events."))
        subscription = subscription_create(
            owner_id=caller_id(request),
            url=data["url"],
            event_types=data["event_types"],
            all_events=data["all_events"],
        )
        return Response(
            SubscriptionCreatedSerializer(subscription).data, status=status.HTTP_201_CREATED
        )


class WebhookDetailView(APIView):
    @extend_schema(responses={204: None, **error_responses(401, 404)}, tags=["webhooks"])
    def delete(self, request: Request, subscription_id: int) -> Response:
        deleted, _details = WebhookSubscription.objects.filter(
            id=subscription_id, owner_id=request.user.pk
        ).delete()
        if not deleted:
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)

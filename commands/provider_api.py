"""Called by payment providers or the buyer's browser, not by Amur's users:
no authentication, each verified by the provider's own means."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from commands.pay import provider_notification_receive, sandbox_confirm
from core.api import error_responses
from core.errors import NotFound
from payments.serializers import (
    NotificationResultSerializer,
    PaymentSerializer,
    SandboxConfirmInputSerializer,
    SandboxNotificationSerializer,
    YooKassaNotificationSerializer,
)


class ProviderCallback(APIView):
    """Called by payment providers or the buyer's browser, not by Amur's
    users: no authentication, verified by the provider's own means."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "provider_webhooks"


class SandboxWebhookView(ProviderCallback):
    @extend_schema(
        request=SandboxNotificationSerializer,
        responses={200: NotificationResultSerializer, **error_responses(400, 404, 409, 422, 429)},
        tags=["payments"],
        summary="Sandbox provider notification (signed, Standard Webhooks)",
    )
    def post(self, request: Request) -> Response:
        outcome = provider_notification_receive(
            provider_name="sandbox", body=request.body, headers=request.headers
        )
        return Response({"outcome": outcome})


class YooKassaWebhookView(ProviderCallback):
    @extend_schema(
        request=YooKassaNotificationSerializer,
        responses={200: NotificationResultSerializer, **error_responses(400, 404, 429, 502)},
        tags=["payments"],
        summary="YooKassa notification (verified by reading the payment back)",
    )
    def post(self, request: Request) -> Response:
        if not settings.AMUR["YOOKASSA_SHOP_ID"]:
            raise NotFound(_("YooKassa is not configured."), code="provider_not_configured")
        outcome = provider_notification_receive(
            provider_name="yookassa", body=request.body, headers=request.headers
        )
        return Response({"outcome": outcome})


class SandboxConfirmView(ProviderCallback):
    """The sandbox's 3-D Secure page: the card holder approves or declines."""

    @extend_schema(
        request=SandboxConfirmInputSerializer,
        responses={200: PaymentSerializer, **error_responses(400, 404, 409, 429)},
        tags=["payments"],
        summary="Sandbox 3-D Secure confirmation (the payment's confirmation_url)",
    )
    def post(self, request: Request, reference: str) -> Response:
        serializer = SandboxConfirmInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = sandbox_confirm(
            reference=reference, approve=serializer.validated_data["outcome"] == "approve"
        )
        return Response(PaymentSerializer(payment).data)

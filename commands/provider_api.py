"""Called by payment providers or the buyer's browser, not by Amur's users:
no authentication, each verified by the provider's own means."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from commands.pay import provider_notification_receive, sandbox_confirm
from core.api import error_responses
from core.errors import NotFound
from core.parsers import BoundedJSONParser
from payments.models import Payment
from payments.selectors import sandbox_payment_get
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


# Standard Webhooks: the notification's id, its Unix time and "v1,<base64
# HMAC-SHA256>" signatures; a notification without them is refused.
SIGNATURE_HEADERS = [
    OpenApiParameter(
        name, str, location=OpenApiParameter.HEADER, required=True, description=description
    )
    for name, description in (
        ("webhook-id", "The notification's id (a repeat changes nothing)."),
        ("webhook-timestamp", "Unix seconds; refused outside the tolerance."),
        ("webhook-signature", "v1,<base64 HMAC-SHA256 of id.timestamp.body>"),
    )
]


class SandboxWebhookView(ProviderCallback):
    # The signature covers the raw JSON body.
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        parameters=SIGNATURE_HEADERS,
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
    parser_classes = [BoundedJSONParser]

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
    """The sandbox's 3-D Secure page: the card holder approves or declines.
    A browser opens it (GET, a page with two buttons) and its form posts the
    answer back here, getting a page; an API client posts JSON and gets the
    payment."""

    parser_classes = [BoundedJSONParser, FormParser]

    @extend_schema(
        responses={
            (200, "text/html"): OpenApiTypes.STR,
            **error_responses(404, 429),
        },
        tags=["payments"],
        summary="Sandbox 3-D Secure page, for the buyer's browser",
    )
    def get(self, request: Request, reference: str) -> HttpResponse:
        return self._page(request, sandbox_payment_get(reference=reference))

    @extend_schema(
        request=SandboxConfirmInputSerializer,
        responses={
            (200, "application/json"): PaymentSerializer,
            (200, "text/html"): OpenApiTypes.STR,
            **error_responses(400, 404, 409, 429),
        },
        tags=["payments"],
        summary="Sandbox 3-D Secure confirmation (the payment's confirmation_url)",
        description="A form (application/x-www-form-urlencoded) is answered with a page, JSON"
        " with the payment.",
    )
    def post(self, request: Request, reference: str) -> Response | HttpResponse:
        serializer = SandboxConfirmInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = sandbox_confirm(
            reference=reference, approve=serializer.validated_data["outcome"] == "approve"
        )
        if request.content_type.startswith("application/x-www-form-urlencoded"):
            # The payment changes when the sandbox's notification arrives,
            # after this answer: the page says what was answered.
            return self._page(request, payment, answered=serializer.validated_data["outcome"])
        return Response(PaymentSerializer(payment).data)

    def _page(self, request: Request, payment: Payment, answered: str = "") -> HttpResponse:
        return render(
            request._request,
            "commands/sandbox_confirm.html",
            {
                "payment": payment,
                "amount": f"{payment.amount:.2f}",
                "status_label": Payment.Status(payment.status).label,
                "awaiting": payment.status == Payment.Status.REQUIRES_ACTION,
                "action": request.path,
                "answered": answered,
            },
        )

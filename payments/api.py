from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core.api import IDEMPOTENCY_HEADER, caller_id, error_responses
from core.errors import NotFound, PaymentDeclined, error_body
from core.idempotency import idempotent
from core.permissions import IsOperatorStaff
from orders.selectors import order_get_for_buyer
from payments.card import provider_notification_receive, sandbox_payment_confirm
from payments.models import Payment
from payments.providers import decline_message
from payments.serializers import (
    NotificationResultSerializer,
    PayInputSerializer,
    PaymentSerializer,
    RefundInputSerializer,
    RefundSerializer,
    SandboxConfirmInputSerializer,
    SandboxNotificationSerializer,
    YooKassaNotificationSerializer,
)
from payments.services import OPEN, payment_card_charge, payment_refund


class OrderPayView(APIView):
    @extend_schema(
        request=PayInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: OpenApiResponse(PaymentSerializer, description="Captured."),
            202: OpenApiResponse(
                PaymentSerializer,
                description=(
                    "In progress: pending, or requires_action (send the buyer to "
                    "confirmation_url). The provider's notification settles it."
                ),
            ),
            **error_responses(400, 401, 402, 404, 409, 422, 502),
        },
        tags=["orders"],
    )
    @idempotent()
    def post(self, request: Request, number: str) -> Response:
        user_id = caller_id(request)
        order = order_get_for_buyer(user_id=user_id, number=number)
        serializer = PayInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = payment_card_charge(
            order_id=order.id,
            token=serializer.validated_data["token"],
            actor_id=user_id,
            card_country=serializer.validated_data["card_country"],
        )
        if payment.status == Payment.Status.FAILED:
            # Returned, not raised: the failed attempt stays on record.
            error = PaymentDeclined(
                decline_message(payment.decline_code),
                fields={"token": [payment.decline_code]},
                extra={"decline_code": payment.decline_code},
            )
            body = error_body(error.code, error.message, error.fields, **error.extra)
            return Response(body, status=error.status_code)
        in_progress = payment.status in OPEN
        return Response(
            PaymentSerializer(payment).data,
            status=status.HTTP_202_ACCEPTED if in_progress else status.HTTP_201_CREATED,
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
        payment = sandbox_payment_confirm(
            reference=reference, approve=serializer.validated_data["outcome"] == "approve"
        )
        payment.refresh_from_db()
        return Response(PaymentSerializer(payment).data)


class OpsPaymentRefundView(APIView):
    """Operator staff: refund part or all of a captured payment."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=RefundInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: RefundSerializer, **error_responses(400, 403, 404, 409, 422)},
        tags=["ops"],
    )
    @idempotent()
    def post(self, request: Request, payment_id: int) -> Response:
        if not Payment.objects.filter(id=payment_id).exists():
            raise NotFound()
        serializer = RefundInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        valid = serializer.validated_data
        refund = payment_refund(
            payment_id=payment_id,
            amount=valid["amount"],
            reason=valid["reason"],
            actor_id=caller_id(request),
            bank_reference=valid.get("reference", ""),
        )
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)

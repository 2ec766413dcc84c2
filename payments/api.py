from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IDEMPOTENCY_HEADER, caller_id, error_responses
from core.errors import NotFound, PaymentDeclined, error_body
from core.idempotency import idempotent
from core.permissions import IsOperatorStaff
from orders.selectors import order_get_for_buyer
from payments.models import Payment
from payments.serializers import (
    PayInputSerializer,
    PaymentSerializer,
    RefundInputSerializer,
    RefundSerializer,
)
from payments.services import payment_card_charge, payment_refund


class OrderPayView(APIView):
    @extend_schema(
        request=PayInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: PaymentSerializer, **error_responses(400, 401, 402, 404, 409, 422)},
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
                fields={"token": [payment.decline_code]},
                extra={"decline_code": payment.decline_code},
            )
            body = error_body(error.code, error.message, error.fields, **error.extra)
            return Response(body, status=error.status_code)
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


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

"""A buyer's fiscal receipts of one order: every receipt Amur sent for it,
with its status and the exact payload the provider registered."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import caller_id, error_responses
from orders.selectors import order_id_for_buyer
from payments.receipts.models import Receipt


class ReceiptSerializer(serializers.ModelSerializer):
    payment = serializers.IntegerField(source="payment_id")
    refund = serializers.IntegerField(source="refund_id", allow_null=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)

    class Meta:
        model = Receipt
        fields = [
            "id",
            "kind",
            "status",
            "payment",
            "refund",
            "amount",
            "currency",
            "provider",
            "provider_id",
            "payload",
            "created_at",
            "registered_at",
        ]


class OrderReceiptsView(APIView):
    @extend_schema(
        responses={200: ReceiptSerializer(many=True), **error_responses(401, 404)},
        tags=["orders"],
        summary="The order's 54-FZ receipts (payment, settlement, refunds), oldest first",
    )
    def get(self, request: Request, number: str) -> Response:
        order_id = order_id_for_buyer(user_id=caller_id(request), number=number)
        receipts = Receipt.objects.filter(order_id=order_id).order_by("id")
        return Response(ReceiptSerializer(receipts, many=True).data)

"""Cash-on-delivery endpoints for operator staff: record the cash a courier
handed over, and read the daily reconciliations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import IDEMPOTENCY_HEADER, StrictSerializer, caller_id, error_responses
from core.errors import ValidationFailed
from core.idempotency import idempotent
from core.money import CURRENCY_CHOICES
from core.permissions import IsOperatorStaff
from payments.cod.models import CodDifference, CodReconciliation, CourierRemittance
from payments.cod.services import cod_remittance_record


class RemittanceInputSerializer(StrictSerializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    currency = serializers.ChoiceField(choices=CURRENCY_CHOICES, default="RUB")
    reference = serializers.CharField(max_length=100)
    received_at = serializers.DateTimeField(
        required=False, help_text="When the cash was received; now if left out."
    )
    day = serializers.DateField(
        required=False, help_text="The collection day the cash is for; by default the day received."
    )


class RemittanceSerializer(serializers.ModelSerializer):
    currency = serializers.CharField()

    class Meta:
        model = CourierRemittance
        fields = ["id", "courier", "amount", "currency", "reference", "day", "received_at"]


class ReconciliationSerializer(serializers.ModelSerializer):
    currency = serializers.CharField()
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=CodDifference.choices))
    orders = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))

    class Meta:
        model = CodReconciliation
        fields = [
            "courier",
            "day",
            "currency",
            "expected",
            "collected",
            "remitted",
            "collection_difference",
            "remittance_difference",
            "flagged",
            "reasons",
            "orders",
            "computed_at",
        ]


class OpsCourierRemittanceView(APIView):
    """Cash a courier handed over: posted Dr cash_at_operator, Cr
    courier_cash_in_hand."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=RemittanceInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: RemittanceSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=["ops"],
    )
    @idempotent()
    def post(self, request: Request, courier_id: int) -> Response:
        serializer = RemittanceInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        valid = serializer.validated_data
        remittance = cod_remittance_record(
            courier_id=courier_id,
            amount=valid["amount"],
            currency=valid["currency"],
            reference=valid["reference"],
            received_at=valid.get("received_at") or timezone.now(),
            day=valid.get("day"),
            actor_id=caller_id(request),
        )
        return Response(RemittanceSerializer(remittance).data, status=status.HTTP_201_CREATED)


class OpsCodReconciliationListView(generics.ListAPIView):
    """Couriers' daily cash reconciliations, newest day first."""

    permission_classes = [IsOperatorStaff]
    serializer_class = ReconciliationSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("day", OpenApiTypes.DATE, description="Only this day."),
            OpenApiParameter("flagged", OpenApiTypes.BOOL, description="Only flagged rows."),
            OpenApiParameter("courier", OpenApiTypes.INT, description="Only this courier."),
        ],
        responses={200: ReconciliationSerializer(many=True), **error_responses(400, 401, 403)},
        tags=["ops"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[CodReconciliation]:
        # A plain dict: from a QueryDict a missing boolean would read as False.
        filters = _ReconciliationFilters(data=self.request.query_params.dict())
        if not filters.is_valid():
            raise ValidationFailed(fields=filters.errors)
        qs = CodReconciliation.objects.order_by("-day", "courier_id", "currency")
        valid = filters.validated_data
        if "day" in valid:
            qs = qs.filter(day=valid["day"])
        if "flagged" in valid:
            qs = qs.filter(flagged=valid["flagged"])
        if "courier" in valid:
            qs = qs.filter(courier_id=valid["courier"])
        return qs


class _ReconciliationFilters(serializers.Serializer):
    day = serializers.DateField(required=False)
    flagged = serializers.BooleanField(required=False, allow_null=False)
    courier = serializers.IntegerField(required=False, min_value=1)

"""A merchant's fulfilment orders over the API: its own parts of orders, its
lines and its share, packed and printed one part at a time. Another
merchant's part is not found (404); operator staff see every part."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commands.pack import fulfilment_order_pack
from core.api import PDF, error_responses, pdf_response
from core.errors import NotFound
from core.permissions import IsMerchantOrOperatorStaff
from core.tenancy import merchant_id_for_user, sees_personal_data
from shipping.fulfilment.documents import parcel_labels_pdf
from shipping.fulfilment.models import FulfilmentOrder, FulfilmentOrderLine, Parcel
from shipping.fulfilment.orders import fulfilment_orders_for_merchant
from shipping.fulfilment.part_documents import fulfilment_packing_slips_pdf

TAGS = ["merchant"]


class FulfilmentLineSerializer(serializers.Serializer):
    sku = serializers.CharField(source="line.sku")
    name = serializers.CharField(source="line.name")
    quantity = serializers.IntegerField()
    unit_price_cny = serializers.DecimalField(
        source="line.unit_price_cny", max_digits=14, decimal_places=2
    )


class FulfilmentParcelSerializer(serializers.Serializer):
    tracking_number = serializers.CharField()
    status = serializers.CharField()
    weight_g = serializers.IntegerField()


class FulfilmentOrderSerializer(serializers.Serializer):
    number = serializers.CharField()
    order = serializers.CharField(source="order.number")
    status = serializers.CharField()
    warehouse = serializers.CharField(source="warehouse.code")
    goods_cny = serializers.DecimalField(max_digits=14, decimal_places=2)
    lines = FulfilmentLineSerializer(many=True)
    parcels = FulfilmentParcelSerializer(many=True)
    created_at = serializers.DateTimeField()


def _parts(request: Request) -> QuerySet[FulfilmentOrder]:
    return (
        fulfilment_orders_for_merchant(merchant_id=merchant_id_for_user(request.user))
        .select_related("order", "warehouse")
        .prefetch_related(
            Prefetch(
                "lines", queryset=FulfilmentOrderLine.objects.select_related("line").order_by("id")
            ),
            Prefetch("parcels", queryset=Parcel.objects.order_by("id")),
        )
        .order_by("-created_at", "-id")
    )


def _part(request: Request, number: str) -> FulfilmentOrder:
    part = _parts(request).filter(number=number).first()
    if part is None:
        raise NotFound()
    return part


class MerchantFulfilmentOrderListView(generics.ListAPIView):
    """The caller's merchant's fulfilment orders, newest first."""

    permission_classes = [IsMerchantOrOperatorStaff]
    serializer_class = FulfilmentOrderSerializer
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[FulfilmentOrder]:
        return _parts(self.request)

    @extend_schema(tags=TAGS, responses={200: FulfilmentOrderSerializer(many=True)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class MerchantFulfilmentOrderDetailView(APIView):
    permission_classes = [IsMerchantOrOperatorStaff]

    @extend_schema(
        tags=TAGS,
        responses={200: FulfilmentOrderSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, number: str) -> Response:
        return Response(FulfilmentOrderSerializer(_part(request, number)).data)


class MerchantFulfilmentOrderPackView(APIView):
    """Pack one fulfilment order as its plan says (auto-packing)."""

    permission_classes = [IsMerchantOrOperatorStaff]

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={201: FulfilmentOrderSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, number: str) -> Response:
        part = _part(request, number)
        fulfilment_order_pack(
            fulfilment_order_id=part.id,
            actor_id=request.user.pk,
            merchant_id=merchant_id_for_user(request.user),
        )
        return Response(
            FulfilmentOrderSerializer(_part(request, number)).data, status=status.HTTP_201_CREATED
        )


class MerchantFulfilmentOrderSlipView(APIView):
    permission_classes = [IsMerchantOrOperatorStaff]

    @extend_schema(tags=TAGS, responses={**PDF, **error_responses(401, 403, 404)})
    def get(self, request: Request, number: str) -> HttpResponse:
        part = _part(request, number)
        pdf = fulfilment_packing_slips_pdf(
            fulfilment_order_ids=[part.id], mask_phone=not sees_personal_data(request.user)
        )
        return pdf_response(pdf, f"{part.number}-slip.pdf")


class MerchantFulfilmentOrderLabelsView(APIView):
    permission_classes = [IsMerchantOrOperatorStaff]

    @extend_schema(tags=TAGS, responses={**PDF, **error_responses(401, 403, 404)})
    def get(self, request: Request, number: str) -> HttpResponse:
        part = _part(request, number)
        ids = [p.id for p in part.parcels.all()]
        if not ids:
            raise NotFound()
        return pdf_response(parcel_labels_pdf(parcel_ids=ids), f"{part.number}-labels.pdf")

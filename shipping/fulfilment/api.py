"""Print endpoints for the warehouse floor: labels, packing slips, pick lists."""

from __future__ import annotations

from dataclasses import asdict

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import PDF, error_responses, pdf_response
from core.errors import NotFound
from core.permissions import IsOperatorStaff
from orders.selectors import order_get
from shipping.fulfilment.documents import (
    packing_slip_pdf,
    parcel_label_pdf,
    pick_list_pdf,
    pick_list_rows,
)
from shipping.fulfilment.models import Parcel
from warehouses.models import Warehouse


def _warehouse(code: str) -> Warehouse:
    warehouse = Warehouse.objects.filter(code=code).first()
    if warehouse is None:
        raise NotFound()
    return warehouse


class PickRowSerializer(serializers.Serializer):
    location = serializers.CharField()
    sku = serializers.CharField()
    name_ru = serializers.CharField()
    name_zh = serializers.CharField()
    quantity = serializers.IntegerField()
    order_number = serializers.CharField()


class OpsParcelLabelView(APIView):
    permission_classes = [IsOperatorStaff]

    @extend_schema(
        responses={**PDF, **error_responses(403, 404)}, tags=["ops"], operation_id="parcel_label"
    )
    def get(self, request: Request, tracking_number: str) -> HttpResponse:
        parcel = Parcel.objects.filter(tracking_number=tracking_number.upper()).first()
        if parcel is None:
            raise NotFound()
        return pdf_response(parcel_label_pdf(parcel_id=parcel.id), f"{parcel.tracking_number}.pdf")


class OpsPackingSlipView(APIView):
    permission_classes = [IsOperatorStaff]

    @extend_schema(
        responses={**PDF, **error_responses(403, 404)}, tags=["ops"], operation_id="packing_slip"
    )
    def get(self, request: Request, number: str) -> HttpResponse:
        order = order_get(number=number)
        return pdf_response(packing_slip_pdf(order_id=order.id), f"{order.number}-slip.pdf")


class OpsPickListView(APIView):
    """What to pick in a warehouse for the allocated orders, by location."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        responses={200: PickRowSerializer(many=True), **error_responses(403, 404)},
        tags=["ops"],
        operation_id="pick_list",
    )
    def get(self, request: Request, code: str) -> Response:
        rows = pick_list_rows(warehouse_id=_warehouse(code).id)
        return Response(PickRowSerializer([asdict(row) for row in rows], many=True).data)


class OpsPickListPdfView(APIView):
    permission_classes = [IsOperatorStaff]

    @extend_schema(
        responses={**PDF, **error_responses(403, 404)}, tags=["ops"], operation_id="pick_list_pdf"
    )
    def get(self, request: Request, code: str) -> HttpResponse:
        warehouse = _warehouse(code)
        return pdf_response(pick_list_pdf(warehouse_id=warehouse.id), f"pick-{warehouse.code}.pdf")

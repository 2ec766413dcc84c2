from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from core.errors import ApplicationError
from core.permissions import IsOperatorStaff
from orders.models import OrderLine
from orders.selectors import order_get
from shipping.fulfilment.models import Parcel
from shipping.fulfilment.packing import PackedParcel, order_pack
from shipping.fulfilment.serializers import PackInputSerializer, ParcelSerializer
from warehouses.models import Warehouse


def _packing(order_id: int, raw: list[dict[str, Any]]) -> list[PackedParcel]:
    lines = {line.sku: line for line in OrderLine.objects.filter(order_id=order_id)}
    warehouses = dict(Warehouse.objects.values_list("code", "id"))
    packed: list[PackedParcel] = []
    for index, spec in enumerate(raw):
        if spec["warehouse"] not in warehouses:
            raise ApplicationError(
                fields={f"parcels[{index}].warehouse": [_("Unknown warehouse.")]}
            )
        unknown = [item["sku"] for item in spec["lines"] if item["sku"] not in lines]
        if unknown:
            raise ApplicationError(fields={f"parcels[{index}].lines": [_("Not in this order.")]})
        contents: dict[int, int] = {}
        for item in spec["lines"]:
            line_id = lines[item["sku"]].id
            contents[line_id] = contents.get(line_id, 0) + item["quantity"]
        packed.append(
            PackedParcel(
                warehouse_id=warehouses[spec["warehouse"]],
                lines=contents,
                weight_g=spec["weight_g"],
                length_mm=spec["length_mm"],
                width_mm=spec["width_mm"],
                height_mm=spec["height_mm"],
            )
        )
    return packed


class OpsOrderPackView(APIView):
    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=PackInputSerializer,
        responses={201: ParcelSerializer(many=True), **error_responses(400, 403, 404, 409)},
        tags=["ops"],
    )
    def post(self, request: Request, number: str) -> Response:
        order = order_get(number=number)
        serializer = PackInputSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        raw = serializer.validated_data.get("parcels")
        packing = _packing(order.id, raw) if raw else None
        parcels = order_pack(
            order_id=order.id,
            parcels=packing,
            actor_id=request.user.pk,
            override_reason=serializer.validated_data["override_reason"],
        )
        fresh = Parcel.objects.filter(id__in=[p.id for p in parcels]).select_related(
            "order", "lane", "warehouse"
        )
        return Response(ParcelSerializer(fresh, many=True).data, status=status.HTTP_201_CREATED)

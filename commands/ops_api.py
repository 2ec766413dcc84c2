"""Operator staff's commands on orders: review a held order, pack one, refund
a payment."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commands.pack import order_pack
from commands.refunds import payment_refund_request, refund_settle
from commands.review import order_review_approve, order_review_reject
from commands.serializers import (
    ReviewInputSerializer,
    ReviewSerializer,
)
from commands.transfers import transfer_dispatch, transfer_receive
from core.api import IDEMPOTENCY_HEADER, caller_id, error_responses
from core.errors import ApplicationError, NotFound
from core.idempotency import AfterCommit, idempotent
from core.permissions import IsOperatorStaff
from orders.models import OrderLine
from orders.selectors import order_get
from payments.models import Payment
from payments.serializers import (
    RefundInputSerializer,
    RefundSerializer,
)
from risk.selectors import risk_hold_latest
from shipping.fulfilment.models import Parcel
from shipping.fulfilment.packing import PackedParcel
from shipping.fulfilment.serializers import PackInputSerializer, ParcelSerializer
from shipping.linehaul.api import transfer_response
from shipping.linehaul.serializers import TransferReceiveInputSerializer, TransferSerializer
from shipping.linehaul.transfers import ReceivedLine
from warehouses.models import Warehouse


class OpsOrderReviewView(APIView):
    """Operator staff: approve or reject an order held by the risk rules.
    Repeating the decision already taken returns it unchanged."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=ReviewInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: ReviewSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
        tags=["ops"],
    )
    @idempotent()
    def post(self, request: Request, number: str) -> Response:
        order = order_get(number=number)
        serializer = ReviewInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        valid = serializer.validated_data
        review = order_review_approve if valid["decision"] == "approve" else order_review_reject
        review(order_id=order.id, actor_id=caller_id(request), note=valid["note"])
        return Response(ReviewSerializer(risk_hold_latest(order_id=order.id)).data)


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
    def post(self, request: Request, payment_id: int) -> AfterCommit:
        if not Payment.objects.filter(id=payment_id).exists():
            raise NotFound()
        serializer = RefundInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        valid = serializer.validated_data
        refund = payment_refund_request(
            payment_id=payment_id,
            amount=valid["amount"],
            reason=valid["reason"],
            actor_id=caller_id(request),
            bank_reference=valid.get("reference", ""),
        )
        return AfterCommit(
            lambda: Response(
                RefundSerializer(refund_settle(refund=refund)).data,
                status=status.HTTP_201_CREATED,
            )
        )


class OpsTransferDispatchView(APIView):
    """The goods leave the origin: every line or none (409 out_of_stock)."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=None,
        responses={200: TransferSerializer, **error_responses(401, 403, 404, 409)},
        tags=["ops"],
    )
    def post(self, request: Request, transfer_id: int) -> Response:
        transfer_dispatch(transfer_id=transfer_id, actor_id=request.user.pk)
        return transfer_response(transfer_id)


class OpsTransferReceiveView(APIView):
    """The goods arrive: the count of every line; a short line needs a reason."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=TransferReceiveInputSerializer,
        responses={200: TransferSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=["ops"],
    )
    def post(self, request: Request, transfer_id: int) -> Response:
        serializer = TransferReceiveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        transfer_receive(
            transfer_id=transfer_id,
            lines=[
                ReceivedLine(
                    sku=li["sku"], quantity_received=li["quantity_received"], reason=li["reason"]
                )
                for li in serializer.validated_data["lines"]
            ],
            actor_id=request.user.pk,
        )
        return transfer_response(transfer_id)

"""Returns over HTTP: the buyer asks and follows; staff decide, record the
return parcel and receive it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from commands.returns import (
    ReceivedLine,
    ReturnLineRequest,
    return_decide,
    return_receive,
    return_request,
    return_ship,
)
from core.api import IDEMPOTENCY_HEADER, caller_id, error_responses
from core.idempotency import idempotent
from core.permissions import IsMerchantOrOperatorStaff, IsOperatorStaff
from core.tenancy import merchant_id_for_user
from orders.selectors import order_get_for_buyer
from shipping.returns.models import Return
from shipping.returns.selectors import return_get, returns_for_order, returns_for_staff
from shipping.returns.serializers import (
    ReturnDecisionInputSerializer,
    ReturnInputSerializer,
    ReturnReceiveInputSerializer,
    ReturnSerializer,
    ReturnShipInputSerializer,
)


def _answer(ret: Return, code: int = status.HTTP_200_OK) -> Response:
    return Response(ReturnSerializer(return_get(number=ret.number)).data, status=code)


class OrderReturnsView(APIView):
    """The buyer's returns of an order; POST asks to return some units of
    its lines (within 7 days of delivery, or 3 months where the merchant
    gave no written return terms)."""

    @extend_schema(
        responses={200: ReturnSerializer(many=True), **error_responses(401, 404)},
        tags=["returns"],
    )
    def get(self, request: Request, number: str) -> Response:
        order = order_get_for_buyer(user_id=caller_id(request), number=number)
        return Response(ReturnSerializer(returns_for_order(order_id=order.id), many=True).data)

    @extend_schema(
        request=ReturnInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: ReturnSerializer, **error_responses(400, 401, 404, 409, 422)},
        tags=["returns"],
    )
    @idempotent()
    def post(self, request: Request, number: str) -> Response:
        serializer = ReturnInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        valid = serializer.validated_data
        ret = return_request(
            user_id=caller_id(request),
            number=number,
            lines=[ReturnLineRequest(sku=i["sku"], quantity=i["quantity"]) for i in valid["lines"]],
            reason=valid["reason"],
        )
        return _answer(ret, status.HTTP_201_CREATED)


class OpsReturnListView(APIView):
    """Returns for staff: operator staff see all, a merchant's staff those
    holding its goods."""

    permission_classes = [IsMerchantOrOperatorStaff]

    @extend_schema(
        parameters=[OpenApiParameter("status", str, required=False)],
        responses={200: ReturnSerializer(many=True), **error_responses(401, 403)},
        tags=["returns"],
    )
    def get(self, request: Request) -> Response:
        rows = returns_for_staff(
            merchant_id=merchant_id_for_user(request.user),
            status=request.query_params.get("status"),
        )
        return Response(ReturnSerializer(rows[:500], many=True).data)


class OpsReturnDecisionView(APIView):
    """Approve or reject a requested return: operator staff, or the staff of
    the merchant whose goods they all are. The same decision again returns
    it unchanged."""

    permission_classes = [IsMerchantOrOperatorStaff]

    @extend_schema(
        request=ReturnDecisionInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: ReturnSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=["returns"],
    )
    @idempotent()
    def post(self, request: Request, number: str) -> Response:
        serializer = ReturnDecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        valid: dict[str, Any] = serializer.validated_data
        ret = return_decide(
            number=number,
            approve=valid["decision"] == "approve",
            actor_id=caller_id(request),
            merchant_id=merchant_id_for_user(request.user),
            note=valid["note"],
        )
        return _answer(ret)


class OpsReturnShipView(APIView):
    """Operator staff: the approved return's parcel is on its way, with its
    carrier's tracking number."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=ReturnShipInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: ReturnSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=["returns"],
    )
    @idempotent()
    def post(self, request: Request, number: str) -> Response:
        serializer = ReturnShipInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        valid = serializer.validated_data
        ret = return_ship(
            number=number,
            tracking_number=valid["tracking_number"].strip(),
            carrier=valid["carrier"].strip(),
            actor_id=caller_id(request),
        )
        return _answer(ret)


class OpsReturnReceiveView(APIView):
    """Operator staff: the return parcel arrived at a returns warehouse in
    Russia; its units are restocked (or written off, per line) and the buyer
    refunded."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=ReturnReceiveInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: ReturnSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
        tags=["returns"],
    )
    @idempotent()
    def post(self, request: Request, number: str) -> Response:
        serializer = ReturnReceiveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        valid = serializer.validated_data
        lines = valid.get("lines")
        ret = return_receive(
            number=number,
            warehouse_code=valid["warehouse"],
            actor_id=caller_id(request),
            received=None
            if lines is None
            else [
                ReceivedLine(sku=i["sku"], restocked=i["restocked"], written_off=i["written_off"])
                for i in lines
            ],
        )
        return _answer(ret)

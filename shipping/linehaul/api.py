from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from core.errors import ApplicationError, NotFound
from core.permissions import IsOperatorStaff
from shipping.fulfilment.models import Parcel, UnassignedReason
from shipping.linehaul.departures import departure_transition, departures_plan
from shipping.linehaul.models import Departure, Lane, Transfer
from shipping.linehaul.serializers import (
    DepartureSerializer,
    DepartureStatusInputSerializer,
    PlanResultSerializer,
    TransferCancelInputSerializer,
    TransferInputSerializer,
    TransferSerializer,
)
from shipping.linehaul.transfers import (
    TransferLineRequest,
    transfer_cancel,
    transfer_create,
)
from warehouses.models import Warehouse


class OpsLanePlanView(APIView):
    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=None,
        responses={200: PlanResultSerializer, **error_responses(403, 404)},
        tags=["ops"],
    )
    def post(self, request: Request, code: str) -> Response:
        lane = Lane.objects.filter(code=code).first()
        if lane is None:
            raise NotFound()
        result = departures_plan(lane_id=lane.id)
        numbers = dict(
            Parcel.objects.filter(id__in=result.unassigned).values_list("id", "tracking_number")
        )
        return Response(
            {
                "assigned": len(result.assigned),
                "unassigned": [
                    {
                        "tracking_number": numbers[pid],
                        "reason": reason,
                        "message": str(UnassignedReason(reason).label),
                    }
                    for pid, reason in sorted(result.unassigned.items())
                ],
            }
        )


class OpsDepartureListView(generics.ListAPIView):
    permission_classes = [IsOperatorStaff]
    serializer_class = DepartureSerializer
    filterset_fields = ["status"]

    def get_queryset(self) -> QuerySet[Departure]:
        qs = Departure.objects.select_related("lane").order_by("scheduled_at", "id")
        lane = self.request.query_params.get("lane")
        return qs.filter(lane__code=lane) if lane else qs


class OpsDepartureStatusView(APIView):
    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=DepartureStatusInputSerializer,
        responses={200: DepartureSerializer, **error_responses(400, 403, 404, 409)},
        tags=["ops"],
    )
    def post(self, request: Request, departure_id: int) -> Response:
        if not Departure.objects.filter(id=departure_id).exists():
            raise NotFound()
        serializer = DepartureStatusInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        departure = departure_transition(
            departure_id=departure_id,
            to=serializer.validated_data["status"],
            actor_id=request.user.pk,
            reason=serializer.validated_data["reason"],
        )
        return Response(DepartureSerializer(departure).data)


def transfer_response(transfer_id: int, code: int = status.HTTP_200_OK) -> Response:
    transfer = (
        Transfer.objects.select_related("origin", "destination")
        .prefetch_related("lines__product")
        .get(id=transfer_id)
    )
    return Response(TransferSerializer(transfer).data, status=code)


class OpsTransferCreateView(APIView):
    """A draft transfer of stock between warehouses, on a departure of a lane
    leaving the origin."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=TransferInputSerializer,
        responses={201: TransferSerializer, **error_responses(400, 401, 403, 409)},
        tags=["ops"],
    )
    def post(self, request: Request) -> Response:
        serializer = TransferInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        warehouses = dict(
            Warehouse.objects.filter(code__in=[data["origin"], data["destination"]]).values_list(
                "code", "id"
            )
        )
        unknown = {
            name: [_("Unknown warehouse.")]
            for name in ("origin", "destination")
            if data[name] not in warehouses
        }
        if unknown:
            raise ApplicationError(fields=unknown)
        transfer = transfer_create(
            origin_id=warehouses[data["origin"]],
            destination_id=warehouses[data["destination"]],
            departure_id=data["departure"],
            lines=[
                TransferLineRequest(sku=li["sku"], quantity=li["quantity"]) for li in data["lines"]
            ],
            actor_id=request.user.pk,
        )
        return transfer_response(transfer.id, status.HTTP_201_CREATED)


class OpsTransferCancelView(APIView):
    """Drop a draft transfer."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=TransferCancelInputSerializer,
        responses={200: TransferSerializer, **error_responses(400, 401, 403, 404, 409)},
        tags=["ops"],
    )
    def post(self, request: Request, transfer_id: int) -> Response:
        serializer = TransferCancelInputSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        transfer_cancel(
            transfer_id=transfer_id,
            actor_id=request.user.pk,
            reason=serializer.validated_data["reason"],
        )
        return transfer_response(transfer_id)

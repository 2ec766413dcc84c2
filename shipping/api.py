from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import caller_id, error_responses
from core.errors import ApplicationError, Forbidden, NotFound, flatten_detail
from core.permissions import IsOperatorStaff
from orders.models import OrderLine
from orders.selectors import order_get
from shipping.models import (
    Courier,
    Departure,
    Lane,
    Parcel,
    ParcelStatus,
    Transfer,
    UnassignedReason,
)
from shipping.packing import PackedParcel, order_pack
from shipping.scans import Scan, scans_record
from shipping.selectors import parcel_for_tracking, parcel_timeline
from shipping.serializers import (
    DepartureSerializer,
    DepartureStatusInputSerializer,
    PackInputSerializer,
    ParcelSerializer,
    PlanResultSerializer,
    ScanBatchSerializer,
    ScanResultSerializer,
    TrackingSerializer,
    TransferCancelInputSerializer,
    TransferInputSerializer,
    TransferReceiveInputSerializer,
    TransferSerializer,
    scan_validate,
)
from shipping.services import departure_transition, departures_plan
from shipping.tracking import EVENT_KINDS, REASONED_EVENTS, reason_label
from shipping.transfers import (
    ReceivedLine,
    TransferLineRequest,
    transfer_cancel,
    transfer_create,
    transfer_dispatch,
    transfer_receive,
)
from warehouses.models import Warehouse

FUTURE_TOLERANCE = timedelta(minutes=10)


def tracking_data(parcel: Parcel) -> dict[str, Any]:
    start = parcel.created_at.date()
    return {
        "tracking_number": parcel.tracking_number,
        "status": parcel.status,
        "status_display": str(ParcelStatus(parcel.status).label) if parcel.status else "",
        "promised": {
            "min_days": parcel.promised_min_days,
            "max_days": parcel.promised_max_days,
            "earliest": start + timedelta(days=parcel.promised_min_days),
            "latest": start + timedelta(days=parcel.promised_max_days),
        },
        "events": [
            {
                "event": e.event,
                "status": e.status,
                "emsevt": e.emsevt,
                "occurred_at": e.occurred_at,
                "location": e.location,
                "reason": e.data.get("reason", "") if e.event in REASONED_EVENTS else "",
                "reason_display": reason_label(e.event, e.data.get("reason", "")),
            }
            for e in parcel_timeline(parcel=parcel)
        ],
    }


class TrackingView(APIView):
    """Public: the status and timeline of one parcel."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: TrackingSerializer, **error_responses(404)}, tags=["tracking"])
    def get(self, request: Request, tracking_number: str) -> Response:
        parcel = parcel_for_tracking(tracking_number=tracking_number.upper())
        return Response(TrackingSerializer(tracking_data(parcel)).data)


def _reason_problem(scan: dict[str, Any]) -> str:
    """Why the scan's reason does not fit its event ("" when it does)."""
    choices = EVENT_KINDS[scan["event"]].reasons
    reason = scan.get("reason")
    if choices is None:
        if reason is None:
            return ""
        return gettext("%(event)s takes no reason.") % {"event": scan["event"]}
    if reason in choices.values:
        return ""
    return gettext("%(event)s needs a reason, one of: %(reasons)s.") % {
        "event": scan["event"],
        "reasons": ", ".join(choices.values),
    }


def _parse_scans(raw_scans: list[Any]) -> tuple[list[Scan], list[dict[str, Any]]]:
    scans: list[Scan] = []
    rejected: list[dict[str, Any]] = []
    latest_allowed = timezone.now() + FUTURE_TOLERANCE
    zone = timezone.get_current_timezone()
    for index, raw in enumerate(raw_scans):
        data, errors = scan_validate(raw, zone=zone)
        scan_id = raw.get("scan_id") if isinstance(raw.get("scan_id"), str) else None
        if data is None:
            problems = flatten_detail(errors)
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(problems.items()))
            rejected.append(
                {"index": index, "scan_id": scan_id, "code": "invalid", "message": message}
            )
            continue
        if data["occurred_at"] > latest_allowed:
            rejected.append(
                {
                    "index": index,
                    "scan_id": scan_id,
                    "code": "occurred_in_future",
                    "message": str(_("The scan time is in the future.")),
                }
            )
            continue
        extra: dict[str, Any] = {}
        if data["event"] == "cash_collected":
            if "amount" not in data or "currency" not in data:
                rejected.append(
                    {
                        "index": index,
                        "scan_id": scan_id,
                        "code": "invalid",
                        "message": str(_("cash_collected needs amount and currency.")),
                    }
                )
                continue
            extra = {"amount": str(data["amount"]), "currency": data["currency"]}
        problem = _reason_problem(data)
        if problem:
            rejected.append(
                {"index": index, "scan_id": scan_id, "code": "invalid", "message": problem}
            )
            continue
        if "reason" in data:
            extra["reason"] = data["reason"]
        scans.append(
            Scan(
                index=index,
                scan_id=data["scan_id"],
                tracking_number=data["tracking_number"].upper(),
                event=data["event"],
                occurred_at=data["occurred_at"],
                location=data["location"],
                data=extra,
            )
        )
    return scans, rejected


class CourierScansView(APIView):
    @extend_schema(
        request=ScanBatchSerializer,
        responses={200: ScanResultSerializer, **error_responses(400, 401, 403, 404)},
        tags=["courier"],
        description=(
            "Up to 1,000 scans; each is accepted or rejected alone, a repeated scan_id is"
            " a duplicate. Accepted scans are stored before the answer and applied to"
            " their parcels' statuses right after it, in timeline order."
        ),
    )
    def post(self, request: Request) -> Response:
        courier = Courier.objects.filter(user_id=caller_id(request)).first()
        if courier is None:
            raise Forbidden(_("Only couriers may report scans."))
        batch = ScanBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        scans, rejected = _parse_scans(batch.validated_data["scans"])
        outcome = scans_record(courier=courier, scans=scans)
        rejected = sorted(rejected + outcome.rejected, key=lambda r: r["index"])
        if not outcome.accepted and not outcome.duplicates:
            codes = {r["code"] for r in rejected}
            not_found = codes == {"parcel_not_found"}
            raise ApplicationError(
                _("No scan was accepted."),
                code="parcel_not_found" if not_found else "invalid",
                status_code=404 if not_found else 400,
                fields={f"scans[{r['index']}]": [r["message"]] for r in rejected},
            )
        return Response(
            {
                "accepted": len(outcome.accepted),
                "duplicates": len(outcome.duplicates),
                "rejected": rejected,
            }
        )


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


def _transfer_response(transfer_id: int, code: int = status.HTTP_200_OK) -> Response:
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
        return _transfer_response(transfer.id, status.HTTP_201_CREATED)


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
        return _transfer_response(transfer_id)


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
        return _transfer_response(transfer_id)


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
        return _transfer_response(transfer_id)

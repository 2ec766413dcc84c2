"""Couriers report scans, with the cash they collected."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Courier
from commands.scans import courier_scans_report
from core.api import (
    caller_id,
    error_responses,
)
from core.errors import ApplicationError, Forbidden
from core.parsers import BoundedJSONParser
from shipping.tracking.scans import scans_parse
from shipping.tracking.serializers import ScanBatchSerializer, ScanResultSerializer


class CourierScansView(APIView):
    # A batch of scans is a nested list: JSON only.
    parser_classes = [BoundedJSONParser]

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
        scans, rejected = scans_parse(batch.validated_data["scans"])
        outcome = courier_scans_report(courier=courier, scans=scans)
        rejected = sorted(rejected + outcome.rejected, key=lambda r: r["index"])
        if not outcome.accepted and not outcome.duplicates:
            codes = {r["code"] for r in rejected}
            # One reason for all: its own answer (a missing parcel, a closed
            # one); mixed reasons: the batch was not valid.
            code, status_code = {
                frozenset({"parcel_not_found"}): ("parcel_not_found", 404),
                frozenset({"parcel_closed"}): ("parcel_closed", 409),
            }.get(frozenset(codes), ("invalid", 400))
            raise ApplicationError(
                _("No scan was accepted."),
                code=code,
                status_code=status_code,
                fields={f"scans[{r['index']}]": [r["message"]] for r in rejected},
            )
        return Response(
            {
                "accepted": len(outcome.accepted),
                "duplicates": len(outcome.duplicates),
                "rejected": rejected,
            }
        )

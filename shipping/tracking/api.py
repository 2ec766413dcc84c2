from __future__ import annotations

from datetime import timedelta
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import error_responses
from shipping.fulfilment.models import Parcel, ParcelStatus
from shipping.lastmile.serializers import pickup_point_data
from shipping.tracking.events import REASONED_EVENTS, reason_label
from shipping.tracking.selectors import parcel_buyer_timeline, parcel_for_tracking
from shipping.tracking.serializers import (
    TrackingSerializer,
)


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
        "carrier": parcel.carrier,
        "carrier_number": parcel.carrier_number,
        "pickup_point": pickup_point_data(parcel.pickup_point) if parcel.pickup_point else None,
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
            for e in parcel_buyer_timeline(parcel=parcel)
        ],
    }


class TrackingView(APIView):
    """Public: the status and timeline of one parcel."""

    permission_classes = [AllowAny]

    @extend_schema(responses={200: TrackingSerializer, **error_responses(404)}, tags=["tracking"])
    def get(self, request: Request, tracking_number: str) -> Response:
        parcel = parcel_for_tracking(tracking_number=tracking_number.upper())
        return Response(TrackingSerializer(tracking_data(parcel)).data)

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import LANG_PARAMETER, error_responses
from core.regions import region_zone
from core.replicas import ReplicaReadsMixin
from shipping.fulfilment.models import Parcel, ParcelStatus
from shipping.lastmile.serializers import pickup_point_data
from shipping.tracking.events import FINAL_STATUSES, REASONED_EVENTS, reason_label
from shipping.tracking.selectors import parcel_buyer_timeline, parcel_for_tracking
from shipping.tracking.serializers import (
    TrackingSerializer,
)
from shipping.tracking.texts import event_description, place_name


def tracking_data(parcel: Parcel) -> dict[str, Any]:
    """The parcel's status and timeline for the buyer, in the active language,
    times also in the delivery region's zone (where the buyer is)."""
    zone = ZoneInfo(region_zone(parcel.order.region))
    start = timezone.localtime(parcel.created_at, zone).date()
    events = parcel_buyer_timeline(parcel=parcel)
    delivered = [e.occurred_at for e in events if e.status == ParcelStatus.DELIVERED]
    return {
        "tracking_number": parcel.tracking_number,
        "status": parcel.status,
        "status_display": str(ParcelStatus(parcel.status).label) if parcel.status else "",
        "final": parcel.status in FINAL_STATUSES,
        "delivered_at": delivered[-1] if parcel.status == ParcelStatus.DELIVERED else None,
        "time_zone": zone.key,
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
                "description": event_description(e.event),
                "occurred_at": e.occurred_at,
                "occurred_at_local": timezone.localtime(e.occurred_at, zone),
                "location": e.location,
                "place": place_name(e.location),
                "reason": e.data.get("reason", "") if e.event in REASONED_EVENTS else "",
                "reason_display": reason_label(e.event, e.data.get("reason", "")),
            }
            for e in events
        ],
    }


class TrackingView(ReplicaReadsMixin, APIView):
    """Public: the status and timeline of one parcel, from the read replica
    when there is one (a scan may show a moment later)."""

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[LANG_PARAMETER],
        responses={200: TrackingSerializer, **error_responses(400, 404)},
        tags=["tracking"],
    )
    def get(self, request: Request, tracking_number: str) -> Response:
        parcel = parcel_for_tracking(tracking_number=tracking_number.upper())
        return Response(TrackingSerializer(tracking_data(parcel)).data)

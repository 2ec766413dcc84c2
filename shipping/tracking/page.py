from __future__ import annotations

from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from core.errors import NotFound
from core.regions import region_zone
from shipping.tracking.api import tracking_data
from shipping.tracking.selectors import parcel_for_tracking


def zone_label(zone: ZoneInfo) -> str:
    """The zone's name and its offset now, e.g. "Asia/Yekaterinburg, UTC+05:00"."""
    offset = timezone.localtime(timezone.now(), zone).strftime("%z")
    return f"{zone.key}, UTC{offset[:3]}:{offset[3:]}"


def tracking_page(request: HttpRequest, tracking_number: str) -> HttpResponse:
    """The buyer-facing tracking page, in the language the browser asks for
    (or ?lang=), times and dates in the delivery region's zone."""
    try:
        parcel = parcel_for_tracking(tracking_number=tracking_number.upper())
    except NotFound:
        return render(
            request, "shipping/track.html", {"tracking_number": tracking_number}, status=404
        )
    zone = ZoneInfo(region_zone(parcel.order.region))
    # The template's date filters show times in the current zone.
    with timezone.override(zone):
        return render(
            request,
            "shipping/track.html",
            {
                "tracking_number": parcel.tracking_number,
                "tracking": tracking_data(parcel),
                "zone_label": zone_label(zone),
            },
        )

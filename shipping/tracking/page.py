from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import NotFound
from core.replicas import replica_reads
from shipping.tracking.api import tracking_data
from shipping.tracking.selectors import parcel_for_tracking


def tracking_page(request: HttpRequest, tracking_number: str) -> HttpResponse:
    """The buyer-facing tracking page, in the language the browser asks for
    (read from the replica when there is one)."""
    with replica_reads():
        return _tracking_page(request, tracking_number)


def _tracking_page(request: HttpRequest, tracking_number: str) -> HttpResponse:
    try:
        parcel = parcel_for_tracking(tracking_number=tracking_number.upper())
    except NotFound:
        return render(
            request, "shipping/track.html", {"tracking_number": tracking_number}, status=404
        )
    return render(
        request,
        "shipping/track.html",
        {"tracking_number": parcel.tracking_number, "tracking": tracking_data(parcel)},
    )

"""What buyers read of a timeline: each event's description (the UPU EMSEVT
meaning where it has one) and places by name, in the active language."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.labels import label_of

EVENT_DESCRIPTIONS: dict[str, Promise] = {
    "label_created": _("Shipping label created"),
    "accepted": _("Accepted by the carrier"),  # EMA
    "loaded": _("Loaded for dispatch"),  # EMB
    "departed": _("Sent on its way"),  # EMC
    "arrived": _("Arrived at the sorting centre"),  # EMD
    "customs_presented": _("Presented to customs"),  # EDB
    "customs_held": _("Held by customs"),  # EME
    "customs_released": _("Released by customs"),  # EMF
    "arrived_delivery_office": _("Arrived at the delivery office"),  # EMG
    "out_for_delivery": _("Out for delivery"),  # EDG
    "delivery_failed": _("Delivery attempt failed"),  # EMH
    "available_for_pickup": _("Ready for pickup"),
    "delivered": _("Delivered"),  # EMI
    "returned": _("Returned to the sender"),
    "exception": _("Delivery problem"),
    "cash_collected": _("Paid in cash"),
    "departure_cancelled": _("Departure cancelled"),
    "expired": _("No news from the carrier"),
}

# Hubs (IATA codes) and warehouses that scans and departures name by code.
PLACES: dict[str, Promise] = {
    "HRB": _("Harbin"),
    "SFH": _("Suifenhe"),
    "HEK": _("Heihe"),
    "SVX": _("Yekaterinburg"),
    "OVB": _("Novosibirsk"),
    "KJA": _("Krasnoyarsk"),
    "VVO": _("Vladivostok"),
    "MOW": _("Moscow"),
    "LED": _("Saint Petersburg"),
}


def event_description(event: str) -> str:
    return label_of(EVENT_DESCRIPTIONS, event, otherwise=event)


def place_name(location: str) -> str:
    """A hub's or warehouse's name for its code; anything else (a courier's
    free text) as it was written."""
    return label_of(PLACES, location.strip().upper(), otherwise=location)

"""Reads of parcels and their timelines for buyers and the public page."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from core.errors import NotFound
from orders.models import PaymentMethod
from shipping.fulfilment.models import Parcel
from shipping.fulfilment.numbers import s10_is_valid
from shipping.tracking.events import REFUSED
from shipping.tracking.models import TrackingEvent


def parcel_for_tracking(*, tracking_number: str) -> Parcel:
    if not s10_is_valid(tracking_number):
        raise NotFound()
    parcel = (
        Parcel.objects.select_related("order", "lane", "departure")
        .filter(tracking_number=tracking_number)
        .first()
    )
    if parcel is None:
        raise NotFound()
    return parcel


def parcel_timeline(*, parcel: Parcel) -> QuerySet[TrackingEvent]:
    return TrackingEvent.objects.filter(parcel=parcel).order_by("occurred_at", "id")


def parcels_for_buyer(*, user_id: int) -> QuerySet[Parcel]:
    return Parcel.objects.filter(order__buyer__user_id=user_id).select_related("order", "lane")


def cod_refusals_count(*, buyer_id: int) -> int:
    """Cash-on-delivery orders of the buyer that a courier reported refused at
    the door (a delivery_failed scan with reason "refused"), each once."""
    return (
        TrackingEvent.objects.filter(
            event="delivery_failed",
            data__reason=REFUSED,
            parcel__order__buyer_id=buyer_id,
            parcel__order__payment_method=PaymentMethod.COD,
        )
        .values("parcel__order_id")
        .distinct()
        .count()
    )


def cod_parcel_numbers(*, numbers: Iterable[str]) -> set[str]:
    """The tracking numbers among `numbers` whose order is paid in cash."""
    return set(
        Parcel.objects.filter(
            tracking_number__in=set(numbers), order__payment_method=PaymentMethod.COD
        ).values_list("tracking_number", flat=True)
    )

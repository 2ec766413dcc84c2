"""Reads of parcels and their timelines for buyers and the public page."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

from core.errors import NotFound
from orders.models import PaymentMethod
from shipping.fulfilment.models import Parcel
from shipping.fulfilment.numbers import s10_is_valid
from shipping.tracking.events import FINAL_STATUSES, REFUSED, timeline_counted
from shipping.tracking.models import TrackingEvent


def parcel_for_tracking(*, tracking_number: str) -> Parcel:
    if not s10_is_valid(tracking_number):
        raise NotFound()
    parcel = (
        Parcel.objects.select_related("order", "lane", "departure", "pickup_point")
        .filter(tracking_number=tracking_number)
        .first()
    )
    if parcel is None:
        raise NotFound()
    return parcel


def parcel_timeline(*, parcel: Parcel) -> QuerySet[TrackingEvent]:
    """Every event of the parcel, as operators see it."""
    return TrackingEvent.objects.filter(parcel=parcel).order_by("occurred_at", "id")


def parcel_buyer_timeline(*, parcel: Parcel) -> list[TrackingEvent]:
    """The parcel's timeline as buyers see it: without the status-changing
    events that came after its final one (a stray scan, a departure's or the
    system's event after the delivery), which are kept for operators."""
    events = list(parcel_timeline(parcel=parcel))
    counted = timeline_counted(e.status for e in events)
    return [e for e, counts in zip(events, counted, strict=True) if counts]


def parcels_for_buyer(*, user_id: int) -> QuerySet[Parcel]:
    return Parcel.objects.filter(order__buyer__user_id=user_id).select_related("order", "lane")


def cod_refusals_count(*, buyer_id: int) -> int:
    """Cash-on-delivery orders of the buyer that a courier reported refused at
    the door (a delivery_failed scan with reason "refused"), each once."""
    # A refusal after the parcel's final event (a stray row) did not happen
    # at the door: the fold leaves it out, and so does the count.
    final_before = TrackingEvent.objects.filter(
        Q(occurred_at__lt=OuterRef("occurred_at"))
        | Q(occurred_at=OuterRef("occurred_at"), id__lt=OuterRef("id")),
        parcel_id=OuterRef("parcel_id"),
        status__in=sorted(FINAL_STATUSES),
    )
    return (
        TrackingEvent.objects.filter(
            event="delivery_failed",
            data__reason=REFUSED,
            parcel__order__buyer_id=buyer_id,
            parcel__order__payment_method=PaymentMethod.COD,
        )
        .exclude(Exists(final_before))
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

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.cache import ReferenceCache
from core.errors import NotFound, ValidationFailed
from orders.models import PaymentMethod
from shipping.models import DutyRule, Lane, LaneRegion, Parcel, TrackingEvent
from shipping.s10 import s10_is_valid
from shipping.tracking import REFUSED


@dataclass(frozen=True)
class LaneOption:
    lane: Lane
    min_days: int
    max_days: int


_lane_options = ReferenceCache[dict[int, LaneOption]](seconds=30)


def lane_options_for_region(*, region: str) -> dict[int, LaneOption]:
    """Per origin warehouse, its fastest active lane to the region (cached
    for 30 seconds: read on every quote, edited rarely)."""
    return _lane_options.get(region, lambda: _lane_options_read(region))


def _lane_options_read(region: str) -> dict[int, LaneOption]:
    best: dict[int, LaneOption] = {}
    rows = (
        LaneRegion.objects.filter(region=region, lane__is_active=True, lane__origin__is_active=True)
        .select_related("lane__origin")
        .order_by("max_days", "min_days", "lane_id")
    )
    for row in rows:
        best.setdefault(
            row.lane.origin_id,
            LaneOption(lane=row.lane, min_days=row.min_days, max_days=row.max_days),
        )
    return best


_duty_rules = ReferenceCache[DutyRule | None](seconds=30)


def duty_rule_in_force(*, on: date) -> DutyRule:
    rule = _duty_rules.get(
        on, lambda: DutyRule.objects.filter(valid_from__lte=on).order_by("-valid_from").first()
    )
    if rule is None:
        raise ValidationFailed(_("No import duty rule is in force."), code="no_duty_rule")
    return rule


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

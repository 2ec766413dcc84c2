"""Reads of lanes: which lane serves a region, and its window."""

from __future__ import annotations

from dataclasses import dataclass

from core.cache import ReferenceCache
from shipping.linehaul.models import Lane, LaneRegion


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

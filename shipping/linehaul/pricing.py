from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shipping.linehaul.models import Lane

ZERO = Decimal(0)


@dataclass(frozen=True)
class Unit:
    """One kind of item to ship: quantity units of the same product."""

    key: int  # order line or product id
    weight_g: int
    value_cny: Decimal
    quantity: int


@dataclass
class PlannedParcel:
    items: dict[int, int]  # key -> quantity
    weight_g: int = 0
    value_cny: Decimal = ZERO


def parcels_split(units: Sequence[Unit], *, max_weight_g: int) -> list[PlannedParcel]:
    """First-fit decreasing by unit weight: few parcels, none over the lane's
    limit. A single unit heavier than the limit travels alone."""
    singles = sorted(
        ((u, 1) for u in units for _ in range(u.quantity)),
        key=lambda pair: (-pair[0].weight_g, pair[0].key),
    )
    parcels: list[PlannedParcel] = []
    for unit, count in singles:
        target = next((p for p in parcels if p.weight_g + unit.weight_g <= max_weight_g), None)
        if target is None:
            target = PlannedParcel(items={})
            parcels.append(target)
        target.items[unit.key] = target.items.get(unit.key, 0) + count
        target.weight_g += unit.weight_g
        target.value_cny += unit.value_cny
    return parcels


def shipping_fee_cny(*, lane: Lane, weight_g: int) -> Decimal:
    started_100g = math.ceil(weight_g / 100)
    return lane.base_fee_cny + lane.per_100g_cny * started_100g


def box_dimensions(
    items: Mapping[Any, int], dims: Mapping[Any, tuple[int, int, int]]
) -> tuple[int, int, int]:
    """The box a planned parcel packs into, as packing makes it: the longest
    and widest item set the base, the items stack up."""
    return (
        max(dims[k][0] for k in items),
        max(dims[k][1] for k in items),
        sum(dims[k][2] * q for k, q in items.items()),
    )

"""Reads of the last mile: pickup points by city, postcode or distance, and
whether a planned parcel fits a point."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import overload

from django.db.models import QuerySet

from catalogue.search import search_fold
from shipping.lastmile.models import OrderDelivery, PickupPoint

EARTH_RADIUS_KM = 6371.0
MAX_RADIUS_KM = 100


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine): exact enough within a city, where
    the error of a spherical earth is metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


@dataclass(frozen=True)
class Near:
    latitude: float
    longitude: float
    radius_km: float


class _PointsByCode(Sequence[tuple[PickupPoint, float | None]]):
    """Points without a distance, read a page at a time: a whole city (or the
    whole directory) is tens of thousands of rows, and the paginator asks
    only for its count and one slice."""

    def __init__(self, points: QuerySet[PickupPoint]) -> None:
        self._points = points.order_by("code")

    def __len__(self) -> int:
        return self._points.count()

    @overload
    def __getitem__(self, index: int) -> tuple[PickupPoint, float | None]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[PickupPoint, float | None]]: ...

    def __getitem__(
        self, index: int | slice
    ) -> tuple[PickupPoint, float | None] | list[tuple[PickupPoint, float | None]]:
        if isinstance(index, slice):
            return [(point, None) for point in self._points[index]]
        return (self._points[index], None)


def pickup_points_search(
    *,
    city: str = "",
    postcode: str = "",
    near: Near | None = None,
    carrier: str = "",
    kind: str = "",
) -> Sequence[tuple[PickupPoint, float | None]]:
    """Active points matching every filter given (none: the whole directory),
    with their distance from `near` (nearest first) or None (by code). A
    bounding box narrows the rows in SQL on its index; the exact distance is
    checked on what it returns."""
    points: QuerySet[PickupPoint] = PickupPoint.objects.filter(is_active=True)
    if city:
        points = points.filter(city_folded=search_fold(city))
    if postcode:
        points = points.filter(postcode=postcode)
    if carrier:
        points = points.filter(carrier=carrier)
    if kind:
        points = points.filter(kind=kind)
    if near is None:
        return _PointsByCode(points)
    dlat = near.radius_km / 111.0
    dlon = near.radius_km / (111.0 * max(math.cos(math.radians(near.latitude)), 0.01))
    points = points.filter(
        latitude__gte=Decimal(str(near.latitude - dlat)),
        latitude__lte=Decimal(str(near.latitude + dlat)),
        longitude__gte=Decimal(str(near.longitude - dlon)),
        longitude__lte=Decimal(str(near.longitude + dlon)),
    )
    found: list[tuple[PickupPoint, float | None]] = []
    for point in points:
        km = distance_km(
            near.latitude, near.longitude, float(point.latitude), float(point.longitude)
        )
        if km <= near.radius_km:
            found.append((point, round(km, 3)))
    found.sort(key=lambda pair: (pair[1] or 0.0, pair[0].code))
    return found


def pickup_point_get(*, code: str) -> PickupPoint | None:
    return PickupPoint.objects.filter(code=code, is_active=True).first()


def pickup_points_in_city(*, region: str, city: str, limit: int = 5) -> list[PickupPoint]:
    return list(
        PickupPoint.objects.filter(
            is_active=True, region=region, city_folded=search_fold(city)
        ).order_by("code")[:limit]
    )


@dataclass(frozen=True)
class PlannedBox:
    weight_g: int
    length_mm: int
    width_mm: int
    height_mm: int


def box_fits(point: PickupPoint, box: PlannedBox) -> bool:
    """Whether a parcel fits the point: its weight within the limit and its
    sides, turned any way, within the cell's."""
    if point.max_weight_g is not None and box.weight_g > point.max_weight_g:
        return False
    cell = point.cell_mm
    if cell is None:
        return True
    sides = sorted((box.length_mm, box.width_mm, box.height_mm), reverse=True)
    return all(s <= c for s, c in zip(sides, sorted(cell, reverse=True), strict=True))


def order_pickup_point(*, order_id: int) -> PickupPoint | None:
    delivery = (
        OrderDelivery.objects.filter(order_id=order_id).select_related("pickup_point").first()
    )
    return delivery.pickup_point if delivery else None

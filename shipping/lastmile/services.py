"""Writes of the last mile's directory and deliveries: pickup points loaded
from a file or a carrier's list, an order's delivery choice recorded."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from catalogue.search import search_fold
from shipping.fulfilment.models import Parcel
from shipping.lastmile.models import DeliveryKind, OrderDelivery, PickupPoint
from shipping.lastmile.selectors import order_pickup_point
from shipping.lastmile.shipments import carrier_shipments_queue

# A small sample of real-looking points in the demo's regions (Yekaterinburg,
# Vladivostok, Moscow, Novosibirsk); FIAS ids are made up in FIAS's shape.
DEMO_POINTS_FILE = Path(__file__).resolve().parent / "data" / "pickup_points_demo.json"
LIMIT_FIELDS = ("max_weight_g", "max_length_mm", "max_width_mm", "max_height_mm")

POINT_FIELDS = (
    "carrier",
    "kind",
    "name",
    "region",
    "city",
    "postcode",
    "address",
    "latitude",
    "longitude",
    "fias_id",
    "opening_hours",
    "max_weight_g",
    "max_length_mm",
    "max_width_mm",
    "max_height_mm",
    "cash_allowed",
)


@dataclass
class PointsLoaded:
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    codes: list[str] = field(default_factory=list)


def pickup_points_read(path: Path) -> list[dict[str, Any]]:
    """Points from a JSON list of objects or a CSV file with a header row,
    both with PickupPoint's field names."""
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            rows: list[dict[str, Any]] = list(csv.DictReader(handle))
        for row in rows:
            for name in LIMIT_FIELDS:
                row[name] = int(row[name]) if row.get(name) else None
            row["cash_allowed"] = str(row.get("cash_allowed", "")).lower() in ("1", "true", "yes")
        return rows
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError("the file must hold a list of points")
    return data


def _point_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    values = {name: raw.get(name) for name in POINT_FIELDS}
    values["latitude"] = Decimal(str(raw["latitude"]))
    values["longitude"] = Decimal(str(raw["longitude"]))
    values["fias_id"] = uuid.UUID(str(raw["fias_id"])) if raw.get("fias_id") else None
    values["opening_hours"] = raw.get("opening_hours") or ""
    values["cash_allowed"] = bool(raw.get("cash_allowed"))
    values["city_folded"] = search_fold(str(raw["city"]))
    return values


def pickup_point_save(*, point: PickupPoint) -> PickupPoint:
    """A point edited by operator staff, its searched city kept in step."""
    point.city_folded = search_fold(point.city)
    point.save()
    return point


def pickup_points_load(
    *, points: Iterable[Mapping[str, Any]], carrier: str | None = None
) -> PointsLoaded:
    """Create or update points by code. With `carrier`, the list is that
    carrier's whole directory: its points missing from it are deactivated
    (never deleted: parcels point to them)."""
    now = timezone.now()
    result = PointsLoaded()
    with transaction.atomic():
        for raw in points:
            values = _point_values(raw)
            if carrier is not None:
                values["carrier"] = carrier
            _point, created = PickupPoint.objects.update_or_create(
                code=raw["code"], defaults={**values, "is_active": True, "synced_at": now}
            )
            result.codes.append(str(raw["code"]))
            if created:
                result.created += 1
            else:
                result.updated += 1
        if carrier is not None:
            result.deactivated = (
                PickupPoint.objects.filter(carrier=carrier, is_active=True)
                .exclude(code__in=result.codes)
                .update(is_active=False, synced_at=now)
            )
    return result


def order_delivery_record(*, order_id: int, pickup_point: PickupPoint | None) -> OrderDelivery:
    """The order's delivery choice, in the placing transaction."""
    return OrderDelivery.objects.create(
        order_id=order_id,
        kind=DeliveryKind.PICKUP_POINT if pickup_point else DeliveryKind.DOOR,
        pickup_point=pickup_point,
    )


def parcels_point_assign(*, order_id: int, parcel_ids: Sequence[int]) -> PickupPoint | None:
    """Packing, under the order's lock: an order to a pickup point has its
    new parcels addressed to the point and handed to its carrier (a shipment
    each, registered after commit)."""
    point = order_pickup_point(order_id=order_id)
    if point is not None:
        Parcel.objects.filter(id__in=parcel_ids).update(pickup_point=point, carrier=point.carrier)
        carrier_shipments_queue(parcel_ids=parcel_ids, point=point)
    return point

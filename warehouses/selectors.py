from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, QuerySet

from warehouses.models import Reservation, StockLevel


def availability(
    *, warehouse_ids: Iterable[int], product_ids: Iterable[int]
) -> dict[tuple[int, int], int]:
    rows = StockLevel.objects.filter(
        warehouse_id__in=list(warehouse_ids), product_id__in=list(product_ids)
    ).values_list("warehouse_id", "product_id", "on_hand", "reserved")
    return {(w, p): on_hand - reserved for w, p, on_hand, reserved in rows}


def available_by_product(*, product_ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """product_id -> {warehouse_id: units available}, for the catalogue."""
    out: dict[int, dict[int, int]] = {}
    rows = StockLevel.objects.filter(
        product_id__in=list(product_ids), on_hand__gt=F("reserved")
    ).values_list("product_id", "warehouse_id", "on_hand", "reserved")
    for product_id, warehouse_id, on_hand, reserved in rows:
        out.setdefault(product_id, {})[warehouse_id] = on_hand - reserved
    return out


def reservations_for_order(*, order_id: int) -> QuerySet[Reservation]:
    return Reservation.objects.filter(order_id=order_id).select_related("stock", "line")

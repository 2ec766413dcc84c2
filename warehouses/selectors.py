from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from core.rawsql import placeholders
from warehouses.models import Reservation, StockLevel


def availability(
    *, warehouse_ids: Iterable[int], product_ids: Iterable[int]
) -> dict[tuple[int, int], int]:
    """(warehouse id, product id) -> units available. Hand-written: read on
    every quote and checkout."""
    warehouses, products = list(warehouse_ids), list(product_ids)
    if not warehouses or not products:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            # Only table and column names from the models go into the text.
            "SELECT warehouse_id, product_id, on_hand - reserved"  # noqa: S608
            f" FROM {connection.ops.quote_name(StockLevel._meta.db_table)}"
            f" WHERE warehouse_id IN ({placeholders(len(warehouses))})"
            f" AND product_id IN ({placeholders(len(products))})",
            [*warehouses, *products],
        )
        return {(w, p): available for w, p, available in cursor.fetchall()}


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


def stock_levels_for_export(*, levels: QuerySet[StockLevel]) -> QuerySet[StockLevel]:
    """`levels` (already limited to what the user may see) ready for the CSV."""
    return levels.select_related("warehouse", "product").order_by("warehouse__code", "product__sku")


@dataclass(frozen=True)
class StockDifference:
    """A stock level that is not the sum of its movements."""

    warehouse: str
    sku: str
    on_hand: int
    reserved: int
    ledger_on_hand: int
    ledger_reserved: int


def stock_audit_differences() -> list[StockDifference]:
    """Every stock level whose on_hand or reserved differs from the sum of its
    movements, by warehouse code and SKU: one aggregate query."""
    rows = (
        StockLevel.objects.annotate(
            ledger_on_hand=Coalesce(Sum("movements__on_hand_delta"), 0),
            ledger_reserved=Coalesce(Sum("movements__reserved_delta"), 0),
        )
        .filter(~Q(on_hand=F("ledger_on_hand")) | ~Q(reserved=F("ledger_reserved")))
        .order_by("warehouse__code", "product__sku")
        .values_list(
            "warehouse__code",
            "product__sku",
            "on_hand",
            "reserved",
            "ledger_on_hand",
            "ledger_reserved",
        )
    )
    return [StockDifference(*row) for row in rows]


def stock_levels_count() -> int:
    return StockLevel.objects.count()

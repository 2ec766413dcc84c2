from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from catalogue.models import Product
from core.rawsql import columns, placeholders
from warehouses.models import Reservation, StockLevel, StockMovement


def products_with_availability(
    *, skus: Sequence[str], warehouse_ids: Sequence[int]
) -> tuple[dict[str, Product], dict[tuple[int, int], int]]:
    """The active products among these SKUs, by SKU, and their units
    available in these warehouses, by (warehouse id, product id): one
    hand-written query, read on every quote and checkout. Its ORM twins (the
    products, then their stock) cost 1.4-1.9 ms against 0.2-0.26 ms, 11-13 %
    of a checkout request (bench/rawsql_cost.py, 2026-12-02)."""
    if not skus:
        return {}, {}
    cols = columns(Product)
    quote = connection.ops.quote_name
    # No warehouse: no stock row may match (the column is never null).
    in_warehouses = f"IN ({placeholders(len(warehouse_ids))})" if warehouse_ids else "IS NULL"
    with connection.cursor() as cursor:
        cursor.execute(
            # Only table and column names from the models go into the text.
            f"SELECT {cols.select('p')}, s.warehouse_id, s.on_hand - s.reserved"  # noqa: S608
            f" FROM {quote(Product._meta.db_table)} p"
            f" LEFT JOIN {quote(StockLevel._meta.db_table)} s"
            f" ON s.product_id = p.id AND s.warehouse_id {in_warehouses}"
            f" WHERE p.sku IN ({placeholders(len(skus))}) AND p.is_active",
            [*warehouse_ids, *skus],
        )
        rows = cursor.fetchall()
    products: dict[str, Product] = {}
    available: dict[tuple[int, int], int] = {}
    width, sku_at = len(cols.fields), cols.attnames.index("sku")
    for row in rows:
        product = products.get(row[sku_at])
        if product is None:
            product = cols.load(row)
            products[product.sku] = product
        if row[width] is not None:
            available[(row[width], product.id)] = row[width + 1]
    return products, available


def available_by_product(*, product_ids: Iterable[int]) -> dict[int, dict[int, int]]:
    """product_id -> {warehouse_id: units available}, for the catalogue."""
    out: dict[int, dict[int, int]] = {}
    rows = StockLevel.objects.filter(
        product_id__in=list(product_ids), on_hand__gt=F("reserved")
    ).values_list("product_id", "warehouse_id", "on_hand", "reserved")
    for product_id, warehouse_id, on_hand, reserved in rows:
        out.setdefault(product_id, {})[warehouse_id] = on_hand - reserved
    return out


def reservations_active(*, order_id: int) -> list[Reservation]:
    """An order's active reservations with what packing needs of them."""
    return list(
        Reservation.objects.filter(order_id=order_id, status=Reservation.Status.ACTIVE)
        .select_related("stock", "line__product")
        .order_by("id")
    )


def stock_levels_available(*, warehouse_ids: Iterable[int] | None = None) -> QuerySet[StockLevel]:
    """Stock levels with units to sell (in these warehouses, if given): for a
    catalogue's "available" filter, as a subquery on product_id."""
    levels = StockLevel.objects.filter(on_hand__gt=F("reserved"))
    return levels if warehouse_ids is None else levels.filter(warehouse_id__in=list(warehouse_ids))


def reservations_for_order(*, order_id: int) -> QuerySet[Reservation]:
    return Reservation.objects.filter(order_id=order_id).select_related("stock", "line")


def stock_levels_for_export(*, levels: QuerySet[StockLevel]) -> QuerySet[StockLevel]:
    """`levels` (already limited to what the user may see) ready for the CSV."""
    return levels.select_related("warehouse", "product").order_by("warehouse__code", "product__sku")


@dataclass(frozen=True)
class StockDifference:
    """A stock level that is not the sum of its movements, or whose reserved
    units are not those its active reservations hold."""

    warehouse: str
    sku: str
    on_hand: int
    reserved: int
    ledger_on_hand: int
    ledger_reserved: int
    reservations_active: int


def _per_level_sum(rows: QuerySet[Any], field: str) -> Coalesce:
    """The sum of `field` over the rows of the outer stock level, 0 if none."""
    total = (
        rows.filter(stock=OuterRef("pk"))
        .order_by()
        .values("stock")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(total), 0)


def stock_audit_differences() -> list[StockDifference]:
    """Every stock level whose on_hand or reserved differs from the sum of its
    movements, or whose reserved differs from the units of its active
    reservations, by warehouse code and SKU: one query."""
    rows = (
        StockLevel.objects.annotate(
            ledger_on_hand=_per_level_sum(StockMovement.objects.all(), "on_hand_delta"),
            ledger_reserved=_per_level_sum(StockMovement.objects.all(), "reserved_delta"),
            reservations_active=_per_level_sum(
                Reservation.objects.filter(status=Reservation.Status.ACTIVE), "quantity"
            ),
        )
        .filter(
            ~Q(on_hand=F("ledger_on_hand"))
            | ~Q(reserved=F("ledger_reserved"))
            | ~Q(reserved=F("reservations_active"))
        )
        .order_by("warehouse__code", "product__sku")
        .values_list(
            "warehouse__code",
            "product__sku",
            "on_hand",
            "reserved",
            "ledger_on_hand",
            "ledger_reserved",
            "reservations_active",
        )
    )
    return [StockDifference(*row) for row in rows]


def stock_levels_count() -> int:
    return StockLevel.objects.count()

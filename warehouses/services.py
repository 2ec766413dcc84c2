"""Stock writes. Every change locks the stock rows it touches in id order
(SELECT ... FOR UPDATE), checks, writes the levels in one statement and appends
one movement per row, all in one transaction: no oversell, no deadlock, and a
query count that does not grow with the number of lines. The check
constraints on StockLevel are the last line of defence.

A change that takes a level's available units below its low_stock_threshold
writes a stock.low outbox event, in the same transaction, for the product's
merchant's staff (stock_low_events_record)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _

from catalogue.models import Product
from core.errors import ApplicationError, Conflict, ValidationFailed
from core.locking import (
    Rank,
    for_update_sql,
    lock_check,
    lock_held,
    lock_in_order,
    lock_rows,
    locked_transaction,
)
from core.rawsql import columns, instances_insert, placeholders
from notifications.models import OutboxEvent
from notifications.services import EventSpec, events_record
from orders.models import Order, OrderLine
from warehouses.models import Reservation, StockLevel, StockMovement, Warehouse

STOCK_LOW = "stock.low"
IMPORT_REASON = "CSV import"
# Largest count an IntegerField holds everywhere.
UNITS_MAX = 2_147_483_647
_WHOLE = re.compile(r"[0-9]{1,10}")


class OutOfStock(ApplicationError):
    status_code = 409
    code = "out_of_stock"
    default_message = _("Some items are out of stock.")


@dataclass(frozen=True)
class LineAllocation:
    line: OrderLine
    warehouse_id: int


def _locked_levels(keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    # Hand-written: checkout locks on every order, and the ORM's twin
    # (lock_rows) cost 0.7-1.0 ms against 0.2-0.45 ms, 4-6 % of a checkout
    # request (bench/rawsql_cost.py, 2026-12-02).
    if not keys:
        return {}
    warehouse_ids = sorted({w for w, _p in keys})
    product_ids = sorted({p for _w, p in keys})
    cols = columns(StockLevel)
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    lock = for_update_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            # Only table and column names from the models go into the text.
            f"SELECT {cols.select('s')} FROM {table} s"  # noqa: S608
            f" WHERE s.warehouse_id IN ({placeholders(len(warehouse_ids))})"
            f" AND s.product_id IN ({placeholders(len(product_ids))}) ORDER BY s.id{lock}",
            [*warehouse_ids, *product_ids],
        )
        rows = [cols.load(row) for row in cursor.fetchall()]
    lock_check(Rank.STOCK, [row.id for row in rows])
    wanted = set(keys)
    return {
        (r.warehouse_id, r.product_id): r for r in rows if (r.warehouse_id, r.product_id) in wanted
    }


def stock_low_events_record(
    *,
    before: Mapping[int, int],
    levels: Iterable[StockLevel],
    movements: Iterable[StockMovement] = (),
) -> list[OutboxEvent]:
    """Write one stock.low event (in the caller's transaction) for every level
    whose available units went from at least its threshold to below it.

    `before` maps level id -> units available before the change; `levels`
    hold the values after it. No query unless a level crossed its threshold,
    then one to name the levels and find their merchant's staff (the
    audience), whatever the number of levels. The event's sequence is the id
    of the movement that crossed, so it grows with every event of a level."""
    crossed = {
        level.id: level
        for level in levels
        if level.low_stock_threshold is not None
        and level.id in before
        and before[level.id] >= level.low_stock_threshold > level.available
    }
    if not crossed:
        return []
    sequence: dict[int, int] = {}
    for movement in movements:
        if movement.id is not None and movement.stock_id in crossed:
            sequence[movement.stock_id] = max(movement.id, sequence.get(movement.stock_id, 0))
    names: dict[int, tuple[str, str]] = {}
    audience: dict[int, set[int]] = defaultdict(set)
    rows = StockLevel.objects.filter(id__in=crossed).values_list(
        "id", "warehouse__code", "product__sku", "product__merchant__staff__user_id"
    )
    for level_id, warehouse_code, sku, user_id in rows:
        names[level_id] = (warehouse_code, sku)
        if user_id is not None:
            audience[level_id].add(user_id)
    now = timezone.now()
    events: list[EventSpec] = []
    for level_id, level in sorted(crossed.items()):
        warehouse_code, sku = names[level_id]
        events.append(
            EventSpec(
                type=STOCK_LOW,
                subject=f"stock:{sku}@{warehouse_code}",
                sequence=sequence.get(level_id, 1),
                payload={
                    "sku": sku,
                    "warehouse": warehouse_code,
                    "available": level.available,
                    "threshold": level.low_stock_threshold,
                },
                occurred_at=now,
                audience_ids=tuple(sorted(audience[level_id])),
            )
        )
    return events_record(events=events)


def stock_receive(
    *,
    warehouse_id: int,
    product_id: int,
    quantity: int,
    actor_id: int | None = None,
    reason: str = "",
    kind: str = StockMovement.Kind.RECEIPT,
) -> StockLevel:
    """Goods arrive (or an adjustment corrects a count: quantity may be negative)."""
    if quantity == 0:
        raise ValidationFailed(fields={"quantity": [_("Must not be zero.")]})
    with locked_transaction():
        level, _created = StockLevel.objects.get_or_create(
            warehouse_id=warehouse_id, product_id=product_id
        )
        level = lock_rows(StockLevel.objects.filter(id=level.id), rank=Rank.STOCK)[0]
        if level.on_hand + quantity < level.reserved:
            raise Conflict(
                _("The adjustment would leave less on hand than is reserved."),
                code="stock_below_reserved",
            )
        before = {level.id: level.available}
        level.on_hand += quantity
        level.save(update_fields=["on_hand"])
        movement = StockMovement.objects.create(
            stock=level, kind=kind, on_hand_delta=quantity, actor_id=actor_id, reason=reason
        )
        stock_low_events_record(before=before, levels=[level], movements=[movement])
    return level


StockKey = tuple[int, int]  # (warehouse id, product id)


def stock_levels_lock(
    *, wanted: Mapping[StockKey, int], again: bool = False
) -> tuple[dict[StockKey, StockLevel], list[StockKey]]:
    """Lock the stock levels of the wanted (warehouse, product) keys, in id
    order, in the caller's transaction, and list the keys short of the units
    wanted. Checkout locks first and writes after, so a shortfall needs no
    rollback. `again`: a second try in the same transaction (re-quoted after
    a shortfall)."""
    if again:
        # The first try's rows stay locked: rows that sort before them cannot
        # be waited for now without risking a deadlock (core.locking), so a
        # plan that needs them counts as short.
        ids = StockLevel.objects.filter(
            Q(*[Q(warehouse_id=w, product_id=p) for w, p in wanted], _connector=Q.OR)
        ).values_list("id", flat=True)
        if not lock_in_order(Rank.STOCK, ids):
            return {}, sorted(wanted)
    levels = _locked_levels(sorted(wanted))
    short = [
        key for key, units in wanted.items() if key not in levels or levels[key].available < units
    ]
    return levels, sorted(short)


def stock_reserve(
    *,
    order: Order,
    allocations: Sequence[LineAllocation],
    actor_id: int | None = None,
    levels: Mapping[StockKey, StockLevel] | None = None,
) -> list[Reservation]:
    """Reserve every line where the plan says, or nothing (OutOfStock).

    `levels` are the levels the caller already locked (stock_levels_lock) in
    this transaction; without them they are locked here."""
    wanted: dict[StockKey, int] = defaultdict(int)
    for alloc in allocations:
        wanted[(alloc.warehouse_id, alloc.line.product_id)] += alloc.line.quantity
    # No savepoint: this runs on every checkout, and nothing is written before
    # the shortfall check, so OutOfStock leaves nothing to undo.
    with locked_transaction(savepoint=False):
        if levels is None:
            levels = _locked_levels(sorted(wanted))
        short = sorted(
            {
                alloc.line.sku
                for alloc in allocations
                if (key := (alloc.warehouse_id, alloc.line.product_id)) not in levels
                or levels[key].available < wanted[key]
            }
        )
        if short:
            raise OutOfStock(fields={"lines": short}, extra={"skus": short})
        before = {level.id: level.available for level in levels.values()}
        for key, quantity in wanted.items():
            levels[key].reserved += quantity
        _reserved_add({levels[key].id: quantity for key, quantity in wanted.items()})
        movements = [
            StockMovement(
                stock=levels[key],
                kind=StockMovement.Kind.RESERVATION,
                reserved_delta=quantity,
                order=order,
                actor_id=actor_id,
            )
            for key, quantity in wanted.items()
        ]
        instances_insert(movements)
        stock_low_events_record(before=before, levels=levels.values(), movements=movements)
        reservations = [
            Reservation(
                order=order,
                line=alloc.line,
                stock=levels[(alloc.warehouse_id, alloc.line.product_id)],
                quantity=alloc.line.quantity,
            )
            for alloc in allocations
        ]
        instances_insert(reservations)
        return reservations


def _reserved_add(units: Mapping[int, int]) -> None:
    """Add units to the reserved count of locked levels (level id -> units),
    in one UPDATE. Hand-written: bulk_update, its twin, cost 0.6 ms against
    0.15-0.2 ms, 3.5-4 % of a checkout request (bench/rawsql_cost.py,
    2026-12-02); with the lock above, the stock rows of a checkout cost 8 %
    less than through the ORM."""
    ids = sorted(units)
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET reserved = reserved + CASE id"  # noqa: S608
            f" {' '.join(['WHEN %s THEN %s'] * len(ids))} END"
            f" WHERE id IN ({placeholders(len(ids))})",
            [*(v for level_id in ids for v in (level_id, units[level_id])), *ids],
        )


def _settle_reservations(
    *,
    order: Order,
    to: str,
    kind: str,
    actor_id: int | None,
    reason: str,
    warehouse_id: int | None,
    line_ids: Collection[int] | None = None,
) -> int:
    """Release or pick an order's active reservations. Returns units moved.

    The caller holds the order's lock: nobody else can release or pick the
    same reservations meanwhile, so each unit is released once (lock what you
    release)."""
    with locked_transaction():
        lock_held(Rank.ORDER, order.id)
        active = Reservation.objects.filter(order=order, status=Reservation.Status.ACTIVE)
        if warehouse_id is not None:
            active = active.filter(stock__warehouse_id=warehouse_id)
        if line_ids is not None:
            active = active.filter(line_id__in=list(line_ids))
        reservations = list(active.select_related("stock"))
        if not reservations:
            return 0
        per_stock: dict[int, int] = defaultdict(int)
        for res in reservations:
            per_stock[res.stock_id] += res.quantity
        levels = lock_rows(
            StockLevel.objects.filter(id__in=per_stock), rank=Rank.STOCK, ids=list(per_stock)
        )
        picking = kind == StockMovement.Kind.PICK
        # A pick takes as much off on_hand as off reserved and a release only
        # frees units, so neither lowers `available`; checked all the same.
        before = {level.id: level.available for level in levels}
        for level in levels:
            level.reserved -= per_stock[level.id]
            if picking:
                level.on_hand -= per_stock[level.id]
        StockLevel.objects.bulk_update(levels, ["reserved", "on_hand"])
        movements = StockMovement.objects.bulk_create(
            [
                StockMovement(
                    stock_id=stock_id,
                    kind=kind,
                    reserved_delta=-quantity,
                    on_hand_delta=-quantity if picking else 0,
                    order=order,
                    actor_id=actor_id,
                    reason=reason,
                )
                for stock_id, quantity in sorted(per_stock.items())
            ]
        )
        stock_low_events_record(before=before, levels=levels, movements=movements)
        Reservation.objects.filter(id__in=[r.id for r in reservations]).update(status=to)
        return sum(per_stock.values())


def stock_release(*, order: Order, actor_id: int | None = None, reason: str = "") -> int:
    return _settle_reservations(
        order=order,
        to=Reservation.Status.RELEASED,
        kind=StockMovement.Kind.RELEASE,
        actor_id=actor_id,
        reason=reason,
        warehouse_id=None,
    )


def stock_pick(
    *,
    order: Order,
    warehouse_id: int | None = None,
    line_ids: Collection[int] | None = None,
    actor_id: int | None = None,
) -> int:
    """Pick an order's reserved units (of one warehouse and these lines: one
    fulfilment order's)."""
    return _settle_reservations(
        order=order,
        to=Reservation.Status.PICKED,
        kind=StockMovement.Kind.PICK,
        actor_id=actor_id,
        reason="",
        warehouse_id=warehouse_id,
        line_ids=line_ids,
    )


@dataclass(frozen=True)
class StockImportRow:
    """One data row of a stock file, as written. `location` and
    `low_stock_threshold` are None when the file has no such column (the
    level keeps its value); an empty threshold clears it."""

    line: int
    warehouse: str
    sku: str
    on_hand: str
    location: str | None = None
    low_stock_threshold: str | None = None
    # Found by the file reader, e.g. a wrong number of cells.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class StockImportResult:
    rows: int
    levels_created: int
    levels_updated: int
    movements: int


class StockImportRejected(ValidationFailed):
    """Some rows are wrong, so none was applied. `row_errors` lists every bad
    row as (line, messages), by line."""

    code = "stock_import_rejected"
    default_message = _("Nothing was imported: correct the rows listed and upload the file again.")

    def __init__(self, row_errors: Mapping[int, Sequence[object]]) -> None:
        self.row_errors = [
            (line, [force_str(m) for m in messages])
            for line, messages in sorted(row_errors.items())
            if messages
        ]
        super().__init__(fields={f"line {line}": messages for line, messages in self.row_errors})


@dataclass(frozen=True)
class _Target:
    line: int
    key: tuple[int, int]  # (warehouse id, product id)
    on_hand: int
    location: str | None
    set_threshold: bool
    threshold: int | None


def _whole(text: str) -> int | None:
    text = text.strip()
    if not _WHOLE.fullmatch(text) or int(text) > UNITS_MAX:
        return None
    return int(text)


def stock_import_rows(
    *,
    rows: Sequence[StockImportRow],
    actor_id: int | None,
    merchant_id: int | None,
    reason: str = IMPORT_REASON,
) -> StockImportResult:
    """Set each row's on_hand (and location, low-stock threshold), all rows or
    none.

    Each change is a movement: RECEIPT for a stock level the import creates,
    ADJUSTMENT otherwise, with the actor and `reason`. `merchant_id` limits the
    rows to that merchant's products (merchant staff); None allows every
    product (operators). Any bad row raises StockImportRejected naming every
    bad row, and nothing is written. Stock rows are locked in id order, and the
    query count does not grow with the number of rows."""
    if not rows:
        raise ValidationFailed(_("The file has no stock rows."))
    warehouses = dict(
        Warehouse.objects.filter(code__in={r.warehouse.strip() for r in rows}).values_list(
            "code", "id"
        )
    )
    products = {
        sku: (product_id, owner_id)
        for sku, product_id, owner_id in Product.objects.filter(
            sku__in={r.sku.strip() for r in rows}
        ).values_list("sku", "id", "merchant_id")
    }
    location_max = StockLevel._meta.get_field("location").max_length or 0
    errors: dict[int, list[object]] = {}
    first_line: dict[tuple[str, str], int] = {}
    targets: list[_Target] = []
    for row in rows:
        problems = errors.setdefault(row.line, list(row.problems))
        if row.problems:
            continue
        code, sku = row.warehouse.strip(), row.sku.strip()
        warehouse_id = warehouses.get(code)
        if warehouse_id is None:
            problems.append(_('Unknown warehouse "{code}".').format(code=code))
        product_id = None
        if sku not in products:
            problems.append(_('Unknown SKU "{sku}".').format(sku=sku))
        elif merchant_id is not None and products[sku][1] != merchant_id:
            problems.append(_('SKU "{sku}" is not one of your products.').format(sku=sku))
        else:
            product_id = products[sku][0]
        on_hand = _whole(row.on_hand)
        if on_hand is None:
            problems.append(
                _('on_hand "{value}" is not a whole number of 0 or more.').format(
                    value=row.on_hand.strip()
                )
            )
        location = None if row.location is None else row.location.strip()
        if location is not None and len(location) > location_max:
            problems.append(_("location is longer than {max} characters.").format(max=location_max))
        threshold_text = (row.low_stock_threshold or "").strip()
        threshold = _whole(threshold_text) if threshold_text else None
        if threshold_text and threshold is None:
            problems.append(
                _('low_stock_threshold "{value}" is not a whole number of 0 or more.').format(
                    value=threshold_text
                )
            )
        if (code, sku) in first_line:
            problems.append(
                _("Duplicate of line {line} (same warehouse and SKU).").format(
                    line=first_line[(code, sku)]
                )
            )
            continue
        first_line[(code, sku)] = row.line
        if warehouse_id is not None and product_id is not None and on_hand is not None:
            targets.append(
                _Target(
                    line=row.line,
                    key=(warehouse_id, product_id),
                    on_hand=on_hand,
                    location=location,
                    set_threshold=row.low_stock_threshold is not None,
                    threshold=threshold,
                )
            )

    keys = sorted({t.key for t in targets})
    with locked_transaction():
        levels = _locked_levels(keys)
        created = [key for key in keys if key not in levels]
        if created and not any(errors.values()):
            # Zero levels first, so that every change below is a movement.
            StockLevel.objects.bulk_create(
                [StockLevel(warehouse_id=w, product_id=p) for w, p in created],
                ignore_conflicts=True,
            )
            levels.update(_locked_levels(created))
        for target in targets:
            reserved = levels[target.key].reserved if target.key in levels else 0
            if target.on_hand < reserved:
                errors[target.line].append(
                    _("on_hand {on_hand} is below the {reserved} units reserved.").format(
                        on_hand=target.on_hand, reserved=reserved
                    )
                )
        if any(errors.values()):
            raise StockImportRejected(errors)

        new = set(created)
        before: dict[int, int] = {}
        changed: list[StockLevel] = []
        movements: list[StockMovement] = []
        for target in targets:
            level = levels[target.key]
            was = (level.on_hand, level.location, level.low_stock_threshold)
            before[level.id] = level.available
            delta = target.on_hand - level.on_hand
            if delta:
                movements.append(
                    StockMovement(
                        stock=level,
                        kind=(
                            StockMovement.Kind.RECEIPT
                            if target.key in new
                            else StockMovement.Kind.ADJUSTMENT
                        ),
                        on_hand_delta=delta,
                        actor_id=actor_id,
                        reason=reason,
                    )
                )
            level.on_hand = target.on_hand
            if target.location is not None:
                level.location = target.location
            if target.set_threshold:
                level.low_stock_threshold = target.threshold
            if (level.on_hand, level.location, level.low_stock_threshold) != was:
                changed.append(level)
        changed.sort(key=lambda level: level.id)
        if changed:
            StockLevel.objects.bulk_update(changed, ["on_hand", "location", "low_stock_threshold"])
        StockMovement.objects.bulk_create(movements)
        stock_low_events_record(before=before, levels=changed, movements=movements)
    return StockImportResult(
        rows=len(rows),
        levels_created=len(new),
        levels_updated=sum(
            1 for level in changed if (level.warehouse_id, level.product_id) not in new
        ),
        movements=len(movements),
    )

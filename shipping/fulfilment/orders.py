"""Fulfilment orders: an order split into one part per merchant and
warehouse, each packed, labelled and shipped on its own. Their status changes
only through FULFILMENT_ORDER_MACHINE, under their order's lock."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from catalogue.models import Merchant
from core.locking import Rank, lock_held, lock_new, lock_rows
from core.rawsql import insert_rows
from core.statemachine import TransitionTable
from core.transitions import Context, Move, StateMachine
from notifications.services import EventSpec, events_record_ids
from orders.models import Order, OrderLine
from shipping.fulfilment.models import (
    FulfilmentOrder,
    FulfilmentOrderEvent,
    FulfilmentOrderLine,
    FulfilmentOrderStatus,
    Parcel,
    ParcelStatus,
)

S = FulfilmentOrderStatus

FULFILMENT_ORDER_TRANSITIONS = TransitionTable.build(
    "fulfilment_order",
    {
        # A part's first step, recorded as it is created.
        "": {S.PENDING},
        S.PENDING: {S.READY, S.CANCELLED},
        S.READY: {S.PACKED, S.CANCELLED},
        S.PACKED: {S.SHIPPED},
        # As their orders: done when every parcel is delivered or back with
        # the sender, delivered if any reached the buyer.
        S.SHIPPED: {S.DELIVERED, S.RETURNED},
    },
)
# Parts that still count towards their order's packing (a cancelled one
# never will be packed).
LIVE = frozenset({S.PENDING, S.READY, S.PACKED, S.SHIPPED, S.DELIVERED, S.RETURNED})
# Parts whose goods have left the merchant's hands.
_PACKED_OR_LATER = (S.PACKED, S.SHIPPED, S.DELIVERED, S.RETURNED)
# A parcel's statuses that end its journey.
_PARCEL_ENDED = (ParcelStatus.DELIVERED, ParcelStatus.RETURNED)


def _audit(moves: Sequence[Move[FulfilmentOrder]], context: Context) -> list[FulfilmentOrderEvent]:
    return [
        FulfilmentOrderEvent(
            fulfilment_order=move.row,
            sequence=move.sequence or move.row.event_seq,
            from_status=move.previous,
            to_status=move.to,
            actor_id=context.actor_id,
            reason=context.reason[:300],
            created_at=move.at or context.at,
        )
        for move in moves
    ]


def _staff_of(merchant_ids: Iterable[int]) -> dict[int, tuple[int, ...]]:
    """Each merchant's staff user ids: whose webhook subscriptions hear of
    the merchant's own fulfilment orders."""
    staff: dict[int, list[int]] = defaultdict(list)
    for merchant_id, user_id in (
        Merchant.objects.filter(id__in=set(merchant_ids))
        .filter(staff__isnull=False)
        .values_list("id", "staff__user_id")
        .order_by("id", "staff__user_id")
    ):
        staff[merchant_id].append(user_id)
    return {k: tuple(v) for k, v in staff.items()}


def _outbox(moves: Sequence[Move[FulfilmentOrder]], context: Context) -> list[EventSpec]:
    """A merchant's webhook names its own part only: its number, its lines
    and its share of the goods, never the order's totals or other lines."""
    rows = {move.row.id: move.row for move in moves}
    lines: dict[int, list[dict[str, object]]] = defaultdict(list)
    known = [
        (row.id, part.line.sku, part.quantity, part.line.unit_price_cny)
        for row in rows.values()
        for part in getattr(row, "_prefetched_objects_cache", {}).get("lines", ())
    ]
    unknown = [
        fo_id
        for fo_id, row in rows.items()
        if "lines" not in getattr(row, "_prefetched_objects_cache", {})
    ]
    if unknown:
        known += list(
            FulfilmentOrderLine.objects.filter(fulfilment_order_id__in=unknown)
            .order_by("id")
            .values_list("fulfilment_order_id", "line__sku", "quantity", "line__unit_price_cny")
        )
    for fo_id, sku, quantity, price in known:
        lines[fo_id].append(
            {
                "sku": sku,
                "quantity": quantity,
                "unit_price": {"amount": f"{price:.2f}", "currency": "CNY"},
            }
        )
    staff = _staff_of(row.merchant_id for row in rows.values())
    return [
        EventSpec(
            type="fulfilment_order.status_changed",
            subject=f"fulfilment_order:{move.row.number}",
            sequence=move.sequence or move.row.event_seq,
            payload={
                "fulfilment_order": move.row.number,
                "order": move.row.order.number,
                "status": move.to,
                "previous_status": move.previous,
                "lines": lines[move.row.id],
                "goods": {"amount": f"{move.row.goods_cny:.2f}", "currency": "CNY"},
            },
            occurred_at=move.at or context.at,
            audience_ids=staff.get(move.row.merchant_id, ()),
        )
        for move in moves
    ]


def _stamp(row: FulfilmentOrder, to: str, context: Context) -> list[str]:
    row.updated_at = context.at
    return ["updated_at"]


def _write(moves: Sequence[Move[FulfilmentOrder]], fields: Sequence[str], context: Context) -> None:
    """One UPDATE per target status: a courier batch moves the parts of
    hundreds of orders. The rows are locked and move once each, so
    event_seq + 1 is what the machine computed."""
    if len({move.row.id for move in moves}) < len(moves):
        for row in {move.row.id: move.row for move in moves}.values():
            row.save(update_fields=list(fields))
        return
    by_status: dict[str, list[int]] = defaultdict(list)
    for move in moves:
        by_status[move.to].append(move.row.id)
    for to, ids in by_status.items():
        FulfilmentOrder.objects.filter(id__in=ids).update(
            status=to, event_seq=F("event_seq") + 1, updated_at=context.at
        )


FULFILMENT_ORDER_MACHINE = StateMachine(
    model=FulfilmentOrder,
    table=FULFILMENT_ORDER_TRANSITIONS,
    rank=Rank.FULFILMENT_ORDER,
    sequence_field="event_seq",
    stamp=_stamp,
    write=_write,
    audit=_audit,
    events=_outbox,
    record_events=events_record_ids,
)


_PART_FIELDS = (
    "order_id",
    "merchant_id",
    "warehouse_id",
    "number",
    "status",
    "goods_cny",
    "event_seq",
    "created_at",
    "updated_at",
)


def _values(row: FulfilmentOrder, names: Sequence[str]) -> tuple[object, ...]:
    return tuple(getattr(row, name) for name in names)


def fulfilment_orders_create(
    *,
    order: Order,
    warehouse_of_line: Mapping[int, int],
    actor_id: int | None = None,
) -> list[FulfilmentOrder]:
    """Split an order just placed, its lines at hand, by the warehouse each
    whole line was reserved in (`warehouse_of_line`: line id to warehouse
    id): one part per merchant and warehouse, numbered in that order, each
    starting pending with its first step recorded. The parts are left on the
    order for its answer, with no parcels yet."""
    lock_held(Rank.ORDER, order.id)
    parts: dict[tuple[int, int], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    lines_of: dict[int, OrderLine] = {}
    for line in order.lines.all():
        parts[(line.merchant_id, warehouse_of_line[line.id])][line.id] += line.quantity
        lines_of[line.id] = line
    split = sorted(parts.items())
    now = timezone.now()
    created = [
        FulfilmentOrder(
            order=order,
            merchant_id=merchant_id,
            warehouse_id=warehouse_id,
            number=f"{order.number}-{index}",
            # Inserted in its first status; record_created writes the step.
            status=S.PENDING,
            event_seq=1,
            goods_cny=sum((lines_of[k].unit_price_cny * q for k, q in lines.items()), Decimal(0)),
            created_at=now,
            updated_at=now,
        )
        for index, ((merchant_id, warehouse_id), lines) in enumerate(split, start=1)
    ]
    # Hand-written INSERTs (core.rawsql) on every checkout: the ORM's
    # bulk_create of these two small inserts cost about 1 ms of the 14 ms a
    # placement took in-process (cProfile of bench/checkout.py's orders).
    ids = insert_rows(FulfilmentOrder, _PART_FIELDS, [_values(fo, _PART_FIELDS) for fo in created])
    for fo, (fo_id,) in zip(created, ids, strict=True):
        fo.id = fo.pk = fo_id
        fo._state.adding = False
        fo._state.db = "default"
    lock_new(Rank.FULFILMENT_ORDER, [fo.id for fo in created])
    part_lines = [
        [
            FulfilmentOrderLine(fulfilment_order=fo, line=lines_of[line_id], quantity=quantity)
            for line_id, quantity in sorted(lines.items())
        ]
        for fo, (_key, lines) in zip(created, split, strict=True)
    ]
    insert_rows(
        FulfilmentOrderLine,
        ("fulfilment_order_id", "line_id", "quantity"),
        [
            (row.fulfilment_order_id, row.line_id, row.quantity)
            for rows in part_lines
            for row in rows
        ],
        returning=(),
    )
    for fo, rows in zip(created, part_lines, strict=True):
        # The outbox event names the part's lines: no need to read them back.
        fo._prefetched_objects_cache = {"lines": rows, "parcels": []}  # type: ignore[attr-defined]
    FULFILMENT_ORDER_MACHINE.record_created(
        rows=created, context=Context(actor_id=actor_id, reason="placed")
    )
    cache = getattr(order, "_prefetched_objects_cache", None)
    if cache is not None:
        cache["fulfilment_orders"] = created
    return created


def fulfilment_orders_lock(
    *, order_ids: Sequence[int], extra: Q | None = None
) -> list[FulfilmentOrder]:
    """Lock the fulfilment orders of orders the caller has locked."""
    qs = FulfilmentOrder.objects.select_related("order").filter(order_id__in=list(order_ids))
    if extra is not None:
        qs = qs.filter(extra)
    return lock_rows(qs, rank=Rank.FULFILMENT_ORDER, parent=order_ids)


def fulfilment_orders_transition(
    *,
    order_ids: Sequence[int],
    to: str,
    actor_id: int | None = None,
    reason: str = "",
    ids: Sequence[int] | None = None,
) -> list[FulfilmentOrder]:
    """Move the parts of orders the caller has locked that may move to `to`
    (all of them, or those of `ids`); the others are left as they are."""
    sources = FULFILMENT_ORDER_TRANSITIONS.sources_of(to) - {""}
    extra = Q(status__in=sources)
    if ids is not None:
        extra &= Q(id__in=list(ids))
    rows = fulfilment_orders_lock(order_ids=order_ids, extra=extra)
    moves = FULFILMENT_ORDER_MACHINE.apply(
        rows=rows, to=to, context=Context(actor_id=actor_id, reason=reason), strict=False
    )
    return [move.row for move in moves]


def fulfilment_orders_unpacked(*, order_id: int) -> int:
    """How many of an order's parts are still to be packed."""
    return FulfilmentOrder.objects.filter(
        order_id=order_id, status__in=[S.PENDING, S.READY]
    ).count()


def fulfilment_orders_packed(*, order_id: int) -> bool:
    """Whether any part of an order has been packed (or gone further)."""
    return FulfilmentOrder.objects.filter(order_id=order_id, status__in=_PACKED_OR_LATER).exists()


def fulfilment_orders_of_parcels_follow(
    *, order_ids: Sequence[int], shipped: Iterable[int], ended: Iterable[int]
) -> None:
    """Parts move with their parcels (the orders locked by the caller):
    shipped when one of their parcels has left (`shipped`); once every parcel
    of a part in `ended` is delivered or back with the sender, delivered if
    any reached the buyer, else returned to the sender."""
    shipped_ids = set(shipped)
    if shipped_ids:
        fulfilment_orders_transition(order_ids=order_ids, to=S.SHIPPED, ids=sorted(shipped_ids))
    delivered, returned = parcels_ended_split(by="fulfilment_order_id", ids=ended)
    if delivered:
        fulfilment_orders_transition(order_ids=order_ids, to=S.DELIVERED, ids=delivered)
    if returned:
        fulfilment_orders_transition(order_ids=order_ids, to=S.RETURNED, ids=returned)


def parcels_ended_split(*, by: str, ids: Iterable[int]) -> tuple[list[int], list[int]]:
    """Of the orders or parts in `ids` (`by`: the parcel's field naming them,
    order_id or fulfilment_order_id), those whose every parcel is delivered or
    back with the sender: (those with a parcel that reached the buyer, those
    with none), each sorted. An order ends as its parts do."""
    candidates = set(ids)
    if not candidates:
        return [], []
    parcels = Parcel.objects.filter(**{f"{by}__any_of": candidates})
    open_counts = dict(
        parcels.exclude(status__in=_PARCEL_ENDED).values_list(by).annotate(n=Count("id"))
    )
    reached_buyer = set(parcels.filter(status=ParcelStatus.DELIVERED).values_list(by, flat=True))
    done = sorted(i for i in candidates if not open_counts.get(i))
    return [i for i in done if i in reached_buyer], [i for i in done if i not in reached_buyer]


def fulfilment_orders_for_merchant(*, merchant_id: int | None) -> QuerySet[FulfilmentOrder]:
    """The parts a staff member may see: a merchant's own, or all (operator)."""
    qs = FulfilmentOrder.objects.all()
    return qs if merchant_id is None else qs.filter(merchant_id=merchant_id)


__all__ = [
    "FULFILMENT_ORDER_MACHINE",
    "FULFILMENT_ORDER_TRANSITIONS",
    "LIVE",
    "fulfilment_orders_create",
    "fulfilment_orders_for_merchant",
    "fulfilment_orders_lock",
    "fulfilment_orders_of_parcels_follow",
    "fulfilment_orders_packed",
    "fulfilment_orders_transition",
    "fulfilment_orders_unpacked",
    "parcels_ended_split",
]

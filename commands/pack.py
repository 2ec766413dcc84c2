"""Packing: one fulfilment order (a merchant's part of an order from one
warehouse), or every part of an order at once. Its stock picked, its parcels
made and labelled, in one transaction under the order's lock; the order is
packed once its last part is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, NotFound, ValidationFailed
from core.locking import locked_transaction
from core.transitions import Context
from orders.models import Order, OrderStatus
from orders.services import order_lock, orders_transition
from shipping.customs.identity import recipient_identity_check
from shipping.fulfilment.models import (
    FulfilmentOrder,
    FulfilmentOrderStatus,
    Parcel,
)
from shipping.fulfilment.orders import (
    FULFILMENT_ORDER_MACHINE,
    fulfilment_orders_lock,
    fulfilment_orders_unpacked,
)
from shipping.fulfilment.packing import (
    PackedParcel,
    PackingPlan,
    packing_prepare,
    parcels_create,
    parcels_label,
)
from warehouses.models import Reservation
from warehouses.selectors import reservations_active
from warehouses.services import stock_pick


class FulfilmentOrderNotPackable(Conflict):
    code = "fulfilment_order_not_packable"
    default_message = _("Only a fulfilment order that is ready can be packed.")


@dataclass(frozen=True)
class _PartPacking:
    part: FulfilmentOrder
    lines: frozenset[int]
    reservations: list[Reservation]
    plan: PackingPlan


def _part_prepare(
    *,
    order: Order,
    part: FulfilmentOrder,
    parcels: Sequence[PackedParcel] | None,
    actor_id: int | None,
    override_reason: str,
    positions: Sequence[int] | None = None,
) -> _PartPacking:
    """Check one part's packing (of an order the caller has locked, with
    the part), writing nothing."""
    lines = frozenset(part.lines.values_list("line_id", flat=True))
    reservations = [
        res
        for res in reservations_active(order_id=order.id)
        if res.line_id in lines and res.stock.warehouse_id == part.warehouse_id
    ]
    plan = packing_prepare(
        order=order,
        reservations=reservations,
        parcels=parcels,
        actor_id=actor_id,
        override_reason=override_reason,
        positions=positions,
    )
    return _PartPacking(part=part, lines=lines, reservations=reservations, plan=plan)


def _parts_pack(
    *, order: Order, packings: Sequence[_PartPacking], actor_id: int | None
) -> list[Parcel]:
    """Pick the parts' stock (all levels at once, in the lock order), then
    make each part's parcels (the tracking number series after the stock)
    and move the parts to packed."""
    stock_pick(
        order=order,
        # All levels in one call: they are locked in id order, before the series.
        warehouse_id=packings[0].part.warehouse_id if len(packings) == 1 else None,
        line_ids=frozenset().union(*(p.lines for p in packings)),
        actor_id=actor_id,
    )
    created: list[Parcel] = []
    for packing in packings:
        created += parcels_create(
            order=order,
            fulfilment_order=packing.part,
            plan=packing.plan,
            reservations=packing.reservations,
            actor_id=actor_id,
        )
    FULFILMENT_ORDER_MACHINE.apply(
        rows=[p.part for p in packings],
        to=FulfilmentOrderStatus.PACKED,
        context=Context(actor_id=actor_id),
    )
    return created


def _order_packed_if_done(*, order: Order, actor_id: int | None) -> None:
    if not fulfilment_orders_unpacked(order_id=order.id):
        orders_transition(order_ids=[order.id], to=OrderStatus.PACKED, actor_id=actor_id)


def fulfilment_order_pack(
    *,
    fulfilment_order_id: int,
    parcels: Sequence[PackedParcel] | None = None,
    actor_id: int | None = None,
    merchant_id: int | None = None,
    override_reason: str = "",
) -> list[Parcel]:
    """Pack one fulfilment order. `merchant_id`: the merchant whose staff
    ask; another merchant's part is not found (404). Locks: the order, the
    part, its stock levels, the tracking number series; the new parcels are
    nobody else's until commit. Of two packers of one part, one packs and
    the other gets 409 fulfilment_order_not_packable; two parts of one order
    are packed one after the other (both wait for the order)."""
    known = FulfilmentOrder.objects.filter(id=fulfilment_order_id).values("order_id", "merchant_id")
    found = known.first()
    if found is None or (merchant_id is not None and found["merchant_id"] != merchant_id):
        raise NotFound()
    with locked_transaction():
        order = order_lock(order_id=found["order_id"])
        parts = fulfilment_orders_lock(order_ids=[order.id])
        part = next(p for p in parts if p.id == fulfilment_order_id)
        if part.status != FulfilmentOrderStatus.READY:
            raise FulfilmentOrderNotPackable(extra={"current_status": part.status})
        # Customs data: refused (409) before anything is written.
        recipient_identity_check(order=order)
        packing = _part_prepare(
            order=order,
            part=part,
            parcels=parcels,
            actor_id=actor_id,
            override_reason=override_reason,
        )
        created = _parts_pack(order=order, packings=[packing], actor_id=actor_id)
        _order_packed_if_done(order=order, actor_id=actor_id)
        parcels_label(parcels=created)
    return list(Parcel.objects.filter(id__in=[p.id for p in created]).order_by("id"))


def _parcels_by_part(
    parts: Sequence[FulfilmentOrder], parcels: Sequence[PackedParcel]
) -> dict[int, list[tuple[int, PackedParcel]]]:
    """Measured parcels given for a whole order, each to the part whose
    warehouse and lines it holds; one holding two merchants' goods is refused."""
    owner: dict[tuple[int, int], int] = {}
    for part in parts:
        for line_id in part.lines.values_list("line_id", flat=True):
            owner[(part.warehouse_id, line_id)] = part.id
    grouped: dict[int, list[tuple[int, PackedParcel]]] = {part.id: [] for part in parts}
    for position, spec in enumerate(parcels):
        owners = {owner.get((spec.warehouse_id, line_id)) for line_id in spec.lines}
        if len(owners) != 1 or None in owners:
            raise ValidationFailed(
                _("Each parcel holds the goods of one merchant from one warehouse."),
                code="packing_mismatch",
                fields={"parcels": [_("A parcel mixes fulfilment orders.")]},
            )
        grouped[owners.pop() or 0].append((position, spec))
    return grouped


def order_pack(
    *,
    order_id: int,
    parcels: Sequence[PackedParcel] | None = None,
    actor_id: int | None = None,
    override_reason: str = "",
) -> list[Parcel]:
    """Pack every part of an allocated order still to be packed (operator
    staff on the warehouse floor). Locks as `fulfilment_order_pack`. Of two
    packers at once, one packs and the other gets 409 order_not_packable."""
    with locked_transaction():
        order = order_lock(order_id=order_id)
        ready = [
            part
            for part in fulfilment_orders_lock(order_ids=[order.id])
            if part.status == FulfilmentOrderStatus.READY
        ]
        if order.status != OrderStatus.ALLOCATED or not ready:
            # packing_prepare says why, as for a single part.
            packing_prepare(order=order, reservations=[], parcels=parcels, actor_id=actor_id)
            raise FulfilmentOrderNotPackable()
        grouped = _parcels_by_part(ready, parcels) if parcels else {}
        recipient_identity_check(order=order)
        packings: list[_PartPacking] = []
        for part in ready:
            if parcels and not grouped[part.id]:
                raise ValidationFailed(
                    _("The parcels must hold exactly the reserved units, each from its warehouse."),
                    code="packing_mismatch",
                    fields={"parcels": [_("Packed quantities differ from the reserved ones.")]},
                )
            mine = grouped.get(part.id, [])
            packings.append(
                _part_prepare(
                    order=order,
                    part=part,
                    parcels=[spec for _position, spec in mine] if parcels else None,
                    actor_id=actor_id,
                    override_reason=override_reason,
                    positions=[position for position, _spec in mine],
                )
            )
        created = _parts_pack(order=order, packings=packings, actor_id=actor_id)
        _order_packed_if_done(order=order, actor_id=actor_id)
        parcels_label(parcels=created)
    return list(Parcel.objects.filter(id__in=[p.id for p in created]).order_by("id"))

"""Packing an order: its stock picked, its parcels made and labelled, the
order packed, in one transaction under the order's lock."""

from __future__ import annotations

from collections.abc import Sequence

from core.locking import locked_transaction
from orders.models import OrderStatus
from orders.services import order_lock, orders_transition
from shipping.customs.identity import recipient_identity_check
from shipping.fulfilment.models import Parcel
from shipping.fulfilment.packing import (
    PackedParcel,
    packing_prepare,
    parcels_create,
    parcels_label,
)
from shipping.lastmile.services import parcels_point_assign
from warehouses.selectors import reservations_active
from warehouses.services import stock_pick


def order_pack(
    *,
    order_id: int,
    parcels: Sequence[PackedParcel] | None = None,
    actor_id: int | None = None,
    override_reason: str = "",
) -> list[Parcel]:
    """Pack an allocated order into parcels (shipping.fulfilment.packing
    checks the packing first), pick its stock, label each parcel. Locks: the
    order, its stock levels, the tracking number series; the new parcels are
    nobody else's until commit. Of two packers at once, one packs and the
    other gets 409 order_not_packable."""
    with locked_transaction():
        order = order_lock(order_id=order_id)
        reservations = reservations_active(order_id=order.id)
        plan = packing_prepare(
            order=order,
            reservations=reservations,
            parcels=parcels,
            actor_id=actor_id,
            override_reason=override_reason,
        )
        # Customs data: refused (409) before anything is written.
        recipient_identity_check(order=order)
        stock_pick(order=order, actor_id=actor_id)
        created = parcels_create(
            order=order, plan=plan, reservations=reservations, actor_id=actor_id
        )
        parcels_point_assign(order_id=order.id, parcel_ids=[p.id for p in created])
        orders_transition(order_ids=[order.id], to=OrderStatus.PACKED, actor_id=actor_id)
        parcels_label(parcels=created)
    return list(Parcel.objects.filter(id__in=[p.id for p in created]).order_by("id"))

"""The recipient's identity document on an order: copied from the buyer's
profile at placement when the order's parcels cross the border, or given for
the order until it is packed. Goods already in a Russian warehouse were
cleared when they were imported: their orders need none."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import BuyerIdentity
from core.errors import Conflict, NotFound
from core.identity import RecipientIdentity, identity_check
from core.locking import Rank, lock_row, locked_transaction
from orders.models import Order, OrderRecipientIdentity, OrderStatus

S = OrderStatus
# The identity goes on the declaration printed at packing: it can change until then.
IDENTITY_EDITABLE = frozenset({S.PENDING_PAYMENT, S.PAID, S.ON_HOLD, S.COD_CONFIRMED, S.ALLOCATED})


class IdentityNotNeeded(Conflict):
    code = "recipient_identity_not_needed"
    default_message = _(
        "This order ships from a warehouse in Russia: no identity document is needed."
    )


class OrderAlreadyPacked(Conflict):
    code = "order_already_packed"
    default_message = _(
        "The order is packed or closed: its identity document can no longer change."
    )


def plan_crosses_border(plan: Iterable[Mapping[str, Any]]) -> bool | None:
    """Whether any planned parcel crosses the border, as the quote recorded
    it; None for plans written before it recorded that."""
    flags = [group.get("crosses_border") for group in plan]
    if any(flag is None for flag in flags):
        return None
    return any(flags)


def order_identity_copy_from_profile(*, order: Order) -> OrderRecipientIdentity | None:
    """At placement: the buyer's saved document goes onto an order whose
    parcels cross the border (one read; nothing for domestic orders)."""
    if not plan_crosses_border(order.plan):
        return None
    saved = BuyerIdentity.objects.filter(buyer_id=order.buyer_id).first()
    if saved is None:
        return None
    return OrderRecipientIdentity.objects.create(
        order=order, **OrderRecipientIdentity.values_of(saved.identity())
    )


def order_identity_save(
    *, order_id: int, identity: RecipientIdentity, crosses_border: bool
) -> OrderRecipientIdentity:
    """Set the document an order is declared with, under the order's lock,
    until the order is packed. `crosses_border` is the caller's reading of
    the order's lanes (shipping knows them)."""
    identity_check(identity, today=timezone.now().date())
    with locked_transaction():
        order = lock_row(Order.objects.filter(id=order_id), rank=Rank.ORDER)
        if order is None:
            raise NotFound()
        if order.status not in IDENTITY_EDITABLE:
            raise OrderAlreadyPacked(extra={"current_status": order.status})
        if not crosses_border:
            raise IdentityNotNeeded()
        saved, _created = OrderRecipientIdentity.objects.update_or_create(
            order=order, defaults=OrderRecipientIdentity.values_of(identity)
        )
    return saved

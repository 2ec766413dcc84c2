"""Customs data of the recipient: an express parcel to an individual is
declared with the recipient's identity document, INN and a link to each good
(FTS order No. 1861 of 2017-11-24); carriers return parcels without them.
Goods already in a Russian warehouse do not cross the border and need none."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import Conflict
from core.identity import RecipientIdentity
from orders.identity import order_identity_save, plan_crosses_border
from orders.models import Order, OrderRecipientIdentity
from shipping.linehaul.models import Lane


class RecipientIdentityRequired(Conflict):
    code = "recipient_identity_required"
    default_message = _(
        "The order's parcels cross the border: customs need the recipient's passport and INN"
        " before it is packed."
    )


def order_crosses_border(*, order: Order) -> bool:
    """Whether any of the order's planned parcels crosses the border."""
    recorded = plan_crosses_border(order.plan)
    if recorded is not None:
        return recorded
    codes = {group["lane"] for group in order.plan}
    return Lane.objects.filter(code__in=codes, crosses_border=True).exists()


def recipient_identity_check(*, order: Order) -> None:
    """Refuse (409 recipient_identity_required) to pack an order whose
    parcels cross the border while it has no recipient identity document."""
    if not order_crosses_border(order=order):
        return
    if not OrderRecipientIdentity.objects.filter(order_id=order.id).exists():
        raise RecipientIdentityRequired(extra={"order": order.number})


def order_recipient_identity_set(
    *, order: Order, identity: RecipientIdentity
) -> OrderRecipientIdentity:
    """The buyer gives the document for one order, until it is packed."""
    return order_identity_save(
        order_id=order.id, identity=identity, crosses_border=order_crosses_border(order=order)
    )

"""Placing an order: quote, create, reserve (all lines or none), check the risk
rules and, for cash on delivery, confirm and allocate: one transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.models import Buyer
from accounts.selectors import buyer_get
from commands.allocation import order_allocate
from commands.quote import DeliveryRequest, LineRequest, checkout_quote
from core.errors import Unprocessable
from core.locking import locked_transaction
from orders.models import Order, OrderStatus, PaymentMethod
from orders.services import (
    Address,
    order_create,
    order_transition,
)
from payments.services import payment_cod_open
from risk.services import order_risk_check_placement
from shipping.fulfilment.orders import fulfilment_orders_create
from shipping.lastmile.services import order_delivery_record
from shipping.tracking.selectors import cod_refusals_count
from warehouses.services import (
    LineAllocation,
    stock_levels_lock,
    stock_reserve,
)


class CodNotAvailable(Unprocessable):
    code = "cod_not_available"
    default_message = _(
        "Cash on delivery is not available for this order after refused deliveries;"
        " please pay by card."
    )


def cod_allowed_check(*, buyer_id: int, total_rub: Decimal) -> None:
    """A buyer who refused enough cash-on-delivery parcels at the door may
    still pay cash, but only up to COD_REFUSED_LIMIT_RUB (422 otherwise)."""
    conf = settings.AMUR
    limit = conf["COD_REFUSED_LIMIT_RUB"]
    if total_rub <= limit:
        return
    refusals = cod_refusals_count(buyer_id=buyer_id)
    if refusals >= conf["COD_REFUSAL_THRESHOLD"]:
        raise CodNotAvailable(
            fields={"payment_method": [_("Choose card payment.")]},
            extra={"limit": {"amount": str(limit), "currency": "RUB"}, "refusals": refusals},
        )


def order_place(
    *,
    user_id: int,
    lines: Sequence[LineRequest],
    address: Address,
    payment_method: str,
    buyer: Buyer | None = None,
    delivery: DeliveryRequest | None = None,
) -> Order:
    """Quote, create, reserve (all lines or none), check the risk rules and,
    for cash on delivery, confirm and allocate: one transaction. An order that
    trips a rule keeps its reservation on hold until staff review it. Units
    taken by a concurrent order since the quote are re-quoted once, so the
    charge always matches a quote of the same moment.

    Locks: the stock levels (in id order), then the buyer (risk's count of
    the last hour's orders); the new order is nobody else's until commit.

    `buyer` is the caller's profile when the caller has it at hand already;
    `delivery` the door (the default) or a pickup point the parcels must fit."""
    if buyer is None or buyer.user_id != user_id:
        buyer = buyer_get(user_id=user_id)
    # No savepoint (this runs on every checkout): the stock is locked and
    # checked before anything is written, so going round again has nothing
    # to undo.
    with locked_transaction(savepoint=False):
        for attempt in range(2):
            quote = checkout_quote(
                lines=lines,
                region=address.region,
                delivery=delivery,
                payment_method=payment_method,
            )
            if payment_method == PaymentMethod.COD:
                cod_allowed_check(buyer_id=buyer.id, total_rub=quote.total_rub)
            wanted: dict[tuple[int, int], int] = defaultdict(int)
            for priced in quote.lines:
                product_id = priced.product.id
                wanted[(quote.warehouse_of[product_id], product_id)] += priced.quantity
            levels, short = stock_levels_lock(wanted=wanted, again=attempt > 0)
            if short and attempt == 0:
                continue
            order = order_create(
                buyer=buyer,
                lines=quote.lines,
                address=address,
                payment_method=payment_method,
                totals=quote.totals(),
                plan=quote.plan(),
                actor_id=user_id,
            )
            if quote.pickup_point is not None:
                # Door orders need no row: no delivery recorded is the door.
                order_delivery_record(order_id=order.id, pickup_point=quote.pickup_point)
            # Still short after a fresh quote: OutOfStock, and the caller's
            # transaction rolls back the order just written.
            warehouse_of_line = {
                line.id: quote.warehouse_of[line.product_id] for line in order.lines.all()
            }
            stock_reserve(
                order=order,
                allocations=[
                    LineAllocation(line=line, warehouse_id=warehouse_of_line[line.id])
                    for line in order.lines.all()
                ],
                actor_id=user_id,
                levels=levels,
            )
            # One part per merchant and warehouse, split as the stock was
            # reserved (each line whole in one warehouse), in the placement's
            # transaction.
            fulfilment_orders_create(
                order=order, actor_id=user_id, warehouse_of_line=warehouse_of_line
            )
            if order_risk_check_placement(order=order, actor_id=user_id) is not None:
                order.refresh_from_db()
            elif payment_method == PaymentMethod.COD:
                order_cod_confirm(order=order, actor_id=user_id)
                order.refresh_from_db()
            return order
    raise AssertionError("unreachable")


def order_cod_confirm(*, order: Order, actor_id: int | None) -> Order:
    """Cash on delivery for an order the caller has locked (or just placed):
    the payment the courier will collect, the order confirmed, then
    allocated."""
    payment_cod_open(order=order, actor_id=actor_id)
    order_transition(
        order_id=order.id,
        to=OrderStatus.COD_CONFIRMED,
        actor_id=actor_id,
        reason="cash on delivery",
    )
    return order_allocate(order=order, actor_id=actor_id)

"""Returns: a buyer's request to send goods back, its decision, the return
parcel's journey, and its receipt at a Russian returns warehouse, which puts
the goods back on the shelf (or writes them off) and refunds the buyer.

Every command locks the order first, then its return, then what it needs
(stock levels, payments), in the lock order of docs/architecture.md. The
card refund is queued as a ProviderCall and asked of the provider after
commit (commands.provider_calls), as every refund is."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import floor

from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from commands.provider_calls import provider_calls_after_commit
from core.errors import Conflict, Forbidden, NotFound, Unprocessable, ValidationFailed
from core.locking import locked_transaction
from orders.models import Order, OrderLine, OrderStatus
from orders.selectors import order_get_for_buyer
from orders.services import order_lock
from payments.models import Payment, PaymentEvent
from payments.services import (
    payment_refund_record,
    payment_transition,
    payments_lock,
)
from payments.splits import from_minor, to_minor
from shipping.returns.models import Return, ReturnKind, ReturnLine, ReturnStatus
from shipping.returns.services import (
    RECEIVED_ONCE,
    return_create,
    return_deadline,
    return_lock,
    return_transition,
    returned_units,
)
from warehouses.models import Warehouse
from warehouses.reasons import return_movement_reason
from warehouses.returns import stock_return_receive

R = ReturnStatus
P = Payment.Status


class OrderNotReturnable(Conflict):
    code = "order_not_returnable"
    default_message = _("Only the goods of a delivered order can be returned.")


class ReturnWindowClosed(Unprocessable):
    code = "return_window_closed"
    default_message = _("The time to return these goods has passed.")


class ReturnQuantityExceeded(Unprocessable):
    code = "return_quantity_exceeded"
    default_message = _("More units than were delivered, or than are not returned already.")


class ReturnAlreadyDecided(Conflict):
    code = "return_already_decided"
    default_message = _("This return has been decided already.")


class ReturnNotApproved(Conflict):
    code = "return_not_approved"
    default_message = _("Only an approved return can be sent back.")


class ReturnNotReceivable(Conflict):
    code = "return_not_receivable"
    default_message = _("This return is not on its way to a returns warehouse.")


class NotReturnsWarehouse(Unprocessable):
    code = "not_returns_warehouse"
    default_message = _("Returns are received only at a warehouse in Russia.")


@dataclass(frozen=True)
class ReturnLineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ReceivedLine:
    """What the returns warehouse made of a line's units."""

    sku: str
    restocked: int
    written_off: int


def return_request(
    *, user_id: int, number: str, lines: Sequence[ReturnLineRequest], reason: str
) -> Return:
    """A buyer asks to return units of a delivered order's lines within the
    law's window (shipping.returns.services.return_deadline, per the line's
    merchant). Under the order's lock, so two requests cannot return the
    same unit twice."""
    order = order_get_for_buyer(user_id=user_id, number=number)
    wanted: dict[str, int] = defaultdict(int)
    for line in lines:
        wanted[line.sku] += line.quantity
    with locked_transaction():
        order = order_lock(order_id=order.id)
        if order.status != OrderStatus.DELIVERED or order.delivered_at is None:
            raise OrderNotReturnable(extra={"current_status": order.status})
        by_sku = {
            line.sku: line
            for line in OrderLine.objects.filter(order_id=order.id).select_related("merchant")
        }
        unknown = sorted(sku for sku in wanted if sku not in by_sku)
        if unknown:
            raise ValidationFailed(
                fields={"lines": [gettext("Not in this order: %s.") % ", ".join(unknown)]}
            )
        now = timezone.now()
        late = sorted(
            sku
            for sku in wanted
            if now
            >= return_deadline(
                delivered_at=order.delivered_at,
                terms_in_writing=by_sku[sku].merchant.return_terms_in_writing,
            )
        )
        if late:
            raise ReturnWindowClosed(fields={"lines": late})
        taken = returned_units(order_id=order.id)
        over = {
            sku: by_sku[sku].quantity - taken.get(by_sku[sku].id, 0)
            for sku, units in wanted.items()
            if units > by_sku[sku].quantity - taken.get(by_sku[sku].id, 0)
        }
        if over:
            raise ReturnQuantityExceeded(
                fields={
                    sku: [gettext("At most %(units)s can be returned.") % {"units": left}]
                    for sku, left in sorted(over.items())
                }
            )
        return return_create(
            order=order,
            kind=ReturnKind.BUYER,
            lines=[(by_sku[sku], units) for sku, units in sorted(wanted.items())],
            status=R.REQUESTED,
            actor_id=user_id,
            reason=reason.strip(),
        )


def _order_id_of(number: str) -> int:
    order_id = Return.objects.filter(number=number).values_list("order_id", flat=True).first()
    if order_id is None:
        raise NotFound()
    return int(order_id)


def return_decide(
    *, number: str, approve: bool, actor_id: int | None, merchant_id: int | None, note: str = ""
) -> Return:
    """Operator staff, or the staff of the merchant whose lines these all
    are (`merchant_id`), approve or reject a requested return. The same
    decision again returns it unchanged; the other one is a 409."""
    order_id = _order_id_of(number)
    target = R.APPROVED if approve else R.REJECTED
    with locked_transaction():
        order = order_lock(order_id=order_id)
        ret = return_lock(order=order, number=number)
        if merchant_id is not None:
            merchants = set(
                ReturnLine.objects.filter(return_request=ret).values_list(
                    "line__merchant_id", flat=True
                )
            )
            if merchants != {merchant_id}:
                raise Forbidden(_("This return holds other merchants' goods."))
        if ret.status == target:
            return ret
        if ret.status != R.REQUESTED:
            raise ReturnAlreadyDecided(extra={"current_status": ret.status})
        ret.decision_note = note.strip()[:300]
        return return_transition(
            ret=ret,
            to=target,
            actor_id=actor_id,
            reason=ret.decision_note,
            extra_fields=["decision_note"],
        )


def return_ship(*, number: str, tracking_number: str, carrier: str, actor_id: int | None) -> Return:
    """The return parcel is on its way: its carrier's tracking number is
    recorded. The same number again returns the return unchanged."""
    order_id = _order_id_of(number)
    with locked_transaction():
        order = order_lock(order_id=order_id)
        ret = return_lock(order=order, number=number)
        if ret.status == R.IN_TRANSIT and ret.tracking_number == tracking_number:
            return ret
        if ret.status != R.APPROVED:
            raise ReturnNotApproved(extra={"current_status": ret.status})
        ret.tracking_number = tracking_number
        ret.carrier = carrier
        return return_transition(
            ret=ret,
            to=R.IN_TRANSIT,
            actor_id=actor_id,
            data={"tracking_number": tracking_number, "carrier": carrier},
            extra_fields=["tracking_number", "carrier"],
        )


def _received_split(
    lines: Sequence[ReturnLine], received: Sequence[ReceivedLine] | None
) -> dict[int, tuple[int, int]]:
    """(restocked, written off) per return line: all restocked unless said."""
    if received is None:
        return {line.id: (line.quantity, 0) for line in lines}
    by_sku = {item.sku: item for item in received}
    problems: dict[str, list[str]] = {}
    split: dict[int, tuple[int, int]] = {}
    for line in lines:
        item = by_sku.pop(line.line.sku, None)
        if item is None or item.restocked + item.written_off != line.quantity:
            problems[line.line.sku] = [
                gettext("Restocked and written off units must add up to %(units)s.")
                % {"units": line.quantity}
            ]
            continue
        split[line.id] = (item.restocked, item.written_off)
    for sku in by_sku:
        problems[sku] = [gettext("Not in this return.")]
    if problems:
        raise ValidationFailed(fields=dict(sorted(problems.items())))
    return split


def return_receive(
    *,
    number: str,
    warehouse_code: str,
    actor_id: int | None,
    received: Sequence[ReceivedLine] | None = None,
) -> Return:
    """The return parcel arrived at a returns warehouse in Russia: its units
    are restocked there (stock movements of kind return) or written off, and
    the buyer is refunded (`return_refund`). A second receipt is a 409."""
    warehouse = Warehouse.objects.filter(code=warehouse_code).first()
    if warehouse is None:
        raise ValidationFailed(fields={"warehouse": [_("Unknown warehouse.")]})
    if warehouse.kind != Warehouse.Kind.OVERSEAS or warehouse.country != "RU":
        raise NotReturnsWarehouse(fields={"warehouse": [warehouse.code]})
    order_id = _order_id_of(number)
    with locked_transaction():
        order = order_lock(order_id=order_id)
        ret = return_lock(order=order, number=number)
        if ret.status != R.IN_TRANSIT:
            raise ReturnNotReceivable(extra={"current_status": ret.status})
        lines = list(ReturnLine.objects.filter(return_request=ret).select_related("line"))
        split = _received_split(lines, received)
        restock: dict[int, int] = defaultdict(int)
        for line in lines:
            line.restocked, line.written_off = split[line.id]
            restock[line.line.product_id] += line.restocked
        ReturnLine.objects.bulk_update(lines, ["restocked", "written_off"])
        stock_return_receive(
            order=order,
            warehouse_id=warehouse.id,
            units=restock,
            actor_id=actor_id,
            reason=return_movement_reason(ret.number),
        )
        ret.warehouse = warehouse
        return_transition(
            ret=ret,
            to=R.RECEIVED,
            actor_id=actor_id,
            data={
                "warehouse": warehouse.code,
                "lines": [
                    {
                        "sku": line.line.sku,
                        "restocked": line.restocked,
                        "written_off": line.written_off,
                    }
                    for line in lines
                ],
            },
            extra_fields=["warehouse"],
        )
        refunded = return_refund(order=order, ret=ret, lines=lines, actor_id=actor_id)
        ret.refund_amount = refunded
        return_transition(
            ret=ret,
            to=R.REFUNDED if refunded > 0 else R.CLOSED,
            actor_id=actor_id,
            extra_fields=["refund_amount"],
        )
        provider_calls_after_commit(order_id=order.id)
    return ret


def _goods_share(order: Order, units: dict[int, int], prices: dict[int, Decimal]) -> int:
    """The roubles (in kopeks) paid for these units of the order's goods:
    its goods in roubles in proportion to the units' price in yuan, rounded
    down, so the shares of successive returns add up to the goods exactly."""
    goods_cny = Fraction(order.goods_cny)
    if goods_cny <= 0:
        return 0
    cny = sum((Fraction(prices[line_id]) * n for line_id, n in units.items()), Fraction(0))
    return floor(to_minor(order.goods_rub, order.currency) * cny / goods_cny)


def return_refund(
    *, order: Order, ret: Return, lines: Sequence[ReturnLine], actor_id: int | None
) -> Decimal:
    """Refund a received return, for an order and return the caller holds
    locked; returns the amount refunded.

    The buyer gets back what they paid for the returned units (the law on
    remote sales, art. 26.1 p. 4): their share of the order's goods in
    roubles. Once every unit of the order is back, everything left of the
    payment goes back, shipping and duty too: the whole sale is undone (a
    parcel refused at the door). Cash on delivery never collected is voided:
    nothing to refund. Never more than is left of the captured payment."""
    reason = f"return {ret.number}"
    order_lines = list(OrderLine.objects.filter(order_id=order.id))
    prices = {line.id: line.unit_price_cny for line in order_lines}
    after = returned_units(order_id=order.id, statuses=RECEIVED_ONCE)
    before = dict(after)
    for line in lines:
        before[line.line_id] -= line.quantity
    whole = all(after.get(line.id, 0) >= line.quantity for line in order_lines)
    payments = payments_lock(
        order=order, status__in=[P.CAPTURED, P.PARTIALLY_REFUNDED, P.AWAITING_CASH]
    )
    refunded = Decimal(0)
    for payment in payments:
        if payment.status == P.AWAITING_CASH:
            if whole:
                payment_transition(
                    payment=payment,
                    to=P.VOIDED,
                    kind=PaymentEvent.Kind.VOIDED,
                    amount=payment.amount,
                    actor_id=actor_id,
                    data={"reason": reason},
                )
            continue
        left = payment.amount - payment.refunded_amount
        goods_by_merchant: dict[int, Decimal] | None = None
        if whole:
            amount = left
        else:
            share = _goods_share(order, after, prices) - _goods_share(order, before, prices)
            amount = min(from_minor(share, order.currency) - refunded, left)
            goods_by_merchant = defaultdict(Decimal)
            for line in lines:
                goods_by_merchant[line.line.merchant_id] += prices[line.line_id] * line.quantity
        if amount <= 0:
            continue
        payment.order = order
        payment_refund_record(
            order=order,
            payment_id=payment.id,
            amount=amount,
            reason=reason,
            actor_id=actor_id,
            goods_by_merchant=goods_by_merchant,
        )
        refunded += amount
    return refunded

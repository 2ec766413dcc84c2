"""Writes of orders. The order status changes only through ORDER_MACHINE
(`orders_transition` / `order_transition`), which locks, checks the table of
allowed moves and writes the audit event and the outbox event with the change."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import Buyer
from catalogue.models import Product
from core.errors import NotFound
from core.locking import Rank, lock_new, lock_row
from core.rawsql import instances_insert
from core.statemachine import TransitionTable
from core.transitions import Context, Move, StateMachine
from notifications.services import EventSpec, events_record, events_record_ids
from orders.identity import order_identity_copy_from_profile
from orders.models import Order, OrderEvent, OrderLine, OrderStatus

S = OrderStatus
ORDER_TRANSITIONS = TransitionTable.build(
    "order",
    {
        S.PENDING_PAYMENT: {S.PAID, S.COD_CONFIRMED, S.ON_HOLD, S.CANCELLED},
        S.PAID: {S.ALLOCATED, S.ON_HOLD, S.CANCELLED},
        # A risk hold ends where the order stopped (awaiting payment, or paid)
        # or in cancellation.
        S.ON_HOLD: {S.PENDING_PAYMENT, S.PAID, S.CANCELLED},
        S.COD_CONFIRMED: {S.ALLOCATED, S.CANCELLED},
        S.ALLOCATED: {S.PACKED, S.CANCELLED},
        S.PACKED: {S.IN_TRANSIT},
        # Every parcel back with the sender (refused, not collected).
        S.IN_TRANSIT: {S.DELIVERED, S.RETURNED},
    },
)
CANCELLABLE = ORDER_TRANSITIONS.sources_of(S.CANCELLED)
_TIMESTAMP_FIELD = {
    S.PAID: "paid_at",
    S.DELIVERED: "delivered_at",
    S.RETURNED: "returned_at",
    S.CANCELLED: "cancelled_at",
}
_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class Address:
    recipient_name: str
    recipient_phone: str
    region: str
    city: str
    postcode: str
    street: str


@dataclass(frozen=True)
class PricedLine:
    product: Product
    quantity: int

    @property
    def total_cny(self) -> Decimal:
        return self.product.price_cny * self.quantity


@dataclass(frozen=True)
class OrderTotals:
    goods_cny: Decimal
    goods_rub: Decimal
    shipping_rub: Decimal
    duty_rub: Decimal
    cny_rub_rate: Decimal
    eur_rub_rate: Decimal
    rates_date: date

    @property
    def total_rub(self) -> Decimal:
        return self.goods_rub + self.shipping_rub + self.duty_rub


def _order_number() -> str:
    # Ten random characters a month (about 10^15 numbers): at a million orders
    # a month a clash is a one-in-a-billion event, so no query checks for one;
    # the unique constraint still refuses it, and the buyer's retry gets a new
    # number.
    stamp = timezone.now().strftime("%y%m")
    tail = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(10))
    return f"AM{stamp}{tail}"


def order_create(
    *,
    buyer: Buyer,
    lines: Sequence[PricedLine],
    address: Address,
    payment_method: str,
    totals: OrderTotals,
    plan: list[dict[str, Any]],
    actor_id: int | None = None,
) -> Order:
    """Insert an order priced by the caller, in status pending payment.

    The caller holds the stock it reserves for it (commands.place)."""
    order = Order(
        number=_order_number(),
        buyer=buyer,
        payment_method=payment_method,
        recipient_name=address.recipient_name,
        recipient_phone=address.recipient_phone,
        region=address.region,
        city=address.city,
        postcode=address.postcode,
        street=address.street,
        goods_cny=totals.goods_cny,
        goods_rub=totals.goods_rub,
        shipping_rub=totals.shipping_rub,
        duty_rub=totals.duty_rub,
        total_rub=totals.total_rub,
        cny_rub_rate=totals.cny_rub_rate,
        eur_rub_rate=totals.eur_rub_rate,
        rates_date=totals.rates_date,
        plan=plan,
        event_seq=1,
    )
    instances_insert([order])
    # Nobody else sees the new order before commit: as good as locked.
    lock_new(Rank.ORDER, [order.id])
    lines_created = [
        OrderLine(
            order=order,
            product=line.product,
            merchant_id=line.product.merchant_id,
            sku=line.product.sku,
            name=line.product.name_ru,
            quantity=line.quantity,
            unit_price_cny=line.product.price_cny,
            line_total_cny=line.total_cny,
            product_url=settings.AMUR["STOREFRONT_PRODUCT_URL"].format(
                sku=quote(line.product.sku, safe="")
            ),
        )
        for line in lines
    ]
    instances_insert(lines_created)
    # Callers render and reserve the new order at once: spare them reading back
    # the lines just written (the insert returned their ids).
    order._prefetched_objects_cache = {"lines": lines_created}  # type: ignore[attr-defined]
    now = timezone.now()
    instances_insert(
        [
            OrderEvent(
                order=order, sequence=1, to_status=order.status, actor_id=actor_id, created_at=now
            )
        ]
    )
    events_record(events=[_event_spec(order, "", order.status, "", now)])
    order_identity_copy_from_profile(order=order)
    return order


@functools.lru_cache(maxsize=128)
def _email_templates(language: str, status: str) -> tuple[str, str]:
    """The buyer's e-mail subject and body for an order status, in their
    language, with %(number)s left to fill: translated once per language and
    status, not once per order (a departure moves thousands)."""
    with translation.override(language):
        label = str(OrderStatus(status).label).replace("%", "%%")
        subject = gettext("Order %(number)s: %(status)s") % {
            "number": "%(number)s",
            "status": label,
        }
        body = gettext("The status of your order %(number)s is now: %(status)s.") % {
            "number": "%(number)s",
            "status": label,
        }
    return subject, body


def _event_spec(
    order: Order, previous: str, status: str, reason: str, when: Any, sequence: int | None = None
) -> EventSpec:
    buyer = order.buyer
    subject, body = _email_templates(buyer.language, status)
    subject = subject % {"number": order.number}
    body = body % {"number": order.number}
    return EventSpec(
        type="order.status_changed",
        subject=f"order:{order.number}",
        sequence=sequence or order.event_seq,
        payload={
            "order": order.number,
            "status": status,
            "previous_status": previous,
            "reason": reason,
            "total": {"amount": str(order.total_rub), "currency": order.currency},
        },
        occurred_at=when,
        audience_id=buyer.user_id,
        email_to=buyer.user.email,
        email_subject=subject,
        email_body=body,
    )


def _order_stamp(order: Order, to: str, context: Context) -> list[str]:
    order.updated_at = context.at
    stamp_field = _TIMESTAMP_FIELD.get(S(to))
    # An order paid, held and approved keeps the time it was paid.
    if stamp_field and getattr(order, stamp_field) is None:
        setattr(order, stamp_field, context.at)
        return ["updated_at", stamp_field]
    return ["updated_at"]


def _orders_write(moves: Sequence[Move[Order]], fields: Sequence[str], context: Context) -> None:
    if len({move.row.id for move in moves}) < len(moves):
        # Several steps of one order (never on a bulk path): each row as it is now.
        for order in {move.row.id: move.row for move in moves}.values():
            order.save(update_fields=list(fields))
        return
    # One UPDATE for every moving order (they are locked, so event_seq + 1 is
    # what the machine computed): a departure moves 20,000 orders, and
    # bulk_update would build a CASE arm per order and field.
    to = moves[0].to
    stamp_field = _TIMESTAMP_FIELD.get(S(to))
    stamp = (
        {stamp_field: Coalesce(stamp_field, Value(context.at, output_field=DateTimeField()))}
        if stamp_field
        else {}
    )
    Order.objects.filter(id__any_of=[move.row.id for move in moves]).update(
        status=to, event_seq=F("event_seq") + 1, updated_at=context.at, **stamp
    )


def _order_events(moves: Sequence[Move[Order]], context: Context) -> list[OrderEvent]:
    return [
        OrderEvent(
            order=move.row,
            sequence=move.sequence or move.row.event_seq,
            from_status=move.previous,
            to_status=move.to,
            actor_id=context.actor_id,
            reason=context.reason,
            data=dict(context.data),
            created_at=context.at,
        )
        for move in moves
    ]


def _order_outbox(moves: Sequence[Move[Order]], context: Context) -> list[EventSpec]:
    return [
        _event_spec(move.row, move.previous, move.to, context.reason, context.at) for move in moves
    ]


ORDER_MACHINE = StateMachine(
    model=Order,
    table=ORDER_TRANSITIONS,
    rank=Rank.ORDER,
    # Only the orders are locked (of self): the joined buyer and user rows
    # are read for the buyer's e-mail.
    rows=lambda ids: Order.objects.select_related("buyer__user").filter(id__any_of=ids),
    sequence_field="event_seq",
    stamp=_order_stamp,
    write=_orders_write,
    audit=_order_events,
    events=_order_outbox,
    record_events=events_record_ids,
)


def order_lock(*, order_id: int) -> Order:
    """Lock an order: the first lock of every command on it (core.locking)."""
    order = lock_row(
        Order.objects.select_related("buyer__user").filter(id=order_id), rank=Rank.ORDER
    )
    if order is None:
        raise NotFound()
    return order


def orders_transition(
    *,
    order_ids: Sequence[int],
    to: str,
    actor_id: int | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    strict: bool = True,
) -> list[Order]:
    """Move orders to `to`, locking them in id order (ORDER_MACHINE).

    strict: every order must be allowed to move (else InvalidTransition and
    nothing changes); otherwise orders that may not move are left as they are.
    Orders already in `to` are left alone either way. Returns the moved orders."""
    moves = ORDER_MACHINE.move(
        ids=order_ids,
        to=to,
        context=Context(actor_id=actor_id, reason=reason, data=data or {}),
        strict=strict,
        skip_same=True,
    )
    return [move.row for move in moves]


def order_transition(
    *,
    order_id: int,
    to: str,
    actor_id: int | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> Order:
    moved = orders_transition(
        order_ids=[order_id], to=to, actor_id=actor_id, reason=reason, data=data
    )
    if moved:
        return moved[0]
    return Order.objects.get(id=order_id)

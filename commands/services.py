"""The buyer's purchase: quote the landed cost, place the order (price,
reserve, confirm cash on delivery) and cancel it. This layer composes the
domain apps; each write below happens in their services."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Buyer
from accounts.selectors import buyer_get
from catalogue.models import Product
from core.errors import Conflict, Unprocessable, ValidationFailed
from core.money import money_round
from orders.models import Order, OrderStatus, PaymentMethod
from orders.selectors import order_get_for_buyer
from orders.services import (
    CANCELLABLE,
    Address,
    OrderTotals,
    PricedLine,
    order_create,
    orders_transition,
)
from payments.services import Rates, payment_cod_confirm, payments_settle_on_cancel, rates_current
from risk.services import order_risk_check_placement, risk_holds_withdraw
from shipping.customs.duty import duty_eur
from shipping.customs.selectors import duty_rule_in_force
from shipping.linehaul.pricing import Unit, parcels_split, shipping_fee_cny
from shipping.linehaul.selectors import lane_options_for_region
from shipping.tracking.selectors import cod_refusals_count
from warehouses.allocation import Need, WarehouseOption, allocate
from warehouses.selectors import products_with_availability
from warehouses.services import (
    LineAllocation,
    OutOfStock,
    stock_levels_lock,
    stock_release,
    stock_reserve,
)


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int


@dataclass(frozen=True)
class QuoteParcel:
    warehouse_id: int
    warehouse: str
    lane: str
    items: dict[int, int]  # product id -> quantity
    weight_g: int
    value_cny: Decimal
    value_eur: Decimal
    duty_eur: Decimal
    duty_rub: Decimal
    shipping_cny: Decimal
    shipping_rub: Decimal
    min_days: int
    max_days: int


@dataclass(frozen=True)
class Quote:
    lines: list[PricedLine]
    parcels: list[QuoteParcel]
    warehouse_of: dict[int, int]  # product id -> warehouse id
    rates: Rates
    goods_cny: Decimal
    goods_rub: Decimal
    shipping_rub: Decimal
    duty_rub: Decimal

    @property
    def total_rub(self) -> Decimal:
        return self.goods_rub + self.shipping_rub + self.duty_rub

    def totals(self) -> OrderTotals:
        return OrderTotals(
            goods_cny=self.goods_cny,
            goods_rub=self.goods_rub,
            shipping_rub=self.shipping_rub,
            duty_rub=self.duty_rub,
            cny_rub_rate=self.rates.cny_rub,
            eur_rub_rate=self.rates.eur_rub,
            rates_date=self.rates.date,
        )

    def plan(self) -> list[dict[str, Any]]:
        """The quote as stored on the order: one entry per shipping warehouse."""
        groups: dict[int, dict[str, Any]] = {}
        for p in self.parcels:
            group = groups.setdefault(
                p.warehouse_id,
                {
                    "warehouse_id": p.warehouse_id,
                    "warehouse": p.warehouse,
                    "lane": p.lane,
                    "min_days": p.min_days,
                    "max_days": p.max_days,
                    "parcels": [],
                },
            )
            group["parcels"].append(
                {
                    "items": {str(k): v for k, v in p.items.items()},
                    "weight_g": p.weight_g,
                    "value_cny": str(p.value_cny),
                    "duty_eur": str(p.duty_eur),
                    "duty_rub": str(p.duty_rub),
                    "shipping_rub": str(p.shipping_rub),
                }
            )
        return list(groups.values())


def _priced(lines: Sequence[LineRequest], by_sku: Mapping[str, Product]) -> list[PricedLine]:
    unknown = {
        f"lines[{i}].sku": [_("Unknown product.")]
        for i, line in enumerate(lines)
        if line.sku not in by_sku
    }
    if unknown:
        raise ValidationFailed(_("Some products do not exist."), code="unknown_sku", fields=unknown)
    return [PricedLine(product=by_sku[line.sku], quantity=line.quantity) for line in lines]


def checkout_quote(*, lines: Sequence[LineRequest], region: str) -> Quote:
    """Price an order without reserving anything."""
    options = lane_options_for_region(region=region)
    by_sku, stock = products_with_availability(
        skus=[line.sku for line in lines], warehouse_ids=list(options)
    )
    priced = _priced(lines, by_sku)
    if not options:
        raise ValidationFailed(
            _("We do not deliver to this region yet."),
            code="region_not_served",
            fields={"shipping_address.region": [_("Not served.")]},
        )
    needs = [Need(product_id=pl.product.id, quantity=pl.quantity) for pl in priced]
    plan = allocate(
        needs=needs,
        options=[
            WarehouseOption(warehouse_id=w, min_days=o.min_days, max_days=o.max_days)
            for w, o in options.items()
        ],
        availability=stock,
    )
    if plan is None:
        short = sorted(
            pl.product.sku
            for pl in priced
            if not any(stock.get((w, pl.product.id), 0) >= pl.quantity for w in options)
        ) or sorted(pl.product.sku for pl in priced)
        raise OutOfStock(fields={"lines": short}, extra={"skus": short})
    rates = rates_current()
    rule = duty_rule_in_force(on=timezone.now().date())
    by_product = {pl.product.id: pl for pl in priced}
    parcels: list[QuoteParcel] = []
    for warehouse_id, product_ids in sorted(plan.items()):
        option = options[warehouse_id]
        units = [
            Unit(
                key=pid,
                weight_g=by_product[pid].product.weight_g,
                value_cny=by_product[pid].product.price_cny,
                quantity=by_product[pid].quantity,
            )
            for pid in product_ids
        ]
        for planned in parcels_split(units, max_weight_g=option.lane.max_parcel_weight_g):
            value_eur = money_round(planned.value_cny * rates.cny_rub / rates.eur_rub, "EUR")
            duty = Decimal(0)
            if option.lane.crosses_border:
                duty = money_round(
                    duty_eur(
                        rule=rule,
                        value_eur=value_eur,
                        weight_kg=Decimal(planned.weight_g) / 1000,
                    ),
                    "EUR",
                )
            fee = shipping_fee_cny(lane=option.lane, weight_g=planned.weight_g)
            parcels.append(
                QuoteParcel(
                    warehouse_id=warehouse_id,
                    warehouse=option.lane.origin.code,
                    lane=option.lane.code,
                    items=planned.items,
                    weight_g=planned.weight_g,
                    value_cny=planned.value_cny,
                    value_eur=value_eur,
                    duty_eur=duty,
                    duty_rub=money_round(duty * rates.eur_rub, "RUB"),
                    shipping_cny=fee,
                    shipping_rub=money_round(fee * rates.cny_rub, "RUB"),
                    min_days=option.min_days,
                    max_days=option.max_days,
                )
            )
    goods_cny = sum((pl.total_cny for pl in priced), Decimal(0))
    return Quote(
        lines=priced,
        parcels=parcels,
        warehouse_of={pid: w for w, pids in plan.items() for pid in pids},
        rates=rates,
        goods_cny=goods_cny,
        goods_rub=money_round(goods_cny * rates.cny_rub, "RUB"),
        shipping_rub=sum((p.shipping_rub for p in parcels), Decimal(0)),
        duty_rub=sum((p.duty_rub for p in parcels), Decimal(0)),
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
) -> Order:
    """Quote, create, reserve (all lines or none), check the risk rules and,
    for cash on delivery, confirm: one transaction. An order that trips a rule
    keeps its reservation on hold until staff review it. Units taken by a
    concurrent order since the quote are re-quoted once, so the charge always
    matches a quote of the same moment.

    `buyer` is the caller's profile when the caller has it at hand already."""
    if buyer is None or buyer.user_id != user_id:
        buyer = buyer_get(user_id=user_id)
    # No savepoint (this runs on every checkout): the stock is locked and
    # checked before anything is written (stock, then order, the lock order
    # used everywhere), so going round again has nothing to undo.
    with transaction.atomic(savepoint=False):
        for attempt in range(2):
            quote = checkout_quote(lines=lines, region=address.region)
            if payment_method == PaymentMethod.COD:
                cod_allowed_check(buyer_id=buyer.id, total_rub=quote.total_rub)
            wanted: dict[tuple[int, int], int] = defaultdict(int)
            for priced in quote.lines:
                product_id = priced.product.id
                wanted[(quote.warehouse_of[product_id], product_id)] += priced.quantity
            levels, short = stock_levels_lock(wanted=wanted)
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
            # Still short after a fresh quote: OutOfStock, and the caller's
            # transaction rolls back the order just written.
            stock_reserve(
                order=order,
                allocations=[
                    LineAllocation(line=line, warehouse_id=quote.warehouse_of[line.product_id])
                    for line in order.lines.all()
                ],
                actor_id=user_id,
                levels=levels,
            )
            if order_risk_check_placement(order=order, actor_id=user_id) is not None:
                order.refresh_from_db()
            elif payment_method == PaymentMethod.COD:
                payment_cod_confirm(order_id=order.id, actor_id=user_id)
                order.refresh_from_db()
            return order
    raise AssertionError("unreachable")


def order_cancel(
    *, order: Order, actor_id: int | None, reason: str = "cancelled by buyer"
) -> Order:
    """Cancel before packing: release the stock, then cancel the order, then
    refund or void its payments (the lock order used everywhere)."""
    if order.status not in CANCELLABLE:
        raise Conflict(
            _("This order can no longer be cancelled."),
            code="order_not_cancellable",
            extra={"current_status": order.status},
        )
    with transaction.atomic():
        stock_release(order=order, actor_id=actor_id, reason=reason)
        orders_transition(
            order_ids=[order.id], to=OrderStatus.CANCELLED, actor_id=actor_id, reason=reason
        )
        payments_settle_on_cancel(order_id=order.id, actor_id=actor_id, reason=reason)
        risk_holds_withdraw(order_id=order.id, actor_id=actor_id)
    order.refresh_from_db()
    return order


def order_cancel_for_buyer(*, user_id: int, number: str) -> Order:
    order = order_get_for_buyer(user_id=user_id, number=number)
    return order_cancel(order=order, actor_id=user_id)


def orders_expire_unpaid() -> int:
    """Cancel card orders left unpaid past the configured time, counted from
    placement or, for an order held for review, from its approval."""
    cutoff = timezone.now() - timedelta(minutes=settings.AMUR["UNPAID_ORDER_TTL_MINUTES"])
    expired = 0
    for order in (
        Order.objects.filter(
            status=OrderStatus.PENDING_PAYMENT,
            payment_method=PaymentMethod.CARD,
            created_at__lt=cutoff,
        )
        .exclude(risk_holds__decided_at__gte=cutoff)
        .order_by("id")[:500]
    ):
        try:
            order_cancel(order=order, actor_id=None, reason="payment not received in time")
            expired += 1
        except Conflict:
            continue  # paid or cancelled meanwhile
    return expired

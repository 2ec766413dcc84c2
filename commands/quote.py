"""The landed cost of a cart: planned parcels per warehouse, shipping and
import duty, totals in roubles at the recorded rates. Reserves nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalogue.models import Product
from core.errors import ValidationFailed
from core.money import money_round
from orders.services import (
    OrderTotals,
    PricedLine,
)
from payments.rates import Rates, rates_current
from shipping.customs.duty import DutyParcel, parcels_duty
from shipping.customs.selectors import duty_rule_in_force
from shipping.linehaul.pricing import Unit, parcels_split, shipping_fee_cny
from shipping.linehaul.selectors import lane_options_for_region
from warehouses.allocation import Need, WarehouseOption, allocate
from warehouses.selectors import products_with_availability
from warehouses.services import (
    OutOfStock,
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
    crosses_border: bool = True
    vat_eur: Decimal = Decimal(0)  # the import VAT within duty_eur
    duty_rule: date | None = None  # valid_from of the rule it was priced by


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

    @property
    def window(self) -> tuple[int, int]:
        """Days until the whole order is there: its slowest parcel's."""
        return (max(p.min_days for p in self.parcels), max(p.max_days for p in self.parcels))

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
                    "crosses_border": p.crosses_border,
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
                    "vat_eur": str(p.vat_eur),
                    "duty_rule": p.duty_rule.isoformat() if p.duty_rule else None,
                    "shipping_rub": str(p.shipping_rub),
                }
            )
        return list(groups.values())


DELIVERY_DOOR = "door"


@dataclass(frozen=True)
class DeliveryOption:
    kind: str
    price_rub: Decimal
    min_days: int
    max_days: int


def delivery_options(quote: Quote) -> list[DeliveryOption]:
    """The ways a quoted cart can be received, each with its price and
    window. To the door, the price is the parcels' shipping, which is what
    the order charges."""
    min_days, max_days = quote.window
    return [
        DeliveryOption(
            kind=DELIVERY_DOOR, price_rub=quote.shipping_rub, min_days=min_days, max_days=max_days
        )
    ]


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
    terms = duty_rule_in_force(on=timezone.now().date())
    by_product = {pl.product.id: pl for pl in priced}
    planned_parcels = []
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
            planned_parcels.append((warehouse_id, option, planned, value_eur))
    duties = parcels_duty(
        terms=terms,
        parcels=[
            DutyParcel(
                value_eur=value_eur,
                weight_g=planned.weight_g,
                crosses_border=option.lane.crosses_border,
                hs_codes={
                    by_product[pid].product.sku: by_product[pid].product.hs_code
                    for pid in planned.items
                },
            )
            for _w, option, planned, value_eur in planned_parcels
        ],
    )
    parcels: list[QuoteParcel] = []
    for (warehouse_id, option, planned, value_eur), duty in zip(
        planned_parcels, duties, strict=True
    ):
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
                duty_eur=duty.total_eur,
                duty_rub=money_round(duty.total_eur * rates.eur_rub, "RUB"),
                shipping_cny=fee,
                shipping_rub=money_round(fee * rates.cny_rub, "RUB"),
                min_days=option.min_days,
                max_days=option.max_days,
                crosses_border=option.lane.crosses_border,
                vat_eur=duty.vat_eur,
                duty_rule=terms.valid_from,
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

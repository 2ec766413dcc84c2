"""The landed cost of a cart: planned parcels per warehouse, shipping and
import duty, totals in roubles at the recorded rates. Reserves nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalogue.models import Product
from core.errors import Unprocessable, ValidationFailed
from core.money import money_round
from orders.services import (
    OrderTotals,
    PricedLine,
)
from payments.rates import Rates, rates_current
from shipping.customs.duty import DutyParcel, parcels_duty
from shipping.customs.selectors import duty_rule_in_force
from shipping.lastmile.models import DeliveryKind, PickupPoint
from shipping.lastmile.selectors import (
    PlannedBox,
    box_fits,
    pickup_point_get,
    pickup_points_in_city,
)
from shipping.linehaul.pricing import Unit, box_dimensions, parcels_split, shipping_fee_cny
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
    length_mm: int = 0  # the box it will pack into (shipping.fulfilment.packing)
    width_mm: int = 0
    height_mm: int = 0

    @property
    def box(self) -> PlannedBox:
        return PlannedBox(self.weight_g, self.length_mm, self.width_mm, self.height_mm)


@dataclass(frozen=True)
class DeliveryRequest:
    kind: str = DeliveryKind.DOOR
    code: str = ""


@dataclass(frozen=True)
class DeliveryOption:
    kind: str
    shipping_rub: Decimal
    min_days: int
    max_days: int
    pickup_point: PickupPoint | None = None


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
    delivery_options: list[DeliveryOption] = field(default_factory=list)
    pickup_point: PickupPoint | None = None  # where the order goes, if not to the door

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


def _priced(lines: Sequence[LineRequest], by_sku: Mapping[str, Product]) -> list[PricedLine]:
    unknown = {
        f"lines[{i}].sku": [_("Unknown product.")]
        for i, line in enumerate(lines)
        if line.sku not in by_sku
    }
    if unknown:
        raise ValidationFailed(_("Some products do not exist."), code="unknown_sku", fields=unknown)
    return [PricedLine(product=by_sku[line.sku], quantity=line.quantity) for line in lines]


class PickupPointRefused(Unprocessable):
    code = "pickup_point_refused"


def _chosen_point(delivery: DeliveryRequest | None, region: str) -> PickupPoint | None:
    if delivery is None or delivery.kind != DeliveryKind.PICKUP_POINT:
        return None
    point = pickup_point_get(code=delivery.code)
    if point is None:
        raise ValidationFailed(
            _("There is no such pickup point."),
            code="unknown_pickup_point",
            fields={"delivery.code": [_("Unknown pickup point.")]},
        )
    if point.region != region:
        raise ValidationFailed(
            _("The pickup point is not in the region of the address."),
            code="pickup_point_not_in_region",
            fields={"delivery.code": [_("Choose a point in your region.")]},
        )
    return point


def _point_refusal(
    point: PickupPoint, parcels: Sequence[QuoteParcel], payment_method: str
) -> PickupPointRefused | None:
    """Why the order cannot go to this point, or None."""
    too_big = [i for i, p in enumerate(parcels) if not box_fits(point, p.box)]
    if too_big:
        return PickupPointRefused(
            _("The parcel does not fit this pickup point; choose another point or the door."),
            code="parcel_too_big_for_point",
            fields={"delivery.code": [_("Too big or too heavy for this point.")]},
            extra={
                "limits": {
                    "max_weight_g": point.max_weight_g,
                    "cell_mm": list(point.cell_mm) if point.cell_mm else None,
                },
                "parcels": [
                    {
                        "weight_g": parcels[i].weight_g,
                        "size_mm": [
                            parcels[i].length_mm,
                            parcels[i].width_mm,
                            parcels[i].height_mm,
                        ],
                    }
                    for i in too_big
                ],
            },
        )
    if payment_method == "cod" and not point.cash_allowed:
        return PickupPointRefused(
            _(
                "This pickup point does not take cash on delivery;"
                " pay by card or choose another point."
            ),
            code="cod_not_allowed_at_point",
            fields={"payment_method": [_("Not accepted at this point.")]},
        )
    return None


def _delivery_options(
    *,
    parcels: Sequence[QuoteParcel],
    region: str,
    city: str,
    chosen: PickupPoint | None,
    payment_method: str,
) -> list[DeliveryOption]:
    """The door (as the lanes price it) and the points the order may go to:
    the chosen one first, then others in the address's city."""
    door_rub = sum((p.shipping_rub for p in parcels), Decimal(0))
    point_rub = door_rub + settings.AMUR["PICKUP_POINT_FEE_RUB"] * len(parcels)
    low = max(p.min_days for p in parcels)
    high = max(p.max_days for p in parcels)
    options = [DeliveryOption(DeliveryKind.DOOR, door_rub, low, high)]
    points = [chosen] if chosen else []
    if city:
        points += [p for p in pickup_points_in_city(region=region, city=city) if p != chosen]
    options += [
        DeliveryOption(DeliveryKind.PICKUP_POINT, point_rub, low, high, pickup_point=point)
        for point in points
        if point is chosen or _point_refusal(point, parcels, payment_method) is None
    ]
    return options


def checkout_quote(
    *,
    lines: Sequence[LineRequest],
    region: str,
    delivery: DeliveryRequest | None = None,
    payment_method: str = "",
    city: str = "",
) -> Quote:
    """Price an order without reserving anything. To a pickup point, the
    planned parcels must fit it and cash on delivery must be taken there
    (422 otherwise); the quote lists the door and the points in `city` the
    order could go to."""
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
    point = _chosen_point(delivery, region)
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
    dims = {
        pid: (pl.product.length_mm, pl.product.width_mm, pl.product.height_mm)
        for pid, pl in by_product.items()
    }
    point_fee = settings.AMUR["PICKUP_POINT_FEE_RUB"] if point else Decimal(0)
    for (warehouse_id, option, planned, value_eur), duty in zip(
        planned_parcels, duties, strict=True
    ):
        fee = shipping_fee_cny(lane=option.lane, weight_g=planned.weight_g)
        length, width, height = box_dimensions(planned.items, dims)
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
                shipping_rub=money_round(fee * rates.cny_rub, "RUB") + point_fee,
                min_days=option.min_days,
                max_days=option.max_days,
                crosses_border=option.lane.crosses_border,
                vat_eur=duty.vat_eur,
                duty_rule=terms.valid_from,
                length_mm=length,
                width_mm=width,
                height_mm=height,
            )
        )
    if point is not None:
        refusal = _point_refusal(point, parcels, payment_method)
        if refusal is not None:
            raise refusal
    door_parcels = [
        p if not point_fee else dataclasses.replace(p, shipping_rub=p.shipping_rub - point_fee)
        for p in parcels
    ]
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
        delivery_options=_delivery_options(
            parcels=door_parcels,
            region=region,
            city=city,
            chosen=point,
            payment_method=payment_method,
        ),
        pickup_point=point,
    )

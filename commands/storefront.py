"""What one storefront request knows besides the catalogue: the CNY rate, the
lanes to the buyer's region and the stock of the variants it shows. Each is
read once per request, whatever the number of products on the page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from catalogue.models import Attribute, Category, Listing, Product
from catalogue.selectors import attributes_by_code, categories_with_ancestors
from core.money import Money, money_round
from payments.rates import rate_latest
from shipping.linehaul.selectors import LaneOption, lane_options_for_region
from warehouses.selectors import available_by_product


class Market:
    def __init__(self, *, region: str | None) -> None:
        self.region = region

    @cached_property
    def cny_rub(self) -> Decimal | None:
        return rate_latest(currency="CNY")

    @cached_property
    def windows(self) -> dict[int, LaneOption] | None:
        """Origin warehouse id -> its fastest lane to the region; None without a region."""
        return lane_options_for_region(region=self.region) if self.region else None

    def rub(self, cny: Decimal) -> Decimal | None:
        rate = self.cny_rub
        return money_round(cny * rate, "RUB") if rate is not None else None


@dataclass
class Storefront:
    """The data a page of listings or products is rendered from."""

    market: Market
    language: str
    units: dict[int, dict[int, int]] = field(default_factory=dict)
    attributes: dict[str, Attribute] = field(default_factory=dict)
    categories: dict[str, Category] = field(default_factory=dict)

    @classmethod
    def for_listings(
        cls, listings: Iterable[Listing], *, market: Market, language: str
    ) -> Storefront:
        listings = list(listings)
        variant_ids = [v.id for listing in listings for v in variants_of(listing)]
        return cls(
            market=market,
            language=language,
            units=available_by_product(product_ids=variant_ids) if variant_ids else {},
            attributes=attributes_by_code(codes={a for x in listings for a in x.axes}),
            categories=categories_with_ancestors(x.category for x in listings if x.category),
        )

    def price(self, cny: Decimal) -> dict[str, Any]:
        rub = self.market.rub(cny)
        return {
            "cny": Money(cny, "CNY").as_dict(),
            "rub": Money(rub, "RUB").as_dict() if rub is not None else None,
        }

    def availability(self, products: Iterable[Product]) -> dict[str, Any]:
        """Stock of the products together and, with a region, the delivery
        window of the fastest warehouse that holds any of it."""
        by_warehouse: dict[int, int] = {}
        for product in products:
            for warehouse_id, units in self.units.get(product.id, {}).items():
                by_warehouse[warehouse_id] = by_warehouse.get(warehouse_id, 0) + units
        total = sum(by_warehouse.values())
        windows = self.market.windows or {}
        best = min(
            (windows[w] for w in by_warehouse if w in windows),
            key=lambda option: (option.max_days, option.min_days),
            default=None,
        )
        window = {"min_days": best.min_days, "max_days": best.max_days} if best else None
        return {
            "in_stock": total > 0,
            "units": total,
            "fastest_days": best.max_days if best else None,
            "delivery_window": window,
        }

    def sorted_variants(self, listing: Listing) -> list[Product]:
        """In size-chart order along the listing's axes, then by SKU."""

        charts = []
        for code in listing.axes:
            attribute = self.attributes.get(code)
            values = attribute.values.all() if attribute else []
            charts.append((code, {v.value: v.position for v in values}))

        def place(product: Product) -> tuple[Any, ...]:
            positions = []
            for code, chart in charts:
                value = product.attributes.get(code, "")
                positions.append((chart.get(value, len(chart)), value))
            return (*positions, product.sku)

        return sorted(variants_of(listing), key=place)


def variants_of(listing: Listing) -> list[Product]:
    """The active variants the selectors prefetched onto the listing."""
    variants: list[Product] = listing.active_variants  # type: ignore[attr-defined]
    return variants

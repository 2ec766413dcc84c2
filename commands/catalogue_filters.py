"""Storefront filters, for the SKU list and the listing list alike.

Conditions on variants (price, merchant, category, stock) are gathered and
applied together, so a listing matches only when one variant meets them all
(a jacket in M at 400 CNY and in XL at 500 does not match 450-480)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

from catalogue.models import Listing, Product, language_suffix
from catalogue.selectors import category_by_slug, listings_search, products_search
from commands.storefront import Market
from core.errors import ApplicationError, ValidationFailed
from core.money import money_round
from warehouses.selectors import stock_levels_available

CENT = Decimal("0.01")
HALF_KOPEK = Decimal("0.005")

ORDERING_CHOICES = [
    ("price", "price"),
    ("-price", "-price"),
    ("name", "name"),
    ("-name", "-name"),
    ("newest", "newest"),
]
BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


def cny_at_least_for_rub(rub: Decimal, rate: Decimal) -> Decimal:
    """The lowest CNY price shown in roubles (rounded to the kopek) as `rub` or more."""
    cny = ((rub - HALF_KOPEK) / rate).quantize(CENT, rounding=ROUND_CEILING)
    # The division is rounded to 28 digits: settle the last cent on the shown price.
    while cny > 0 and money_round((cny - CENT) * rate, "RUB") >= rub:
        cny -= CENT
    while money_round(cny * rate, "RUB") < rub:
        cny += CENT
    return cny


def cny_at_most_for_rub(rub: Decimal, rate: Decimal) -> Decimal:
    """The highest CNY price shown in roubles as `rub` or less."""
    cny = ((rub + HALF_KOPEK) / rate).quantize(CENT, rounding=ROUND_FLOOR)
    while cny >= 0 and money_round(cny * rate, "RUB") > rub:
        cny -= CENT
    while money_round((cny + CENT) * rate, "RUB") <= rub:
        cny += CENT
    return cny


# What _price_filter accepts, for the schema: 0 up to 14 digits, 2 after the point.
PRICE_SCHEMA = {
    "type": "number",
    "minimum": 0,
    "maximum": 999_999_999_999.99,
    "multipleOf": 0.01,
}


def _price_filter(method: str, label: str) -> django_filters.NumberFilter:
    return django_filters.NumberFilter(
        method=method, label=label, min_value=0, max_digits=14, decimal_places=2
    )


class StorefrontFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="keep_search", max_length=200, label="SKU, name or attribute value, any case"
    )
    category = django_filters.CharFilter(
        method="on_category", label="Category slug; its descendants included"
    )
    merchant = django_filters.CharFilter(method="on_merchant", label="Merchant code")
    min_price_cny = _price_filter("on_min_cny", "Lowest price in CNY")
    max_price_cny = _price_filter("on_max_cny", "Highest price in CNY")
    min_price = _price_filter("on_min_cny", "Same as min_price_cny (kept for old clients)")
    max_price = _price_filter("on_max_cny", "Same as max_price_cny (kept for old clients)")
    min_price_rub = _price_filter("on_min_rub", "Lowest price in RUB, at the latest CNY rate")
    max_price_rub = _price_filter("on_max_rub", "Highest price in RUB, at the latest CNY rate")
    available = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES,
        method="on_available",
        label="true: in stock (with region=, in a warehouse with a lane there); false: not",
    )
    ordering = django_filters.ChoiceFilter(
        choices=ORDERING_CHOICES,
        method="keep_ordering",
        label="price, -price, name (in the request's language), -name, newest;"
        " by relevance when searching, else by SKU (products) or id (listings)",
    )

    def __init__(self, *args: Any, market: Market, language: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.market = market
        self.language = language
        self.variant_q = Q()
        self.search_text = ""
        self.order = ""

    # Each filter method records its part; filter_queryset applies them together.

    def _variants(self, queryset: QuerySet[Any], condition: Q) -> QuerySet[Any]:
        self.variant_q &= condition
        return queryset

    def keep_search(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        self.search_text = value
        return queryset

    def keep_ordering(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        self.order = value
        return queryset

    def on_category(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        category = category_by_slug(slug=value)
        if category is None:
            raise ValidationFailed(fields={"category": [_("No such category.")]})
        return self._variants(queryset, Q(listing__category__path__startswith=category.path))

    def on_merchant(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        return self._variants(queryset, Q(merchant__code=value))

    @extend_schema_field(PRICE_SCHEMA)
    def on_min_cny(self, queryset: QuerySet[Any], name: str, value: Decimal) -> QuerySet[Any]:
        return self._variants(queryset, Q(price_cny__gte=value))

    @extend_schema_field(PRICE_SCHEMA)
    def on_max_cny(self, queryset: QuerySet[Any], name: str, value: Decimal) -> QuerySet[Any]:
        return self._variants(queryset, Q(price_cny__lte=value))

    def _rate(self) -> Decimal:
        rate = self.market.cny_rub
        if rate is None:
            raise ApplicationError(
                _("No CNY rate is recorded yet: filter by price in CNY."),
                code="rate_unavailable",
                status_code=409,
            )
        return rate

    @extend_schema_field(PRICE_SCHEMA)
    def on_min_rub(self, queryset: QuerySet[Any], name: str, value: Decimal) -> QuerySet[Any]:
        return self._variants(queryset, Q(price_cny__gte=cny_at_least_for_rub(value, self._rate())))

    @extend_schema_field(PRICE_SCHEMA)
    def on_max_rub(self, queryset: QuerySet[Any], name: str, value: Decimal) -> QuerySet[Any]:
        return self._variants(queryset, Q(price_cny__lte=cny_at_most_for_rub(value, self._rate())))

    def on_available(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        windows = self.market.windows
        levels = stock_levels_available(warehouse_ids=None if windows is None else list(windows))
        in_stock = Exists(levels.filter(product_id=OuterRef("pk")))
        return self._variants(queryset, Q(in_stock) if value == "true" else ~Q(in_stock))

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = super().filter_queryset(queryset)
        queryset = self.apply(queryset)
        name = f"name_{language_suffix(self.language)}"
        by: dict[str, list[Any]] = {
            "price": [self.price_field, self.tie_break],
            "-price": [f"-{self.price_field}", self.tie_break],
            "name": [Lower(name), self.tie_break],
            "-name": [Lower(name).desc(), self.tie_break],
            "newest": ["-created_at", f"-{self.tie_break}"],
        }
        if self.order:
            return queryset.order_by(*by[self.order])
        if self.search_text:
            return queryset.order_by("-search_rank", self.tie_break)
        return queryset.order_by(self.tie_break)

    price_field = "price_cny"
    tie_break = "sku"

    def apply(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        raise NotImplementedError


class ProductFilter(StorefrontFilter):
    class Meta:
        model = Product
        fields: list[str] = []

    def apply(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = queryset.filter(self.variant_q)
        if self.search_text:
            queryset = products_search(queryset, text=self.search_text)
        return queryset


class ListingFilter(StorefrontFilter):
    price_field = "price_min"
    tie_break = "id"

    class Meta:
        model = Listing
        fields: list[str] = []

    def apply(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.variant_q:
            variants = Product.objects.filter(listing_id=OuterRef("pk"), is_active=True)
            queryset = queryset.filter(Exists(variants.filter(self.variant_q)))
        if self.search_text:
            queryset = listings_search(queryset, text=self.search_text)
        return queryset


class StorefrontFilterBackend(DjangoFilterBackend):
    """Hands the view's market (rate, lanes) and language to the filter set."""

    def get_filterset_kwargs(
        self, request: Any, queryset: QuerySet[Any], view: Any
    ) -> dict[str, Any]:
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        kwargs.update(market=view.market, language=view.language)
        return kwargs

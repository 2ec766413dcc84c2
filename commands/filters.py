from __future__ import annotations

import django_filters

from catalogue.models import Product


class ProductFilter(django_filters.FilterSet):
    merchant = django_filters.CharFilter(field_name="merchant__code")
    min_price = django_filters.NumberFilter(field_name="price_cny", lookup_expr="gte")
    max_price = django_filters.NumberFilter(field_name="price_cny", lookup_expr="lte")

    class Meta:
        model = Product
        fields = ["merchant", "min_price", "max_price"]

"""Reads of the catalogue."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from catalogue.models import Product


def products_for_catalogue(*, search: str = "") -> QuerySet[Product]:
    qs = Product.objects.filter(is_active=True).select_related("merchant")
    if search:
        qs = qs.filter(
            Q(sku__icontains=search)
            | Q(name_ru__icontains=search)
            | Q(name_zh__icontains=search)
            | Q(name_en__icontains=search)
        )
    return qs.order_by("sku")

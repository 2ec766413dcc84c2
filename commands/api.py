from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from catalogue.models import Product
from catalogue.selectors import products_for_catalogue
from commands.filters import ProductFilter
from commands.serializers import (
    ProductSerializer,
)
from core.api import (
    error_responses,
)
from payments.rates import rate_latest
from shipping.linehaul.selectors import lane_options_for_region
from warehouses.selectors import available_by_product


class ProductListView(generics.ListAPIView):
    """The catalogue, in the language of Accept-Language (ru by default)."""

    permission_classes = [AllowAny]
    serializer_class = ProductSerializer
    filterset_class = ProductFilter

    def get_queryset(self) -> QuerySet[Product]:
        return products_for_catalogue(search=self.request.query_params.get("search", "").strip())

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="SKU or name in any language"),
            OpenApiParameter("region", str, description="ISO 3166-2:RU code, for delivery days"),
        ],
        responses={200: ProductSerializer(many=True), **error_responses(400)},
        tags=["catalogue"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_serializer(self, *args: Any, **kwargs: Any) -> ProductSerializer:
        page = args[0] if args else []
        context = dict(self.get_serializer_context())
        context["available"] = available_by_product(product_ids=[p.id for p in page])
        context["cny_rub"] = rate_latest(currency="CNY")
        region = self.request.query_params.get("region")
        if region:
            context["days_by_warehouse"] = {
                w: option.max_days for w, option in lane_options_for_region(region=region).items()
            }
        return ProductSerializer(*args, context=context, **kwargs)

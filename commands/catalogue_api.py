"""The public storefront API: products (SKUs), listings (product cards) and
the category tree, in the request's language (?lang= or Accept-Language)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from catalogue.models import Listing, Product
from catalogue.selectors import (
    category_tree,
    storefront_listing_get,
    storefront_listings,
    storefront_product_get,
    storefront_products,
)
from commands.catalogue_filters import ListingFilter, ProductFilter, StorefrontFilterBackend
from commands.catalogue_serializers import (
    CategoryNodeSerializer,
    ListingSerializer,
    ProductSerializer,
    category_tree_data,
)
from commands.storefront import Market, Storefront
from core.api import error_responses
from core.errors import ValidationFailed
from core.regions import REGIONS

LANGUAGES = {"ru": "ru", "zh-hans": "zh-hans", "zh": "zh-hans", "en": "en"}

LANG_PARAMETER = OpenApiParameter(
    "lang", str, enum=["ru", "zh-hans", "en"], description="Overrides Accept-Language."
)
REGION_PARAMETER = OpenApiParameter(
    "region",
    str,
    enum=sorted(REGIONS),
    description="ISO 3166-2:RU code (RU-MOW): delivery windows, and the region"
    " that available=true means",
)


class StorefrontView(generics.GenericAPIView):
    """Public reads: no login, and credentials, if sent, are not looked at."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    filter_backends = [StorefrontFilterBackend]
    market: Market
    language: str

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.language = self._language(request)
        region = request.query_params.get("region") or None
        if region is not None and region not in REGIONS:
            raise ValidationFailed(
                fields={"region": [_("Use an ISO 3166-2:RU code, e.g. RU-MOW.")]}
            )
        self.market = Market(region=region)

    def _language(self, request: Request) -> str:
        asked = request.query_params.get("lang")
        if asked is None:
            return translation.get_language() or "ru"
        language = LANGUAGES.get(asked.lower())
        if language is None:
            raise ValidationFailed(fields={"lang": [_("Choose ru, zh-hans or en.")]})
        # As LocaleMiddleware does for Accept-Language: errors and the
        # Content-Language header follow.
        translation.activate(language)
        request.LANGUAGE_CODE = language
        return language

    def storefront(self, listings: list[Listing]) -> Storefront:
        return Storefront.for_listings(listings, market=self.market, language=self.language)


class ProductListView(StorefrontView, generics.ListAPIView):
    """SKUs, each with its listing (name, category, images, attributes) and
    the listing's variants."""

    serializer_class = ProductSerializer
    filterset_class = ProductFilter

    def get_queryset(self) -> QuerySet[Product]:
        return storefront_products()

    @extend_schema(
        parameters=[LANG_PARAMETER, REGION_PARAMETER],
        responses={200: ProductSerializer(many=True), **error_responses(400, 409)},
        tags=["catalogue"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_serializer(self, *args: Any, **kwargs: Any) -> ProductSerializer:
        products = list(args[0]) if args else []
        context = dict(self.get_serializer_context())
        context["storefront"] = self.storefront([p.listing for p in products])
        return ProductSerializer(*args, context=context, **kwargs)


class ProductDetailView(StorefrontView):
    serializer_class = ProductSerializer
    filter_backends: list[type] = []

    @extend_schema(
        parameters=[LANG_PARAMETER, REGION_PARAMETER],
        responses={200: ProductSerializer, **error_responses(400, 404)},
        tags=["catalogue"],
    )
    def get(self, request: Request, sku: str) -> Response:
        product = storefront_product_get(sku=sku)
        context = {
            **self.get_serializer_context(),
            "storefront": self.storefront([product.listing]),
        }
        return Response(ProductSerializer(product, context=context).data)


class ListingListView(StorefrontView, generics.ListAPIView):
    """Product cards: one per listing, with its variants and price range."""

    serializer_class = ListingSerializer
    filterset_class = ListingFilter

    def get_queryset(self) -> QuerySet[Listing]:
        return storefront_listings()

    @extend_schema(
        parameters=[LANG_PARAMETER, REGION_PARAMETER],
        responses={200: ListingSerializer(many=True), **error_responses(400, 409)},
        tags=["catalogue"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_serializer(self, *args: Any, **kwargs: Any) -> ListingSerializer:
        listings = list(args[0]) if args else []
        context = dict(self.get_serializer_context())
        context["storefront"] = self.storefront(listings)
        return ListingSerializer(*args, context=context, **kwargs)


class ListingDetailView(StorefrontView):
    serializer_class = ListingSerializer
    filter_backends: list[type] = []

    @extend_schema(
        parameters=[LANG_PARAMETER, REGION_PARAMETER],
        responses={200: ListingSerializer, **error_responses(400, 404)},
        tags=["catalogue"],
    )
    def get(self, request: Request, key: str) -> Response:
        listing = storefront_listing_get(key=key)
        context = {**self.get_serializer_context(), "storefront": self.storefront([listing])}
        return Response(ListingSerializer(listing, context=context).data)


class CategoryTreeView(StorefrontView):
    """The whole category tree, roots first, each with its children."""

    serializer_class = CategoryNodeSerializer
    # One answer, the whole tree: neither filtered nor paged.
    filter_backends: list[type] = []
    pagination_class = None

    @extend_schema(
        parameters=[LANG_PARAMETER],
        responses={200: CategoryNodeSerializer(many=True), **error_responses(400)},
        tags=["catalogue"],
    )
    def get(self, request: Request) -> Response:
        return Response(category_tree_data(category_tree(), self.language))

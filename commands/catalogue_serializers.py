"""The storefront's shapes: products (SKUs) with their listing and variants,
listings (product cards), categories. The serializers declare each shape for
the schema; the *_data functions render it from what a Storefront holds, so a
page costs the same few queries whatever its length."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from catalogue.models import Category, Listing, ListingImage, Product
from commands.serializers import DeliveryWindowSerializer
from commands.storefront import Storefront, variants_of
from core.api import MoneySerializer

# Shapes ----------------------------------------------------------------------


class PriceSerializer(serializers.Serializer):
    cny = MoneySerializer()
    rub = MoneySerializer(allow_null=True, help_text="At the latest CNY rate; null before any.")


class AvailabilitySerializer(serializers.Serializer):
    in_stock = serializers.BooleanField()
    units = serializers.IntegerField()
    fastest_days = serializers.IntegerField(
        allow_null=True, help_text="The delivery window's last day; null without ?region="
    )
    delivery_window = DeliveryWindowSerializer(
        allow_null=True,
        help_text="Days to the region from the fastest warehouse with stock; null without ?region=",
    )


class CategoryStepSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class CategoryRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    path = CategoryStepSerializer(many=True, help_text="From the root down to this category.")


class ImageSerializer(serializers.Serializer):
    url = serializers.URLField()
    thumbnail_url = serializers.URLField(help_text="320 x 320, cropped to fill, JPEG.")
    preview_url = serializers.URLField(help_text="At most 1024 x 1024, JPEG.")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    alt = serializers.CharField()
    sku = serializers.CharField(allow_null=True, help_text="The variant it shows, if one.")


class AttributeValueSerializer(serializers.Serializer):
    value = serializers.CharField(help_text="As in the variants' attributes.")
    name = serializers.CharField(help_text="In the request's language.")


class AxisSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    values = AttributeValueSerializer(many=True, help_text="Of the active variants, in order.")


class VariantSerializer(serializers.Serializer):
    sku = serializers.CharField()
    attributes = serializers.DictField(child=serializers.CharField())
    price = PriceSerializer()
    availability = AvailabilitySerializer()


class ListingRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    category = CategoryRefSerializer(allow_null=True)
    images = ImageSerializer(many=True)
    attributes = AxisSerializer(many=True)


class ProductSerializer(serializers.Serializer):
    """A SKU in the request's language, with its listing and all the
    listing's active variants (itself among them)."""

    sku = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    merchant = serializers.CharField(help_text="The merchant's code.")
    merchant_name = serializers.CharField()
    hs_code = serializers.CharField()
    weight_g = serializers.IntegerField()
    length_mm = serializers.IntegerField()
    width_mm = serializers.IntegerField()
    height_mm = serializers.IntegerField()
    origin_country = serializers.CharField()
    price = PriceSerializer()
    availability = AvailabilitySerializer()
    attributes = serializers.DictField(child=serializers.CharField())
    listing = ListingRefSerializer()
    variants = VariantSerializer(many=True)

    def to_representation(self, instance: Product) -> dict[str, Any]:
        return product_data(instance, self.context["storefront"], self.context["request"])


class ListingSerializer(serializers.Serializer):
    """A product card: the listing with its price range, stock and variants."""

    id = serializers.IntegerField()
    slug = serializers.CharField()
    merchant = serializers.CharField(help_text="The merchant's code.")
    merchant_name = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    category = CategoryRefSerializer(allow_null=True)
    images = ImageSerializer(many=True)
    attributes = AxisSerializer(many=True)
    price_from = PriceSerializer()
    price_to = PriceSerializer()
    availability = AvailabilitySerializer(help_text="Of all the variants together.")
    variants = VariantSerializer(many=True)

    def to_representation(self, instance: Listing) -> dict[str, Any]:
        return listing_data(instance, self.context["storefront"], self.context["request"])


class CategoryNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    children = serializers.ListField(
        child=serializers.DictField(), help_text="Categories of the same shape."
    )


# Rendering -------------------------------------------------------------------


def _category(category: Category | None, shop: Storefront) -> dict[str, Any] | None:
    if category is None:
        return None
    steps = [
        shop.categories[category.path[:end]]
        for end in range(Category.steplen, len(category.path) + 1, Category.steplen)
        if category.path[:end] in shop.categories
    ]
    return {
        "id": category.id,
        "slug": category.slug,
        "name": category.name_in(shop.language),
        "path": [{"slug": c.slug, "name": c.name_in(shop.language)} for c in steps],
    }


def _image(
    image: ListingImage,
    listing: Listing,
    sku_of: dict[int, str],
    shop: Storefront,
    request: Request,
) -> dict[str, Any]:
    return {
        "url": request.build_absolute_uri(image.image.url),
        "thumbnail_url": request.build_absolute_uri(image.thumbnail.url),
        "preview_url": request.build_absolute_uri(image.preview.url),
        "width": image.width,
        "height": image.height,
        "alt": image.text_in("alt", shop.language) or listing.name_in(shop.language),
        "sku": sku_of.get(image.product_id) if image.product_id else None,
    }


def _axes(listing: Listing, variants: list[Product], shop: Storefront) -> list[dict[str, Any]]:
    axes = []
    for code in listing.axes:
        attribute = shop.attributes.get(code)
        labels = {v.value: v for v in attribute.values.all()} if attribute else {}
        values: dict[str, str] = {}
        for variant in variants:
            value = variant.attributes.get(code)
            if value is not None and value not in values:
                label = labels.get(value)
                values[value] = label.name_in(shop.language) if label else value
        axes.append(
            {
                "code": code,
                "name": attribute.name_in(shop.language) if attribute else code,
                "values": [{"value": v, "name": name} for v, name in values.items()],
            }
        )
    return axes


def _variant(product: Product, shop: Storefront) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "attributes": product.attributes,
        "price": shop.price(product.price_cny),
        "availability": shop.availability([product]),
    }


def _listing_common(listing: Listing, shop: Storefront, request: Request) -> dict[str, Any]:
    variants = shop.sorted_variants(listing)
    sku_of = {v.id: v.sku for v in variants}
    return {
        "id": listing.id,
        "slug": listing.slug,
        "name": listing.name_in(shop.language),
        "description": listing.description_in(shop.language),
        "category": _category(listing.category, shop),
        "images": [_image(i, listing, sku_of, shop, request) for i in listing.images.all()],
        "attributes": _axes(listing, variants, shop),
        "variants": [_variant(v, shop) for v in variants],
    }


def product_data(product: Product, shop: Storefront, request: Request) -> dict[str, Any]:
    listing_part = _listing_common(product.listing, shop, request)
    variants = listing_part.pop("variants")
    return {
        "sku": product.sku,
        "name": product.name_in(shop.language),
        "description": product.description_in(shop.language),
        "merchant": product.merchant.code,
        "merchant_name": product.merchant.display_name_in(shop.language),
        "hs_code": product.hs_code,
        "weight_g": product.weight_g,
        "length_mm": product.length_mm,
        "width_mm": product.width_mm,
        "height_mm": product.height_mm,
        "origin_country": product.origin_country,
        "price": shop.price(product.price_cny),
        "availability": shop.availability([product]),
        "attributes": product.attributes,
        "listing": listing_part,
        "variants": variants,
    }


def listing_data(listing: Listing, shop: Storefront, request: Request) -> dict[str, Any]:
    common = _listing_common(listing, shop, request)
    return {
        "id": common.pop("id"),
        "slug": common.pop("slug"),
        "merchant": listing.merchant.code,
        "merchant_name": listing.merchant.display_name_in(shop.language),
        **common,
        "price_from": shop.price(listing.price_min),  # type: ignore[attr-defined]
        "price_to": shop.price(listing.price_max),  # type: ignore[attr-defined]
        "availability": shop.availability(variants_of(listing)),
    }


def category_tree_data(categories: list[Category], language: str) -> list[dict[str, Any]]:
    """Nests the depth-first list treebeard returns."""
    roots: list[dict[str, Any]] = []
    by_path: dict[str, dict[str, Any]] = {}
    for category in categories:
        node = {
            "id": category.id,
            "slug": category.slug,
            "name": category.name_in(language),
            "children": [],
        }
        by_path[category.path] = node
        parent = by_path.get(category.path[: -Category.steplen])
        (parent["children"] if parent else roots).append(node)
    return roots

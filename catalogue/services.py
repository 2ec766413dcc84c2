"""Writes of the catalogue: categories, attributes, listings, their images and
variants. Every write that changes what a product is found by refreshes its
search text here (the admin calls the same functions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from catalogue.models import (
    Attribute,
    AttributeValue,
    Category,
    Listing,
    ListingImage,
    Merchant,
    Product,
)
from catalogue.search import search_text_of
from core.errors import ValidationFailed


@dataclass(frozen=True)
class Names:
    ru: str
    zh: str
    en: str

    def columns(self, field: str = "name") -> dict[str, str]:
        return {f"{field}_ru": self.ru, f"{field}_zh": self.zh, f"{field}_en": self.en}


def _checked(instance: Listing | Product | Attribute | ListingImage) -> None:
    """Model validation as an API error: {"code": "invalid", "fields": ...}."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        raise ValidationFailed(fields=exc.message_dict) from exc


def category_create(*, slug: str, names: Names, parent: Category | None = None) -> Category:
    candidate = Category(slug=slug, path="-", depth=1, **names.columns())
    # The tree fields are treebeard's to fill; check the rest first.
    try:
        candidate.full_clean(exclude=["path", "depth", "numchild"])
    except ValidationError as exc:
        raise ValidationFailed(fields=exc.message_dict) from exc
    create = {"slug": slug, **names.columns()}
    if parent is None:
        category: Category = Category.objects.add_root(create_kwargs=create)
    else:
        category = Category.objects.add_child(parent, create_kwargs=create)
    return category


@dataclass(frozen=True)
class ValueLabel:
    value: str
    names: Names | None = None


def attribute_create(
    *, code: str, names: Names, values: Sequence[ValueLabel] = (), position: int = 0
) -> Attribute:
    with transaction.atomic():
        attribute = Attribute(code=code, position=position, **names.columns())
        _checked(attribute)
        attribute.save()
        AttributeValue.objects.bulk_create(
            AttributeValue(
                attribute=attribute,
                value=label.value,
                position=index,
                **(label.names.columns() if label.names else {}),
            )
            for index, label in enumerate(values)
        )
    return attribute


def listing_create(
    *,
    merchant: Merchant,
    slug: str,
    names: Names,
    descriptions: Names | None = None,
    category: Category | None = None,
    axes: Sequence[str] = (),
) -> Listing:
    listing = Listing(
        merchant=merchant,
        slug=slug,
        category=category,
        axes=list(axes),
        **names.columns(),
        **(descriptions.columns("description") if descriptions else {}),
    )
    _checked(listing)
    listing.save()
    return listing


def product_search_text(product: Product, listing: Listing) -> str:
    return search_text_of(
        [
            product.sku,
            product.name_ru,
            product.name_zh,
            product.name_en,
            listing.name_ru,
            listing.name_zh,
            listing.name_en,
            *(str(v) for v in product.attributes.values()),
        ]
    )


@dataclass(frozen=True)
class Parcelable:
    """What customs and the line-haul need of a SKU."""

    hs_code: str
    weight_g: int
    length_mm: int
    width_mm: int
    height_mm: int
    origin_country: str = "CN"


def product_create(
    *,
    listing: Listing,
    sku: str,
    price_cny: Decimal,
    shipping: Parcelable,
    attributes: Mapping[str, str] | None = None,
    names: Names | None = None,
    descriptions: Names | None = None,
    is_active: bool = True,
) -> Product:
    """A variant of `listing`. Its names default to the listing's."""
    own_names = names or Names(listing.name_ru, listing.name_zh, listing.name_en)
    own_descriptions = descriptions or Names(
        listing.description_ru, listing.description_zh, listing.description_en
    )
    product = Product(
        merchant_id=listing.merchant_id,
        listing=listing,
        sku=sku,
        attributes=dict(attributes or {}),
        price_cny=price_cny,
        hs_code=shipping.hs_code,
        weight_g=shipping.weight_g,
        length_mm=shipping.length_mm,
        width_mm=shipping.width_mm,
        height_mm=shipping.height_mm,
        origin_country=shipping.origin_country,
        is_active=is_active,
        **own_names.columns(),
        **own_descriptions.columns("description"),
    )
    _checked(product)
    product.search_text = product_search_text(product, listing)
    product.save()
    return product


def listing_search_refresh(*, listing_id: int) -> int:
    """Rewrites the search text of the listing's products after an edit of
    the listing or of one of them; returns how many changed."""
    listing = Listing.objects.get(id=listing_id)
    changed = []
    for product in Product.objects.filter(listing_id=listing_id):
        text = product_search_text(product, listing)
        if text != product.search_text:
            product.search_text = text
            changed.append(product)
    Product.objects.bulk_update(changed, ["search_text"])
    return len(changed)


def listing_image_add(
    *,
    listing: Listing,
    image: File,
    alts: Names | None = None,
    position: int = 0,
    product: Product | None = None,
) -> ListingImage:
    """Checks the picture, then stores it (and, as it is saved, its
    thumbnails) in the default storage."""
    if product is not None and product.listing_id != listing.id:
        raise ValidationFailed(fields={"product": [_("This variant is not in the listing.")]})
    row = ListingImage(
        listing=listing,
        product=product,
        position=position,
        **(alts.columns("alt") if alts else {}),
    )
    # Assigning the file reads its dimensions with Pillow: none means no image.
    row.image = image
    if not row.width or not row.height:
        raise ValidationFailed(fields={"image": [_("Upload a JPEG, PNG or WebP picture.")]})
    _checked(row)
    row.save()
    return row

"""The demo storefront: a category tree, attributes, and each of the demo
goods as a listing with two variants and a picture. Idempotent: what exists
is left as it is."""

from __future__ import annotations

from decimal import Decimal

from django.core.files.base import ContentFile
from django.utils.text import slugify

from catalogue.models import Attribute, Category, Listing, Merchant, Product
from catalogue.services import (
    Names,
    Parcelable,
    ValueLabel,
    attribute_create,
    category_create,
    listing_create,
    listing_image_add,
    product_create,
)
from commands import demo_data as data
from commands.demo_pictures import picture


def _categories() -> dict[str, Category]:
    categories: dict[str, Category] = {}
    for slug, ru, zh, en, parent in data.CATEGORIES:
        found = Category.objects.filter(slug=slug).first()
        categories[slug] = found or category_create(
            slug=slug, names=Names(ru, zh, en), parent=categories[parent] if parent else None
        )
    return categories


def _attributes() -> dict[tuple[str, str], Names]:
    """(attribute, value) -> the value's labels."""
    labels: dict[tuple[str, str], Names] = {}
    for position, (code, ru, zh, en, values) in enumerate(data.ATTRIBUTES):
        value_labels = [ValueLabel(v, Names(v_ru, v_zh, v_en)) for v, v_ru, v_zh, v_en in values]
        if not Attribute.objects.filter(code=code).exists():
            attribute_create(
                code=code, names=Names(ru, zh, en), values=value_labels, position=position
            )
        labels.update({(code, v.value): v.names for v in value_labels if v.names})
    return labels


def _variant_names(names: Names, label: Names, value: str) -> Names:
    # A listing's first size keeps the goods' plain name, as the SKUs had before.
    if value == "standard":
        return names
    return Names(
        f"{names.ru} ({label.ru})", f"{names.zh}（{label.zh}）", f"{names.en} ({label.en})"
    )


def _pictures(listing: Listing, category: str, kind: str) -> None:
    if listing.images.exists():
        return
    background, ink = data.PICTURE_COLOURS[category]
    kinds = ["jacket", "jacket-back"] if kind == "jacket" else ["parcel"]
    for position, drawn in enumerate(kinds):
        content = picture(
            title=listing.name_en,
            subtitle=listing.name_ru,
            background=background,
            ink=ink,
            kind=drawn,
        )
        listing_image_add(
            listing=listing,
            image=ContentFile(content, name=f"{listing.slug}-{position + 1}.jpg"),
            alts=Names(listing.name_ru, listing.name_zh, listing.name_en),
            position=position,
        )


def catalogue_seed(merchants: list[Merchant]) -> list[Product]:
    """The demo goods' SKUs, in the order their stock is planned."""
    categories = _categories()
    labels = _attributes()
    products = []
    index = 0
    for item, (ru, zh, en, hs, grams, (length, w, h), price, category) in enumerate(data.PRODUCTS):
        merchant = merchants[item % len(merchants)]
        axis, values = data.VARIANTS_OF.get(en, data.VARIANTS)
        names = Names(ru, zh, en)
        slug = slugify(en)
        listing = Listing.objects.filter(slug=slug).first() or listing_create(
            merchant=merchant,
            slug=slug,
            names=names,
            descriptions=Names(
                f"{ru}. Доставка из Китая.", f"{zh}。从中国发货。", f"{en}. Shipped from China."
            ),
            category=categories[category],
            axes=[axis],
        )
        for value, bigger in values:
            sku = f"{merchant.code.split('-')[0][:3].upper()}-{index + 1:04d}"
            index += 1
            existing = Product.objects.filter(sku=sku).first()
            products.append(
                existing
                or product_create(
                    listing=listing,
                    sku=sku,
                    price_cny=(price * Decimal("1.25") if bigger else price).quantize(
                        Decimal("0.01")
                    ),
                    shipping=Parcelable(
                        hs_code=hs,
                        weight_g=int(grams * (1.4 if bigger else 1)),
                        length_mm=length,
                        width_mm=w,
                        height_mm=int(h * (1.3 if bigger else 1)),
                    ),
                    attributes={axis: value},
                    names=_variant_names(names, labels[(axis, value)], value),
                )
            )
        _pictures(listing, category, "jacket" if category == "outerwear" else "parcel")
    return products

"""Reads of the catalogue for the storefront: products (SKUs) with their
listings and sibling variants, listings, the category tree, search."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import (
    SearchQuery,
    SearchRank,
    SearchVector,
    TrigramWordSimilarity,
)
from django.db import connections
from django.db.models import (
    Exists,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)

from catalogue.models import Attribute, Category, Listing, ListingImage, Product
from catalogue.search import search_fold
from core.errors import NotFound

# The configuration of the full-text index (migration 0006): stems Russian
# words, so that "пуховики" finds "пуховик"; Chinese and partial words are
# left to the trigram index and to the substring match.
SEARCH_CONFIG = "russian"


def _active_variants() -> QuerySet[Product]:
    return Product.objects.filter(is_active=True).order_by("sku")


def _images() -> QuerySet[ListingImage]:
    return ListingImage.objects.order_by("position", "id")


def storefront_products() -> QuerySet[Product]:
    """Active SKUs of active listings, each with its listing, the listing's
    images and its active variants (`listing.active_variants`) at hand."""
    return (
        Product.objects.filter(is_active=True, listing__is_active=True)
        .select_related("merchant", "listing", "listing__category")
        .prefetch_related(
            Prefetch("listing__products", queryset=_active_variants(), to_attr="active_variants"),
            Prefetch("listing__images", queryset=_images()),
        )
    )


def storefront_product_get(*, sku: str) -> Product:
    product = storefront_products().filter(sku=sku).first()
    if product is None:
        raise NotFound()
    return product


def storefront_listings() -> QuerySet[Listing]:
    """Active listings with at least one active variant, with their price range
    in CNY (`price_min`, `price_max`) and variants (`active_variants`)."""
    variants = Product.objects.filter(listing_id=OuterRef("pk"), is_active=True)
    return (
        Listing.objects.filter(is_active=True)
        .filter(Exists(variants))
        .annotate(
            price_min=Subquery(variants.order_by("price_cny").values("price_cny")[:1]),
            price_max=Subquery(variants.order_by("-price_cny").values("price_cny")[:1]),
        )
        .select_related("merchant", "category")
        .prefetch_related(
            Prefetch("products", queryset=_active_variants(), to_attr="active_variants"),
            Prefetch("images", queryset=_images()),
        )
    )


def storefront_listing_get(*, key: str) -> Listing:
    """By id or by slug."""
    listings = storefront_listings()
    listing = (listings.filter(id=int(key)) if key.isdigit() else listings.filter(slug=key)).first()
    if listing is None:
        raise NotFound()
    return listing


def products_search(products: QuerySet[Product], *, text: str) -> QuerySet[Product]:
    """The products whose SKU, names or attribute values match `text`, in any
    case and script, with a `search_rank` (higher is better).

    PostgreSQL ranks: Russian full text (stemmed) plus trigram word
    similarity, which also carries Chinese and misspelt or partial words;
    a plain substring still matches. SQLite matches substrings of the
    folded text and ranks them all alike."""
    needle = search_fold(text)
    if not needle:
        return products.annotate(search_rank=Value(0.0, output_field=FloatField()))
    if connections[products.db].vendor != "postgresql":
        return products.filter(search_text__contains=needle).annotate(
            search_rank=Value(0.0, output_field=FloatField())
        )
    vector = SearchVector("search_text", config=SEARCH_CONFIG)
    query = SearchQuery(needle, config=SEARCH_CONFIG, search_type="websearch")
    return (
        products.alias(search_vector=vector)
        .filter(
            Q(search_vector=query)
            | Q(TrigramWordSimilar(F("search_text"), Value(needle)))
            | Q(search_text__contains=needle)
        )
        .annotate(
            search_rank=SearchRank(vector, query) + TrigramWordSimilarity(needle, "search_text")
        )
    )


def listings_search(listings: QuerySet[Listing], *, text: str) -> QuerySet[Listing]:
    """The listings with a variant that matches `text`, ranked by their best."""
    variants = Product.objects.filter(listing_id=OuterRef("pk"), is_active=True)
    ranked = products_search(variants, text=text).order_by(F("search_rank").desc())
    # The stubs' plugin does not see the annotation products_search adds.
    best = ranked.values("search_rank")[:1]  # type: ignore[misc]
    return listings.annotate(search_rank=Subquery(best)).filter(search_rank__isnull=False)


def category_tree() -> list[Category]:
    """Every category, depth first, parents before their children."""
    return list(Category.objects.get_tree())


def category_by_slug(*, slug: str) -> Category | None:
    return Category.objects.filter(slug=slug).first()


def categories_with_ancestors(categories: Iterable[Category]) -> dict[str, Category]:
    """path -> category for the given categories and all their ancestors, in
    one query: an ancestor's path is a prefix of its descendants'."""
    steplen = Category.steplen
    paths = {c.path[:end] for c in categories for end in range(steplen, len(c.path) + 1, steplen)}
    if not paths:
        return {}
    return {c.path: c for c in Category.objects.filter(path__in=paths)}


def attributes_by_code(*, codes: Iterable[str]) -> dict[str, Attribute]:
    """The attributes named, with their value labels prefetched."""
    wanted = set(codes)
    if not wanted:
        return {}
    rows = Attribute.objects.filter(code__in=wanted).prefetch_related("values")
    return {a.code: a for a in rows}

"""The storefront API: products (SKUs), listings, categories; their filters,
ordering, search, languages and query counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from catalogue.services import Names, Parcelable, listing_create, product_create
from core.cache import reference_caches_clear
from payments.models import ExchangeRate
from tests.conftest import Shop, World
from tests.factories import MerchantFactory, ProductFactory

PRODUCTS = "/api/v1/products/"
LISTINGS = "/api/v1/listings/"


def skus(api: APIClient, query: str = "", **headers: Any) -> list[str]:
    response = api.get(f"{PRODUCTS}?{query}", **headers)
    assert response.status_code == 200, response.json()
    return [item["sku"] for item in response.json()["results"]]


def slugs(api: APIClient, query: str = "") -> list[str]:
    response = api.get(f"{LISTINGS}?{query}")
    assert response.status_code == 200, response.json()
    return [item["slug"] for item in response.json()["results"]]


# Languages ---------------------------------------------------------------------------


def test_catalogue_speaks_the_buyers_language(world: World, api: APIClient) -> None:
    names = {}
    for language in ("ru", "zh-hans", "en"):
        body = api.get(f"{PRODUCTS}?search=TEA", HTTP_ACCEPT_LANGUAGE=language).json()
        names[language] = body["results"][0]["name"]
    product = world.products[0]
    assert names == {"ru": product.name_ru, "zh-hans": product.name_zh, "en": product.name_en}
    default = api.get(f"{PRODUCTS}?search=TEA").json()
    assert default["results"][0]["name"] == product.name_ru


def test_lang_parameter_overrides_accept_language(shop: Shop, api: APIClient) -> None:
    response = api.get("/api/v1/products/JKT-M/?lang=zh-hans", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert response["Content-Language"] == "zh-hans"
    body = response.json()
    assert body["name"] == "女式羽绒服 M"
    assert body["listing"]["name"] == "女式羽绒服"
    assert body["listing"]["category"]["path"] == [
        {"slug": "clothing", "name": "服装"},
        {"slug": "outerwear", "name": "外套"},
    ]
    assert body["listing"]["attributes"][0]["name"] == "尺码"
    assert body["merchant_name"] == "商家"
    assert api.get("/api/v1/products/JKT-M/?lang=zh").json()["name"] == "女式羽绒服 M"
    refused = api.get(f"{PRODUCTS}?lang=de", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400
    assert refused.json() == {
        "code": "invalid",
        "message": "The request is not valid.",
        "fields": {"lang": ["Choose ru, zh-hans or en."]},
    }


def test_merchant_display_name_follows_the_language(shop: Shop, api: APIClient) -> None:
    merchant = shop.jacket.merchant
    merchant.display_name_ru = "Харбинский медведь"
    merchant.display_name_en = "Harbin Bear"
    merchant.save()
    names = {
        lang: api.get(f"/api/v1/listings/down-jacket/?lang={lang}").json()["merchant_name"]
        for lang in ("ru", "zh-hans", "en")
    }
    # No Chinese display name: the legal Chinese name stands in.
    assert names == {"ru": "Харбинский медведь", "zh-hans": "商家", "en": "Harbin Bear"}
    assert api.get("/api/v1/listings/down-jacket/").json()["merchant"] == merchant.code


# Products --------------------------------------------------------------------------


def test_catalogue_prices_in_cny_and_rub_with_availability(world: World, api: APIClient) -> None:
    body = api.get(f"{PRODUCTS}?search=TEA-0001&region=RU-PRI").json()
    item = body["results"][0]
    assert item["price"] == {
        "cny": {"amount": "98.00", "currency": "CNY"},
        "rub": {"amount": "1078.00", "currency": "RUB"},
    }
    # 50 in Harbin and 20 in Suifenhe; Suifenhe reaches Primorye in 2-4 days.
    assert item["availability"] == {
        "in_stock": True,
        "units": 70,
        "fastest_days": 4,
        "delivery_window": {"min_days": 2, "max_days": 4},
    }


def test_product_detail_by_sku_has_its_listing_and_all_variants(shop: Shop, api: APIClient) -> None:
    response = api.get("/api/v1/products/JKT-XL/?region=RU-SVE&lang=en")
    assert response.status_code == 200
    body = response.json()
    images = body["listing"].pop("images")
    assert body == {
        "sku": "JKT-XL",
        "name": "Women's down jacket, XL",
        "description": "A warm down jacket.",
        "merchant": shop.jacket.merchant.code,
        "merchant_name": shop.jacket.merchant.name,
        "hs_code": "620193",
        "weight_g": 1200,
        "length_mm": 450,
        "width_mm": 350,
        "height_mm": 120,
        "origin_country": "CN",
        "price": {
            "cny": {"amount": "499.00", "currency": "CNY"},
            "rub": {"amount": "5489.00", "currency": "RUB"},
        },
        "availability": {
            "in_stock": True,
            "units": 5,
            "fastest_days": 2,
            "delivery_window": {"min_days": 1, "max_days": 2},
        },
        "attributes": {"size": "XL"},
        "listing": {
            "id": shop.jacket.id,
            "slug": "down-jacket",
            "name": "Women's down jacket",
            "description": "A warm down jacket.",
            "category": {
                "id": shop.outerwear.id,
                "slug": "outerwear",
                "name": "Outerwear",
                "path": [
                    {"slug": "clothing", "name": "Clothing"},
                    {"slug": "outerwear", "name": "Outerwear"},
                ],
            },
            "attributes": [
                {
                    "code": "size",
                    "name": "Size",
                    "values": [{"value": "M", "name": "M"}, {"value": "XL", "name": "XL"}],
                }
            ],
        },
        "variants": [
            {
                "sku": "JKT-M",
                "attributes": {"size": "M"},
                "price": {
                    "cny": {"amount": "459.00", "currency": "CNY"},
                    "rub": {"amount": "5049.00", "currency": "RUB"},
                },
                # Harbin's charter reaches Sverdlovsk oblast in 4-7 days.
                "availability": {
                    "in_stock": True,
                    "units": 10,
                    "fastest_days": 7,
                    "delivery_window": {"min_days": 4, "max_days": 7},
                },
            },
            {
                "sku": "JKT-XL",
                "attributes": {"size": "XL"},
                "price": {
                    "cny": {"amount": "499.00", "currency": "CNY"},
                    "rub": {"amount": "5489.00", "currency": "RUB"},
                },
                "availability": {
                    "in_stock": True,
                    "units": 5,
                    "fastest_days": 2,
                    "delivery_window": {"min_days": 1, "max_days": 2},
                },
            },
        ],
    }
    assert [(i["width"], i["height"], i["alt"], i["sku"]) for i in images] == [
        (800, 600, "Women's down jacket", None),
        (600, 800, "Jacket XL", "JKT-XL"),
    ]
    for image in images:
        assert image["url"].startswith("http://testserver/media/catalogue/down-jacket/")
        assert image["thumbnail_url"].startswith("http://testserver/media/CACHE/images/")
        assert image["preview_url"].startswith("http://testserver/media/CACHE/images/")


def test_unknown_or_retired_sku_is_404_in_the_error_shape(shop: Shop, api: APIClient) -> None:
    missing = api.get("/api/v1/products/NOPE-1/")
    assert missing.status_code == 404
    assert missing.json() == {"code": "not_found", "message": "Не найдено.", "fields": {}}
    shop.medium.is_active = False
    shop.medium.save()
    assert api.get("/api/v1/products/JKT-M/").status_code == 404
    # The retired size is no longer offered beside the other.
    sizes = api.get("/api/v1/products/JKT-XL/").json()["variants"]
    assert [v["sku"] for v in sizes] == ["JKT-XL"]


def test_product_list_keeps_its_fields_and_adds_listing_and_variants(
    shop: Shop, api: APIClient
) -> None:
    # PostgreSQL also finds JKT-XL by trigrams, ranked below.
    item = api.get(f"{PRODUCTS}?search=JKT-M").json()["results"][0]
    assert item["sku"] == "JKT-M"
    assert list(item) == [
        "sku",
        "name",
        "description",
        "merchant",
        "merchant_name",
        "hs_code",
        "weight_g",
        "length_mm",
        "width_mm",
        "height_mm",
        "origin_country",
        "price",
        "availability",
        "attributes",
        "listing",
        "variants",
    ]
    assert item["availability"] == {
        "in_stock": True,
        "units": 10,
        "fastest_days": None,
        "delivery_window": None,
    }
    assert [v["sku"] for v in item["variants"]] == ["JKT-M", "JKT-XL"]
    assert len(item["listing"]["images"]) == 2


# Listings and categories --------------------------------------------------------


def test_listings_are_product_cards_with_a_price_range(shop: Shop, api: APIClient) -> None:
    body = api.get(f"{LISTINGS}?region=RU-SVE&lang=ru").json()
    assert body["count"] == 4
    card = next(c for c in body["results"] if c["slug"] == "down-jacket")
    assert card["name"] == "Пуховик женский"
    assert card["price_from"] == {
        "cny": {"amount": "459.00", "currency": "CNY"},
        "rub": {"amount": "5049.00", "currency": "RUB"},
    }
    assert card["price_to"]["cny"] == {"amount": "499.00", "currency": "CNY"}
    # Both sizes together; XL's Yekaterinburg stock is the fastest.
    assert card["availability"] == {
        "in_stock": True,
        "units": 15,
        "fastest_days": 2,
        "delivery_window": {"min_days": 1, "max_days": 2},
    }
    assert [v["sku"] for v in card["variants"]] == ["JKT-M", "JKT-XL"]
    assert card["attributes"] == [
        {
            "code": "size",
            "name": "Размер",
            "values": [{"value": "M", "name": "M"}, {"value": "XL", "name": "XL"}],
        }
    ]


def test_listing_detail_by_id_or_slug(shop: Shop, api: APIClient) -> None:
    by_slug = api.get("/api/v1/listings/down-jacket/")
    by_id = api.get(f"/api/v1/listings/{shop.jacket.id}/")
    assert by_slug.status_code == by_id.status_code == 200
    assert by_slug.json() == by_id.json()
    assert by_slug.json()["id"] == shop.jacket.id
    assert api.get("/api/v1/listings/no-such-thing/").status_code == 404
    assert api.get("/api/v1/listings/999999/").status_code == 404


def test_categories_come_as_a_tree(shop: Shop, api: APIClient) -> None:
    from catalogue.services import category_create

    category_create(slug="tea", names=Names("Чай", "茶叶", "Tea"))
    category_create(slug="footwear", names=Names("Обувь", "鞋靴", "Footwear"), parent=shop.clothing)
    body = api.get("/api/v1/categories/?lang=en").json()
    assert body == [
        {
            "id": shop.clothing.id,
            "slug": "clothing",
            "name": "Clothing",
            "children": [
                {"id": shop.outerwear.id, "slug": "outerwear", "name": "Outerwear", "children": []},
                {
                    "id": body[0]["children"][1]["id"],
                    "slug": "footwear",
                    "name": "Footwear",
                    "children": [],
                },
            ],
        },
        {"id": body[1]["id"], "slug": "tea", "name": "Tea", "children": []},
    ]


# Filters -------------------------------------------------------------------------


def test_catalogue_filters_by_merchant_and_price(world: World, api: APIClient) -> None:
    other = ProductFactory.create(sku="CHEAP-1", price_cny=Decimal("5.00"))
    assert skus(api, f"merchant={other.merchant.code}") == ["CHEAP-1"]
    # min_price and max_price are the CNY filters under their old names.
    assert skus(api, "min_price=90&max_price=400") == ["BOOT-0002", "TEA-0001"]
    assert skus(api, "min_price_cny=90&max_price_cny=400") == ["BOOT-0002", "TEA-0001"]
    refused = api.get(f"{PRODUCTS}?min_price=abc")
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["min_price"]


def test_category_filter_takes_in_the_descendants(shop: Shop, api: APIClient) -> None:
    assert skus(api, "category=clothing") == ["JKT-M", "JKT-XL"]
    assert skus(api, "category=outerwear") == ["JKT-M", "JKT-XL"]
    assert slugs(api, "category=clothing") == ["down-jacket"]
    refused = api.get(f"{PRODUCTS}?category=nothing-here", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400
    assert refused.json()["fields"] == {"category": ["No such category."]}


def test_price_in_roubles_at_the_current_rate(shop: Shop, api: APIClient) -> None:
    # At 11 RUB a yuan: tea 1078, boots 3619, M 5049, XL 5489, phone 14289.
    assert skus(api, "min_price_rub=5049") == ["JKT-M", "JKT-XL", "PHONE-0003"]
    assert skus(api, "min_price_rub=5049.01") == ["JKT-XL", "PHONE-0003"]
    assert skus(api, "max_price_rub=5048.99") == ["BOOT-0002", "TEA-0001"]
    assert skus(api, "min_price_rub=1000&max_price_rub=5049") == ["BOOT-0002", "JKT-M", "TEA-0001"]
    assert slugs(api, "min_price_rub=5400&max_price_rub=6000") == ["down-jacket"]


def test_price_in_roubles_without_a_rate_is_refused(shop: Shop, api: APIClient) -> None:
    ExchangeRate.objects.filter(currency="CNY").delete()
    refused = api.get(f"{PRODUCTS}?min_price_rub=100", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 409
    assert refused.json() == {
        "code": "rate_unavailable",
        "message": "No CNY rate is recorded yet: filter by price in CNY.",
        "fields": {},
    }
    item = api.get(f"{PRODUCTS}?min_price_cny=400").json()["results"][0]
    assert item["price"]["rub"] is None


def test_available_in_a_region_with_the_delivery_window(shop: Shop, api: APIClient) -> None:
    body = api.get(f"{PRODUCTS}?region=RU-MOW&available=true").json()
    # XL is only in Yekaterinburg, whose lane serves Sverdlovsk oblast alone.
    assert [item["sku"] for item in body["results"]] == [
        "BOOT-0002",
        "JKT-M",
        "PHONE-0003",
        "TEA-0001",
    ]
    assert {str(item["availability"]["delivery_window"]) for item in body["results"]} == {
        str({"min_days": 5, "max_days": 12})
    }
    assert skus(api, "region=RU-MOW&available=false") == ["JKT-XL"]
    assert skus(api, "available=true") == ["BOOT-0002", "JKT-M", "JKT-XL", "PHONE-0003", "TEA-0001"]
    # No lane reaches Chukotka.
    assert skus(api, "region=RU-CHU&available=true") == []
    refused = api.get(f"{PRODUCTS}?available=maybe")
    assert refused.status_code == 400 and list(refused.json()["fields"]) == ["available"]


def test_a_listing_matches_only_when_one_variant_meets_every_condition(
    shop: Shop, api: APIClient
) -> None:
    # M (459) is in stock for Moscow but below 470; XL (499) is above but not there.
    assert slugs(api, "min_price_cny=470") == [shop.world.products[2].sku.lower(), "down-jacket"]
    assert "down-jacket" in slugs(api, "region=RU-MOW&available=true")
    assert "down-jacket" not in slugs(api, "min_price_cny=470&region=RU-MOW&available=true")


def test_unknown_region_and_ordering_are_refused(world: World, api: APIClient) -> None:
    region = api.get(f"{PRODUCTS}?region=RU-XXX", HTTP_ACCEPT_LANGUAGE="en")
    assert region.status_code == 400
    assert region.json() == {
        "code": "invalid",
        "message": "The request is not valid.",
        "fields": {"region": ["Use an ISO 3166-2:RU code, e.g. RU-MOW."]},
    }
    ordering = api.get(f"{LISTINGS}?ordering=cheapest", HTTP_ACCEPT_LANGUAGE="en")
    assert ordering.status_code == 400
    assert ordering.json()["code"] == "invalid"
    assert list(ordering.json()["fields"]) == ["ordering"]


def test_ordering_by_price_name_and_newest(shop: Shop, api: APIClient) -> None:
    by_price = ["TEA-0001", "BOOT-0002", "JKT-M", "JKT-XL", "PHONE-0003"]
    assert skus(api, "ordering=price") == by_price
    assert skus(api, "ordering=-price") == by_price[::-1]
    assert skus(api, "ordering=newest")[:2] == ["JKT-M", "JKT-XL"]
    tea, boots, phone = (p.sku.lower() for p in shop.world.products)
    assert slugs(api, "ordering=price") == [tea, boots, "down-jacket", phone]
    assert slugs(api, "ordering=newest") == ["down-jacket", phone, boots, tea]
    by_name_en = api.get(f"{LISTINGS}?ordering=name&lang=en").json()["results"]
    assert [c["name"] for c in by_name_en] == ["Boots", "Phone", "Tea", "Women's down jacket"]
    by_name_ru = api.get(f"{LISTINGS}?ordering=-name&lang=ru").json()["results"]
    assert [c["name"] for c in by_name_ru] == ["Чай", "Телефон", "Пуховик женский", "Ботинки"]


# Search ---------------------------------------------------------------------------


def test_search_ignores_case_in_russian_and_finds_chinese(shop: Shop, api: APIClient) -> None:
    for query in ("Пуховик", "пуховик", "ПУХОВИК", "пУхОвИк жЕнСкИй", "羽绒", "女式羽绒服", "jkt"):
        assert skus(api, f"search={query}") == ["JKT-M", "JKT-XL"], query
        assert slugs(api, f"search={query}") == ["down-jacket"], query
    assert skus(api, "search=футболка") == []


def test_search_reads_yo_as_ye_and_full_width_as_ascii(world: World, api: APIClient) -> None:
    ProductFactory.create(sku="SILK-1", name_ru="Шёлковый платок", name_zh="丝绸围巾")
    ProductFactory.create(sku="USB-1", name_ru="Кабель USB-C", name_zh="USB-C数据线")
    assert skus(api, "search=шелковый") == ["SILK-1"]
    assert skus(api, "search=ШЁЛКОВЫЙ") == ["SILK-1"]
    assert skus(api, "search=ＵＳＢ") == ["USB-1"]


@pytest.mark.postgres
def test_search_on_postgresql_stems_russian_and_ranks(shop: Shop, api: APIClient) -> None:
    cover = listing_create(
        merchant=shop.jacket.merchant,
        slug="jacket-cover",
        names=Names("Чехол для пуховика", "羽绒服防尘罩", "Cover for a down jacket"),
    )
    product_create(
        listing=cover,
        sku="COVER-1",
        price_cny=Decimal("19.00"),
        shipping=Parcelable(
            hs_code="392690", weight_g=90, length_mm=300, width_mm=200, height_mm=10
        ),
    )
    # Stemmed: the plural and another case find the jacket and the cover.
    assert set(skus(api, "search=пуховики")) == {"JKT-M", "JKT-XL", "COVER-1"}
    # The exact word ranks above its genitive, SKU breaks the tie.
    assert skus(api, "search=пуховик") == ["JKT-M", "JKT-XL", "COVER-1"]
    assert slugs(api, "search=пуховик") == ["down-jacket", "jacket-cover"]
    # A misspelt word is still close enough in trigrams (all alike: by SKU).
    assert skus(api, "search=пуховек") == ["COVER-1", "JKT-M", "JKT-XL"]
    # An explicit ordering wins over relevance.
    assert skus(api, "search=пуховик&ordering=price") == ["COVER-1", "JKT-M", "JKT-XL"]


@pytest.mark.postgres
def test_search_on_postgresql_uses_the_gin_indexes(shop: Shop) -> None:
    from catalogue.models import Product
    from catalogue.selectors import products_search

    # A handful of rows is read faster whole: make the planner show what it would use.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = products_search(Product.objects.order_by(), text="пуховик").explain()
    assert "catalogue_product_search_fts" in plan
    assert "catalogue_product_search_trgm" in plan


# Query counts -------------------------------------------------------------------


def _more_listings(shop: Shop, count: int) -> None:
    merchant = MerchantFactory.create(code="more")
    for i in range(count):
        listing = listing_create(
            merchant=merchant,
            slug=f"more-{i}",
            names=Names(f"Ещё {i}", f"更多{i}", f"More {i}"),
            category=shop.outerwear,
            axes=["size"],
        )
        for size in ("S", "L"):
            product_create(
                listing=listing,
                sku=f"MORE-{i}-{size}",
                price_cny=Decimal("10.00"),
                shipping=Parcelable("620193", 100, 100, 100, 100),
                attributes={"size": size},
            )


# count, page, variants, images, stock, attributes, their values, categories, rate, lanes
CATALOGUE_QUERIES = 10


@pytest.mark.parametrize("url", [f"{PRODUCTS}?region=RU-SVE", f"{LISTINGS}?region=RU-SVE"])
def test_catalogue_query_count_is_flat(
    shop: Shop, api: APIClient, url: str, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(CATALOGUE_QUERIES):
        few = api.get(url).json()["count"]
    _more_listings(shop, 6)
    reference_caches_clear()  # count the lanes query both times
    with django_assert_num_queries(CATALOGUE_QUERIES):
        many = api.get(url).json()["count"]
    assert many > few >= 4


def test_filtered_and_searched_lists_cost_no_more(
    shop: Shop, api: APIClient, django_assert_num_queries: Any
) -> None:
    _more_listings(shop, 3)
    query = "search=пуховик&category=clothing&min_price_rub=100&available=true&region=RU-SVE"
    # One more: the category named.
    with django_assert_num_queries(CATALOGUE_QUERIES + 1):
        assert api.get(f"{PRODUCTS}?{query}&ordering=price").json()["count"] == 2
    reference_caches_clear()
    with django_assert_num_queries(CATALOGUE_QUERIES + 1):
        assert api.get(f"{LISTINGS}?{query}").json()["count"] == 1
    with django_assert_num_queries(1):
        assert len(api.get("/api/v1/categories/").json()) == 1

"""The catalogue's rows and writes: variants along a listing's axes, images
and thumbnails, the category tree, the admin, the migration that gave every
SKU a listing, the demo storefront, the S3 setting, and the helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models.signals import post_init, post_save
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from rest_framework.test import APIClient

from catalogue.models import Category, Listing, ListingImage, Product
from catalogue.search import search_fold, search_text_of
from catalogue.services import (
    Names,
    Parcelable,
    listing_create,
    listing_image_add,
    product_create,
)
from commands.catalogue_filters import cny_at_least_for_rub, cny_at_most_for_rub
from core.errors import ValidationFailed
from core.money import money_round
from tests.conftest import Shop, World, jpeg
from tests.factories import MerchantFactory, MerchantStaffFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
SHIPPING = Parcelable(hs_code="620193", weight_g=1200, length_mm=450, width_mm=350, height_mm=120)


# Helpers ----------------------------------------------------------------------------


def test_search_fold_unifies_case_script_forms_and_yo() -> None:
    assert search_fold("  ПУХОВИК  Женский ") == "пуховик женский"
    assert search_fold("Шёлк ЁЛКА") == "шелк елка"
    assert search_fold("ＵＳＢ－Ｃ") == "usb-c"
    assert search_fold("Straße") == "strasse"
    assert search_text_of(["JKT-M", "Пуховик", "пуховик", "", "羽绒服"]) == "jkt-m пуховик 羽绒服"


rates = st.decimals(min_value=Decimal("0.5"), max_value=Decimal("200"), places=4)
roubles = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2)
yuan = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("20000"), places=2)


@given(rate=rates, rub=roubles, cny=yuan)
def test_rouble_bounds_agree_with_the_prices_shown(
    rate: Decimal, rub: Decimal, cny: Decimal
) -> None:
    shown = money_round(cny * rate, "RUB")
    assert (cny >= cny_at_least_for_rub(rub, rate)) == (shown >= rub)
    assert (cny <= cny_at_most_for_rub(rub, rate)) == (shown <= rub)


def test_rouble_bounds_on_an_exact_boundary() -> None:
    # 9.09 CNY at 11.0000 is 99.99 RUB, 9.10 is 100.10.
    assert cny_at_least_for_rub(Decimal("100.00"), Decimal("11.0000")) == Decimal("9.10")
    assert cny_at_most_for_rub(Decimal("99.99"), Decimal("11.0000")) == Decimal("9.09")
    # 0.005 RUB rounds up: 1 CNY at 11.00455 shows as 11.00.
    assert cny_at_least_for_rub(Decimal("11.00"), Decimal("11.00455")) == Decimal("1.00")


# Variants -------------------------------------------------------------------------
# Messages are in Russian, the default language, outside a request.


def test_variants_fit_their_listings_axes_once_each(shop: Shop) -> None:
    with pytest.raises(ValidationFailed) as missing:
        product_create(
            listing=shop.jacket,
            sku="JKT-RED",
            price_cny=Decimal("459.00"),
            shipping=SHIPPING,
            attributes={"colour": "red"},
        )
    assert missing.value.fields == {"attributes": ["Укажите ровно атрибуты карточки: size."]}
    with pytest.raises(ValidationFailed) as twice:
        product_create(
            listing=shop.jacket,
            sku="JKT-M2",
            price_cny=Decimal("459.00"),
            shipping=SHIPPING,
            attributes={"size": " M "},
        )
    assert twice.value.fields == {"__all__": ["В карточке уже есть вариант с такими атрибутами."]}
    large = product_create(
        listing=shop.jacket,
        sku="JKT-L",
        price_cny=Decimal("479.00"),
        shipping=SHIPPING,
        attributes={"size": " L "},
    )
    assert large.attributes == {"size": "L"}
    assert large.merchant_id == shop.jacket.merchant_id
    assert large.name_en == "Women's down jacket"
    assert large.search_text == "jkt-l пуховик женский 女式羽绒服 women's down jacket l"


def test_attribute_keys_are_stored_sorted_so_sqlite_compares_them(world: World) -> None:
    from catalogue.services import attribute_create

    attribute_create(code="size", names=Names("Размер", "尺码", "Size"))
    attribute_create(code="colour", names=Names("Цвет", "颜色", "Colour"))
    listing = listing_create(
        merchant=world.products[0].merchant,
        slug="scarf",
        names=Names("Платок", "围巾", "Scarf"),
        axes=["size", "colour"],
    )
    first = product_create(
        listing=listing,
        sku="SCARF-1",
        price_cny=Decimal("149.00"),
        shipping=SHIPPING,
        attributes={"size": "M", "colour": "red"},
    )
    assert list(first.attributes) == ["colour", "size"]
    with pytest.raises(ValidationFailed):
        product_create(
            listing=listing,
            sku="SCARF-2",
            price_cny=Decimal("149.00"),
            shipping=SHIPPING,
            attributes={"colour": "red", "size": "M"},
        )


def test_a_listing_names_known_attributes_and_a_variant_its_merchant(shop: Shop) -> None:
    with pytest.raises(ValidationFailed) as unknown:
        listing_create(
            merchant=shop.jacket.merchant,
            slug="boots-2",
            names=Names("Ботинки", "靴子", "Boots"),
            axes=["shoe-size"],
        )
    assert unknown.value.fields == {"axes": ["Неизвестные атрибуты: shoe-size."]}
    stranger = MerchantFactory.create(code="stranger")
    product = Product(
        merchant=stranger,
        listing=shop.jacket,
        sku="ODD-1",
        attributes={"size": "S"},
        name_ru="-",
        name_zh="-",
        name_en="-",
        hs_code="620193",
        weight_g=1,
        length_mm=1,
        width_mm=1,
        height_mm=1,
        price_cny=Decimal("1.00"),
    )
    with pytest.raises(Exception, match="другому продавцу"):
        product.full_clean()


# Images -----------------------------------------------------------------------------


def _size(name: str) -> tuple[int, int]:
    with default_storage.open(name) as stored:
        return Image.open(stored).size


def test_images_are_stored_with_their_thumbnails(shop: Shop) -> None:
    wide, tall = shop.jacket.images.order_by("position")
    assert (wide.width, wide.height, tall.width, tall.height) == (800, 600, 600, 800)
    assert str(wide.image.name).startswith("catalogue/down-jacket/picture")
    assert default_storage.exists(str(wide.image.name))
    for image in (wide, tall):
        # Made when the image was saved, not when first asked for.
        assert default_storage.exists(image.thumbnail.name)
        assert _size(image.thumbnail.name) == (320, 320)
    assert _size(wide.preview.name) == (800, 600)
    big = listing_image_add(listing=shop.jacket, image=jpeg(2048, 1024), position=2)
    assert _size(big.preview.name) == (1024, 512)
    assert big.thumbnail.url.startswith("/media/CACHE/images/catalogue/down-jacket/")


def test_only_models_with_image_sources_pay_imagekits_signals() -> None:
    from django.apps import apps

    def listened(signal: Any) -> set[str]:
        return {model._meta.label for model in apps.get_models() if signal.has_listeners(model)}

    assert listened(post_init) == {"catalogue.ListingImage"}
    assert listened(post_save) == {"catalogue.ListingImage", "axes.AccessAttempt"}  # axes' own


def test_a_png_with_transparency_gets_jpeg_thumbnails(shop: Shop) -> None:
    out = BytesIO()
    Image.new("RGBA", (400, 400), (200, 0, 0, 0)).save(out, "PNG")
    image = listing_image_add(listing=shop.jacket, image=ContentFile(out.getvalue(), name="a.png"))
    with default_storage.open(image.thumbnail.name) as stored:
        thumb = Image.open(stored)
        assert (thumb.format, thumb.size) == ("JPEG", (320, 320))


def test_what_is_not_a_picture_is_refused(shop: Shop) -> None:
    with pytest.raises(ValidationFailed) as text:
        listing_image_add(listing=shop.jacket, image=ContentFile(b"hello", name="a.jpg"))
    assert text.value.fields == {"image": ["Загрузите изображение JPEG, PNG или WebP."]}
    gif = BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    with pytest.raises(ValidationFailed) as wrong_kind:
        listing_image_add(listing=shop.jacket, image=ContentFile(gif.getvalue(), name="a.gif"))
    assert list(wrong_kind.value.fields) == ["image"]
    other = listing_create(
        merchant=shop.jacket.merchant, slug="other", names=Names("Другое", "其他", "Other")
    )
    with pytest.raises(ValidationFailed) as elsewhere:
        listing_image_add(listing=other, image=jpeg(), product=shop.medium)
    assert elsewhere.value.fields == {"product": ["Этого варианта нет в карточке."]}
    assert ListingImage.objects.filter(listing=other).count() == 0


# The admin ---------------------------------------------------------------------------


def _operator() -> Client:
    client = Client()
    client.force_login(
        UserFactory.create(email="root@amur.example", is_staff=True, is_superuser=True)
    )
    return client


def test_operator_builds_the_category_tree_in_the_admin(shop: Shop) -> None:
    client = _operator()
    base = {"name_ru": "Обувь", "name_zh": "鞋靴", "name_en": "Footwear", "slug": "footwear"}
    added = client.post(
        "/admin/catalogue/category/add/",
        {**base, "treebeard_position": "first-child", "treebeard_ref_node": shop.clothing.id},
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    footwear = Category.objects.get(slug="footwear")
    assert Category.objects.get_parent(footwear) == shop.clothing
    # Moving a branch takes its listings' categories along: outerwear under footwear.
    moved = client.post(
        f"/admin/catalogue/category/{shop.outerwear.id}/change/",
        {
            "name_ru": "Верхняя одежда",
            "name_zh": "外套",
            "name_en": "Outerwear",
            "slug": "outerwear",
            "treebeard_position": "first-child",
            "treebeard_ref_node": footwear.id,
        },
    )
    assert moved.status_code == 302
    api = APIClient()
    assert [c["slug"] for c in api.get("/api/v1/categories/").json()[0]["children"]] == ["footwear"]
    skus = [p["sku"] for p in api.get("/api/v1/products/?category=footwear").json()["results"]]
    assert skus == ["JKT-M", "JKT-XL"]
    assert client.get("/admin/catalogue/category/").status_code == 200


def _listing_form(merchant_id: int, image: Any) -> dict[str, Any]:
    variant = {
        "is_active": "on",
        "price_cny": "329.00",
        "hs_code": "640391",
        "origin_country": "CN",
        "weight_g": "1500",
        "length_mm": "350",
        "width_mm": "250",
        "height_mm": "150",
    }
    form: dict[str, Any] = {
        "merchant": str(merchant_id),
        "slug": "winter-boots",
        "name_ru": "Зимние ботинки",
        "name_zh": "冬季靴子",
        "name_en": "Winter boots",
        "axes": ["size"],
        "is_active": "on",
        "images-TOTAL_FORMS": "1",
        "images-INITIAL_FORMS": "0",
        "images-0-image": image,
        "images-0-position": "0",
        "images-0-alt_ru": "Ботинки",
        "products-TOTAL_FORMS": "2",
        "products-INITIAL_FORMS": "0",
    }
    for index, (sku, size) in enumerate([("BOOTS-39", "S"), ("BOOTS-43", "XL")]):
        form.update({f"products-{index}-{k}": v for k, v in variant.items()})
        form.update(
            {
                f"products-{index}-sku": sku,
                f"products-{index}-attributes": f'{{"size": "{size}"}}',
                f"products-{index}-name_ru": f"Зимние ботинки {size}",
                f"products-{index}-name_zh": f"冬季靴子 {size}",
                f"products-{index}-name_en": f"Winter boots {size}",
            }
        )
    return form


def test_merchant_staff_add_a_listing_with_a_picture_and_variants(shop: Shop) -> None:
    merchant = shop.jacket.merchant
    staff = MerchantStaffFactory.create(merchant=merchant).user
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="catalogue",
            codename__in=[
                "view_listing",
                "add_listing",
                "change_listing",
                "view_product",
                "add_product",
                "change_product",
                "view_listingimage",
                "add_listingimage",
                "change_listingimage",
            ],
        )
    )
    client = Client()
    client.force_login(staff)
    response = client.post("/admin/catalogue/listing/add/", _listing_form(merchant.id, jpeg()))
    assert response.status_code == 302, response.content.decode()[:3000]
    boots = Listing.objects.get(slug="winter-boots")
    assert boots.axes == ["size"]
    assert sorted(p.sku for p in boots.products.all()) == ["BOOTS-39", "BOOTS-43"]
    assert {p.merchant_id for p in boots.products.all()} == {merchant.id}
    image = boots.images.get()
    assert default_storage.exists(image.thumbnail.name)
    api = APIClient()
    found = api.get("/api/v1/products/?search=зимние").json()["results"]
    assert [p["sku"] for p in found] == ["BOOTS-39", "BOOTS-43"]
    # A rename in the admin reaches the search at once.
    form = client.get(f"/admin/catalogue/listing/{boots.id}/change/")
    assert form.status_code == 200
    Listing.objects.filter(id=boots.id).update(name_ru="Валенки")
    product_admin = client.post(
        f"/admin/catalogue/product/{boots.products.get(sku='BOOTS-39').id}/change/",
        {
            "merchant": merchant.id,
            "listing": boots.id,
            "sku": "BOOTS-39",
            "attributes": '{"size": "S"}',
            "name_ru": "Валенки S",
            "name_zh": "毡靴 S",
            "name_en": "Felt boots S",
            "hs_code": "640391",
            "weight_g": 1500,
            "length_mm": 350,
            "width_mm": 250,
            "height_mm": 150,
            "price_cny": "329.00",
            "origin_country": "CN",
            "is_active": "on",
        },
    )
    assert product_admin.status_code == 302, product_admin.content.decode()[:3000]
    assert [p["sku"] for p in api.get("/api/v1/products/?search=валенки").json()["results"]] == [
        "BOOTS-39",
        "BOOTS-43",
    ]
    # Another merchant's staff see neither the listing nor its change page.
    stranger = MerchantStaffFactory.create(merchant=MerchantFactory.create(code="else")).user
    stranger.user_permissions.add(*Permission.objects.filter(codename="view_listing"))
    other = Client()
    other.force_login(stranger)
    assert "winter-boots" not in other.get("/admin/catalogue/listing/").content.decode()
    assert other.get(f"/admin/catalogue/listing/{boots.id}/change/").status_code == 302


def test_a_variant_that_does_not_fit_is_refused_in_the_admin(shop: Shop) -> None:
    form = _listing_form(shop.jacket.merchant_id, jpeg())
    form["products-1-attributes"] = '{"colour": "black"}'
    response = _operator().post("/admin/catalogue/listing/add/", form, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Give exactly the listing&#x27;s attributes: size." in response.content.decode()
    assert not Listing.objects.filter(slug="winter-boots").exists()
    form["products-1-attributes"] = '{"size": "S"}'
    twice = _operator().post("/admin/catalogue/listing/add/", form, HTTP_ACCEPT_LANGUAGE="en")
    assert twice.status_code == 200
    assert "Please correct the duplicate data for attributes" in twice.content.decode()
    assert not Product.objects.filter(sku__startswith="BOOTS-").exists()


# The migration ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_every_product_a_listing_of_its_own() -> None:
    before = [("catalogue", "0002_tables_and_content_types")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    merchant = old.get_model("catalogue", "Merchant").objects.create(
        code="old", name="Old Merchant", name_zh="老商家"
    )
    old.get_model("catalogue", "Product").objects.create(
        merchant=merchant,
        sku="OLD-0001",
        name_ru="Пуховик",
        name_zh="羽绒服",
        name_en="Down jacket",
        description_ru="Тёплый.",
        hs_code="620193",
        weight_g=1000,
        length_mm=1,
        width_mm=1,
        height_mm=1,
        price_cny=Decimal("100.00"),
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    product = Product.objects.select_related("listing", "merchant").get(sku="OLD-0001")
    assert (product.listing.slug, product.listing.name_ru, product.listing.axes) == (
        "old-0001",
        "Пуховик",
        [],
    )
    assert product.listing.description_ru == "Тёплый."
    assert product.listing.merchant_id == merchant.id
    assert product.attributes == {}
    assert product.search_text == "old-0001 пуховик 羽绒服 down jacket"
    assert product.merchant.display_name_in("en") == "Old Merchant"
    assert product.merchant.display_name_in("zh-hans") == "老商家"
    assert product.merchant.display_name_in("ru") == "Old Merchant"


# The demo ----------------------------------------------------------------------------


def test_the_demo_has_a_jacket_in_two_sizes_with_pictures(db: Any) -> None:
    from commands.demo import demo_seed

    demo_seed()
    api = APIClient()
    body = api.get("/api/v1/products/HAR-0001/?lang=ru&region=RU-MOW").json()
    assert body["listing"]["name"] == "Пуховик женский"
    assert body["merchant_name"] == "Харбинский медведь"
    assert body["listing"]["category"]["path"] == [
        {"slug": "clothing", "name": "Одежда и обувь"},
        {"slug": "outerwear", "name": "Верхняя одежда"},
    ]
    assert [(v["sku"], v["attributes"]) for v in body["variants"]] == [
        ("HAR-0001", {"size": "M"}),
        ("HAR-0002", {"size": "XL"}),
    ]
    assert len(body["listing"]["images"]) == 2
    media = "http://testserver/media/"
    for image in body["listing"]["images"]:
        for url in (image["url"], image["thumbnail_url"], image["preview_url"]):
            assert default_storage.exists(url.removeprefix(media)), url
    # Served where no bucket or web server is in front (SERVE_MEDIA).
    thumbnail = api.get(
        body["listing"]["images"][0]["thumbnail_url"].removeprefix("http://testserver")
    )
    assert thumbnail.status_code == 200
    assert Image.open(BytesIO(b"".join(thumbnail.streaming_content))).size == (320, 320)  # type: ignore[attr-defined]
    cards = api.get("/api/v1/listings/?category=clothing&lang=en").json()
    assert cards["count"] == 4
    tree = api.get("/api/v1/categories/?lang=en").json()
    assert [c["slug"] for c in tree][:2] == ["clothing", "electronics"]


# Storage settings ------------------------------------------------------------------


def test_an_s3_bucket_takes_the_files_when_configured() -> None:
    code = (
        "import django; django.setup()\n"
        "from django.core.files.storage import default_storage as s\n"
        "url = s.url('catalogue/a.jpg')\n"
        "print(type(s._wrapped).__module__, s.bucket_name, url)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="ecommerce.settings",
        AWS_STORAGE_BUCKET_NAME="amur-media",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:9000",
        AWS_S3_CUSTOM_DOMAIN="media.amur.example",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [
        "storages.backends.s3",
        "amur-media",
        "https://media.amur.example/catalogue/a.jpg",
    ]

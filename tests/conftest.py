from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import TestCase
from rest_framework.test import APIClient

from accounts.models import Buyer
from catalogue.models import Category, Listing, Product
from risk.models import RiskRule
from shipping.customs.services import duty_rules_seed
from shipping.linehaul.models import Departure, Lane
from tests.factories import (
    BuyerFactory,
    CourierFactory,
    DepartureFactory,
    LaneFactory,
    LaneRegionFactory,
    ProductFactory,
    WarehouseFactory,
    rates_today,
    token_for,
)
from warehouses.models import Warehouse
from warehouses.services import stock_receive

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_configure(config: pytest.Config) -> None:
    # The production hasher (PBKDF2, a million rounds) is slow on purpose: it
    # cost about 0.2 s per factory-made user, most of each test's setup. The
    # tests check who may log in, not how hard a stolen hash is to crack.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Catalogue images and thumbnails go to a directory of this run, never to var/.
    media = tempfile.mkdtemp(prefix="amur-test-media-")
    atexit.register(shutil.rmtree, media, ignore_errors=True)
    settings.MEDIA_ROOT = media


def _services_missing(marker: str) -> str | None:
    if connection.vendor != "postgresql":
        return "needs PostgreSQL (set DATABASE_URL)"
    if marker == "services" and not settings.REDIS_URL:
        return "needs Redis (set REDIS_URL)"
    return None


@pytest.fixture(autouse=True)
def _service_gate(request: pytest.FixtureRequest) -> None:
    for marker in ("services", "postgres"):
        if request.node.get_closest_marker(marker):
            missing = _services_missing(marker)
            if missing and REQUIRE_SERVICES:
                pytest.fail(f"REQUIRE_SERVICES=1 but this test {missing}")
            if missing:
                pytest.skip(missing)


@pytest.fixture(autouse=True)
def _fresh_reference_data() -> Any:
    from core.cache import reference_caches_clear

    reference_caches_clear()
    yield
    reference_caches_clear()


@pytest.fixture(autouse=True)
def _tasks_in_process(request: pytest.FixtureRequest) -> Any:
    """Tasks run in the test's process, after commit, unless a test needs the
    real broker and worker (marked services)."""
    from ecommerce.celery import app

    eager = request.node.get_closest_marker("services") is None
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = eager
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _locmem_email(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


SCANS_URL = "/api/v1/courier/scans/"


def scans_post(client: APIClient, body: Any, **extra: Any) -> Any:
    """POST a courier batch, then run what its commit sets off (applying the
    scans to their parcels), as the worker does after the request."""
    extra.setdefault("format", "json")
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(SCANS_URL, body, **extra)


@dataclass
class World:
    hrb: Warehouse
    sfh: Warehouse
    svx: Warehouse
    air: Lane
    road: Lane
    local: Lane
    products: list[Product]
    buyer: Buyer
    other_buyer: Buyer
    flight: Departure

    def address(self, region: str = "RU-SVE") -> dict[str, str]:
        return {
            "recipient_name": "Иван Петров",
            "recipient_phone": "+79221234567",
            "region": region,
            "city": "Екатеринбург",
            "postcode": "620014",
            "street": "ул. Малышева, 51",
        }

    def order_body(
        self, *lines: tuple[str, int], region: str = "RU-SVE", method: str = "card"
    ) -> dict[str, Any]:
        return {
            "lines": [{"sku": sku, "quantity": q} for sku, q in lines],
            "shipping_address": self.address(region),
            "payment_method": method,
        }


@pytest.fixture
def world(db: Any) -> World:
    """A small operator: Harbin (air to Yekaterinburg), Suifenhe (road to
    Vladivostok), Yekaterinburg overseas (local); three products in stock."""
    hrb = WarehouseFactory.create(code="HRB", kind="domestic", city="Harbin", country="CN")
    sfh = WarehouseFactory.create(code="SFH", kind="border", city="Suifenhe", country="CN")
    svx = WarehouseFactory.create(code="SVX", kind="overseas", city="Yekaterinburg", country="RU")
    air = LaneFactory.create(code="HRB-SVX-AIR", origin=hrb)
    road = LaneFactory.create(
        code="SFH-VVO-ROAD",
        origin=sfh,
        origin_hub="SFH",
        destination_hub="VVO",
        mode="road",
        base_fee_cny=Decimal("15.00"),
        per_100g_cny=Decimal("2.00"),
    )
    local = LaneFactory.create(
        code="SVX-LOCAL-ROAD",
        origin=svx,
        origin_hub="SVX",
        destination_hub="SVX",
        mode="road",
        crosses_border=False,
        base_fee_cny=Decimal("10.00"),
        per_100g_cny=Decimal("1.00"),
    )
    for region, (low, high) in {"RU-SVE": (4, 7), "RU-PRI": (6, 10), "RU-MOW": (5, 12)}.items():
        LaneRegionFactory.create(lane=air, region=region, min_days=low, max_days=high)
    LaneRegionFactory.create(lane=road, region="RU-PRI", min_days=2, max_days=4)
    LaneRegionFactory.create(lane=local, region="RU-SVE", min_days=1, max_days=2)
    products = [
        ProductFactory.create(sku="TEA-0001", price_cny=Decimal("98.00"), weight_g=300),
        ProductFactory.create(sku="BOOT-0002", price_cny=Decimal("329.00"), weight_g=1500),
        ProductFactory.create(sku="PHONE-0003", price_cny=Decimal("1299.00"), weight_g=420),
    ]
    for product in products:
        stock_receive(warehouse_id=hrb.id, product_id=product.id, quantity=50)
    stock_receive(warehouse_id=sfh.id, product_id=products[0].id, quantity=20)
    rates_today()
    # Shipped by data migrations; transactional tests truncate them away.
    duty_rules_seed()
    flight = DepartureFactory.create(lane=air)
    # The risk rules (shipped active by a data migration) are tested in
    # test_risk.py, whose `rules` fixture turns them back on; elsewhere a big
    # order or a sixth order in an hour must not wait for staff review.
    RiskRule.objects.update(is_active=False)
    return World(
        hrb=hrb,
        sfh=sfh,
        svx=svx,
        air=air,
        road=road,
        local=local,
        products=products,
        buyer=BuyerFactory.create(),
        other_buyer=BuyerFactory.create(),
        flight=flight,
    )


@pytest.fixture
def courier(world: World) -> Any:
    courier = CourierFactory.create(regions=["RU-SVE"])
    courier.lanes.add(world.air)
    return courier


@dataclass
class Shop:
    """The world's three SKUs (each the only variant of its listing, as the
    migration made them) and a down jacket in two sizes with two pictures,
    in a category tree."""

    world: World
    clothing: Category
    outerwear: Category
    jacket: Listing
    medium: Product
    extra_large: Product


def jpeg(width: int = 800, height: int = 600, colour: tuple[int, int, int] = (30, 41, 59)) -> Any:
    from io import BytesIO

    from django.core.files.base import ContentFile
    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG")
    return ContentFile(out.getvalue(), name="picture.jpg")


@pytest.fixture
def shop(world: World) -> Shop:
    from catalogue.services import (
        Names,
        Parcelable,
        ValueLabel,
        attribute_create,
        category_create,
        listing_create,
        listing_image_add,
        listing_search_refresh,
        product_create,
    )

    for product, (ru, zh, en) in zip(
        world.products,
        [("Чай", "茶", "Tea"), ("Ботинки", "靴子", "Boots"), ("Телефон", "手机", "Phone")],
        strict=True,
    ):
        Listing.objects.filter(id=product.listing_id).update(name_ru=ru, name_zh=zh, name_en=en)
        listing_search_refresh(listing_id=product.listing_id)
    attribute_create(
        code="size",
        names=Names("Размер", "尺码", "Size"),
        values=[ValueLabel("S"), ValueLabel("M"), ValueLabel("L"), ValueLabel("XL")],
    )
    clothing = category_create(slug="clothing", names=Names("Одежда", "服装", "Clothing"))
    outerwear = category_create(
        slug="outerwear", names=Names("Верхняя одежда", "外套", "Outerwear"), parent=clothing
    )
    jacket = listing_create(
        merchant=world.products[0].merchant,
        slug="down-jacket",
        names=Names("Пуховик женский", "女式羽绒服", "Women's down jacket"),
        descriptions=Names("Тёплый пуховик.", "保暖羽绒服。", "A warm down jacket."),
        category=outerwear,
        axes=["size"],
    )
    shipping = Parcelable(
        hs_code="620193", weight_g=1200, length_mm=450, width_mm=350, height_mm=120
    )
    # Created XL first: the API lists variants in size-chart order, not by id.
    extra_large = product_create(
        listing=jacket,
        sku="JKT-XL",
        price_cny=Decimal("499.00"),
        shipping=shipping,
        attributes={"size": "XL"},
        names=Names("Пуховик женский, XL", "女式羽绒服 XL", "Women's down jacket, XL"),
    )
    medium = product_create(
        listing=jacket,
        sku="JKT-M",
        price_cny=Decimal("459.00"),
        shipping=shipping,
        attributes={"size": "M"},
        names=Names("Пуховик женский, M", "女式羽绒服 M", "Women's down jacket, M"),
    )
    listing_image_add(listing=jacket, image=jpeg(), position=0)
    listing_image_add(
        listing=jacket,
        image=jpeg(600, 800, (120, 20, 20)),
        position=1,
        product=extra_large,
        alts=Names("Пуховик XL", "羽绒服 XL", "Jacket XL"),
    )
    stock_receive(warehouse_id=world.hrb.id, product_id=medium.id, quantity=10)
    # XL only in Yekaterinburg, which delivers to Sverdlovsk oblast alone.
    stock_receive(warehouse_id=world.svx.id, product_id=extra_large.id, quantity=5)
    return Shop(world, clothing, outerwear, jacket, medium, extra_large)


def one_merchant(world: World) -> None:
    """Give every product of the world the first one's merchant. An order is
    fulfilled one merchant's part at a time, so only one merchant's goods
    share a parcel: for tests of a parcel holding several goods."""
    merchant_id = world.products[0].merchant_id
    Product.objects.filter(id__in=[p.id for p in world.products]).update(merchant_id=merchant_id)
    for product in world.products:
        product.merchant_id = merchant_id

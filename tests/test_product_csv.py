"""Products out and in as CSV through the admin (django-import-export): a
merchant's staff export their own SKUs only, and import into their own
merchant only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import tablib
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory

from catalogue.admin import ProductAdmin
from catalogue.models import Product
from catalogue.resources import COLUMNS, ProductResource
from tests.factories import ListingFactory, MerchantStaffFactory, ProductFactory


@pytest.fixture
def two_shops(db: Any) -> dict[str, Any]:
    staff_a = MerchantStaffFactory.create(merchant__code="shop-a")
    staff_b = MerchantStaffFactory.create(merchant__code="shop-b")
    for staff in (staff_a, staff_b):
        staff.user.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="catalogue",
                codename__in=["view_product", "change_product", "add_product"],
            )
        )
    listing_a = ListingFactory(merchant=staff_a.merchant, slug="a-card")
    ListingFactory(merchant=staff_a.merchant, slug="a-card-2")
    ProductFactory(sku="AAA-0001", merchant=staff_a.merchant, listing=listing_a)
    ProductFactory(sku="BBB-0001", merchant=staff_b.merchant)
    return {"a": staff_a, "b": staff_b, "listing_a": listing_a}


def _resource(user: Any) -> ProductResource:
    request = RequestFactory().get("/admin/catalogue/product/")
    request.user = user
    return ProductResource(request=request)


def test_export_holds_only_the_merchants_own_products(two_shops: dict[str, Any]) -> None:
    client = Client()
    client.force_login(two_shops["a"].user)
    page = client.get("/admin/catalogue/product/export/")
    assert page.status_code == 200
    # The export queryset is the change list's: scoped to the viewer.
    request = RequestFactory().get("/admin/catalogue/product/")
    request.user = two_shops["a"].user
    model_admin = ProductAdmin(Product, admin.site)
    data = _resource(two_shops["a"].user).export(model_admin.get_export_queryset(request))
    assert data.headers == list(COLUMNS)
    assert [row[0] for row in data] == ["AAA-0001"]
    assert "BBB-0001" not in data.csv


def test_import_updates_and_creates_the_merchants_products(two_shops: dict[str, Any]) -> None:
    rows = tablib.Dataset(headers=list(COLUMNS))
    base = ["Ру", "中", "En", "10.00", "610910", "CN", "300", "10", "10", "10", "1"]
    # merchant says shop-b: ignored, the row is shop-a's.
    rows.append(["AAA-0001", "shop-b", "a-card", *base[:3], "12.50", *base[4:]])
    rows.append(["AAA-0002", "", "a-card-2", *base])
    result = _resource(two_shops["a"].user).import_data(rows, dry_run=False)
    assert [r.error_dict for r in result.invalid_rows] == []
    assert not result.has_errors()
    updated = Product.objects.get(sku="AAA-0001")
    assert updated.price_cny == Decimal("12.50")
    assert updated.merchant == two_shops["a"].merchant
    created = Product.objects.get(sku="AAA-0002")
    assert created.merchant == two_shops["a"].merchant
    assert created.listing.slug == "a-card-2"
    assert "en" in created.search_text.lower()


def test_import_refuses_another_merchants_sku(two_shops: dict[str, Any]) -> None:
    rows = tablib.Dataset(headers=list(COLUMNS))
    rows.append(
        [
            "BBB-0001",
            "",
            "a-card",
            "Ру",
            "中",
            "En",
            "1.00",
            "610910",
            "CN",
            "300",
            "10",
            "10",
            "10",
            "1",
        ]
    )
    result = _resource(two_shops["a"].user).import_data(rows, dry_run=False)
    assert result.has_errors() or result.has_validation_errors()
    other = Product.objects.get(sku="BBB-0001")
    assert other.merchant == two_shops["b"].merchant
    assert other.price_cny != Decimal("1.00")


def test_import_page_is_in_the_merchants_language(two_shops: dict[str, Any]) -> None:
    client = Client()
    client.force_login(two_shops["a"].user)
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/admin/catalogue/product/import/")
    assert page.status_code == 200
    assert "导入" in page.content.decode()

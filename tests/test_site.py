"""Health, API schema and docs, admin pages, merchant scoping, demo data."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from catalogue.models import Merchant, Product
from commands.place import order_place
from commands.quote import LineRequest
from orders.models import Order
from orders.services import Address
from payments.models import SettlementStatement
from shipping.fulfilment.models import Parcel
from shipping.linehaul.models import Departure, Lane
from tests.conftest import World
from tests.factories import MerchantFactory, MerchantStaffFactory, ProductFactory, UserFactory
from warehouses.models import StockLevel, Warehouse


def test_openapi_schema_is_valid_and_covers_the_api(db: Any, client: Client) -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    paths = set(schema["paths"])
    assert {
        "/api/v1/auth/register/",
        "/api/v1/auth/token/",
        "/api/v1/account/recipient-identity/",
        "/api/v1/products/",
        "/api/v1/checkout/quote/",
        "/api/v1/orders/",
        "/api/v1/orders/{number}/",
        "/api/v1/orders/{number}/pay/",
        "/api/v1/orders/{number}/cancel/",
        "/api/v1/orders/{number}/events/",
        "/api/v1/orders/{number}/recipient-identity/",
        "/api/v1/tracking/{tracking_number}/",
        "/api/v1/courier/scans/",
        "/api/v1/webhooks/",
        "/api/v1/ops/orders/{number}/pack/",
        "/api/v1/ops/lanes/{code}/plan/",
        "/api/v1/ops/departures/{departure_id}/status/",
    } <= paths
    create = schema["paths"]["/api/v1/orders/"]["post"]
    assert set(create["responses"]) >= {"201", "400", "409", "422"}
    assert client.get("/api/schema/").status_code == 200


def test_api_docs_are_served_without_a_cdn(db: Any, client: Client) -> None:
    response = client.get("/api/docs/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html


def test_every_admin_page_loads_for_operator_staff(world: World) -> None:
    superuser = UserFactory.create(email="root@amur.example", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(superuser)
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert client.get(changelist).status_code == 200, changelist
        if model_admin.has_add_permission(_request(superuser)):
            add = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
            assert client.get(add).status_code == 200, add


def _request(user: Any) -> Any:
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_merchant_staff_see_only_their_merchant(world: World) -> None:
    mine = MerchantFactory.create(code="mine")
    theirs = MerchantFactory.create(code="theirs")
    ProductFactory.create(sku="MINE-1", merchant=mine)
    ProductFactory.create(sku="THEIRS-1", merchant=theirs)
    staff = MerchantStaffFactory.create(merchant=mine).user
    staff.user_permissions.add(*_perms("view_product", "view_order", "view_stocklevel"))
    client = Client()
    client.force_login(staff)
    products = client.get("/admin/catalogue/product/").content.decode()
    assert "MINE-1" in products and "THEIRS-1" not in products
    theirs_product = Product.objects.get(sku="THEIRS-1")
    assert client.get(f"/admin/catalogue/product/{theirs_product.id}/change/").status_code == 302
    # Whole orders are the operator's; a merchant has its fulfilment orders.
    assert client.get("/admin/orders/order/").status_code == 403
    assert client.get("/admin/shipping/fulfilmentorder/").status_code == 200


def _perms(*codenames: str) -> list[Any]:
    from django.contrib.auth.models import Permission

    return list(Permission.objects.filter(codename__in=codenames))


def test_merchant_staff_see_fulfilment_orders_of_their_goods_only(world: World) -> None:
    merchant = world.products[0].merchant
    staff = MerchantStaffFactory.create(merchant=merchant).user
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 1)],
        address=Address(**world.address()),
        payment_method="card",
    )
    stranger = MerchantStaffFactory.create(merchant=MerchantFactory.create(code="stranger")).user
    for user, visible in ((staff, True), (stranger, False)):
        client = Client()
        client.force_login(user)
        page = client.get("/admin/shipping/fulfilmentorder/").content.decode()
        assert (f"{order.number}-1" in page) is visible


def test_tracking_page_renders_in_the_browsers_language(world: World, client: Client) -> None:
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("TEA-0001", 1)],
        address=Address(**world.address()),
        payment_method="cod",
    )
    from commands.pack import order_pack

    parcel = order_pack(order_id=order.id)[0]
    page = client.get(f"/track/{parcel.tracking_number}", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert parcel.tracking_number in page.content.decode()
    assert "Information received" in page.content.decode()
    assert client.get("/track/RR000000000CN").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_seed_demo_is_idempotent_and_believable() -> None:
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first
    assert first["merchants"] == 3
    assert first["products"] == 50
    assert first["warehouses"] == 4
    assert first["lanes"] == 5
    assert first["departures"] >= 14 * 3
    # A living shop: every status that lasts, for every merchant (held for
    # review: the one large order), mixed orders, every lane carrying parcels,
    # and last week settled.
    for merchant in Merchant.objects.all():
        statuses = set(
            Order.objects.filter(lines__merchant=merchant).values_list("status", flat=True)
        )
        assert statuses >= {
            "pending_payment",
            "allocated",
            "packed",
            "in_transit",
            "delivered",
            "cancelled",
        }, merchant.code
        statement = SettlementStatement.objects.get(merchant=merchant)
        assert statement.status == "issued" and statement.net_rub > 0
        # The supplier its goods' receipts name: a Chinese office phone, no
        # INN (a foreign supplier); valid as the admin would check it.
        assert (merchant.phone[:3], merchant.inn) == ("+86", ""), merchant.code
        merchant.full_clean()
    assert Order.objects.filter(status="on_hold").count() == 1
    mixed = Order.objects.annotate(n=Count("lines__merchant", distinct=True)).filter(n__gt=1)
    assert set(mixed.values_list("status", flat=True)) >= {"allocated", "packed", "in_transit"}
    on_the_way = Parcel.objects.filter(status="in_transit").values_list("lane__code", flat=True)
    assert set(on_the_way) == set(Lane.objects.values_list("code", flat=True))
    assert Product.objects.filter(hs_code__regex=r"^\d{6}$").count() == 50
    assert StockLevel.objects.filter(on_hand__gt=0).count() > 50


def _counts() -> dict[str, int]:
    return {
        "merchants": Merchant.objects.count(),
        "products": Product.objects.count(),
        "warehouses": Warehouse.objects.count(),
        "lanes": Lane.objects.count(),
        "departures": Departure.objects.count(),
        "orders": Order.objects.count(),
        "parcels": Parcel.objects.count(),
        "stock": StockLevel.objects.count(),
    }

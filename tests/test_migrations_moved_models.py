"""The models that moved between apps (catalogue and accounts out of orders,
couriers out of shipping, cash on delivery into payments) keep their rows,
relations and permissions through the state-only migrations and table
renames, forwards and back."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.apps.registry import Apps
from django.apps.registry import apps as current_apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from shipping.fulfilment.numbers import s10_build

D = Decimal
# The nodes just before the move (65b896c): the old apps still hold the models.
BEFORE_THE_MOVE: list[tuple[str, str | None]] = [
    ("orders", "0002_order_on_hold_status"),
    ("shipping", "0006_trackingevent_parcel_index_in_timeline"),
    ("payments", "0010_payment_chargebacks"),
    ("warehouses", "0002_stocklevel_low_stock_threshold"),
    ("risk", "0002_risk_rules_defaults"),
    ("catalogue", None),
    ("accounts", None),
]
# Where each model lives before and after the move.
OLD = {
    "merchant": "orders.Merchant",
    "product": "orders.Product",
    "buyer": "orders.Buyer",
    "merchantstaff": "orders.MerchantStaff",
    "courier": "shipping.Courier",
    "cashcollection": "shipping.CashCollection",
    "courierremittance": "shipping.CourierRemittance",
    "codreconciliation": "shipping.CodReconciliation",
}
NEW = {
    "merchant": "catalogue.Merchant",
    "product": "catalogue.Product",
    "buyer": "accounts.Buyer",
    "merchantstaff": "accounts.MerchantStaff",
    "courier": "accounts.Courier",
    "cashcollection": "payments.CashCollection",
    "courierremittance": "payments.CourierRemittance",
    "codreconciliation": "payments.CodReconciliation",
}
# The staff user's permissions, one per moved content type kind.
CODENAMES = ["change_merchant", "view_buyer", "view_courier", "view_cashcollection"]
AT = datetime.fromisoformat("2026-11-20T12:00:00+00:00")


def migrate(executor: MigrationExecutor, targets: list[tuple[str, str | None]]) -> Apps:
    """Migrate to `targets` and return the models as they are there."""
    state = executor.migrate(targets)
    executor.loader.build_graph()  # reload what is applied now
    return state.apps


def old_rows_create(apps: Apps) -> dict[str, int]:
    """A merchant with staff and a product in stock, a buyer's cash order
    with a parcel, a courier on a lane and the courier's cash books, made
    with the models as they were before the move."""
    User = apps.get_model("auth", "User")
    Permission = apps.get_model("auth", "Permission")
    staff_user = User.objects.create(username="staff", email="staff@amur.example", is_staff=True)
    staff_user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label__in=["orders", "shipping"], codename__in=CODENAMES
        )
    )
    merchant = apps.get_model(OLD["merchant"]).objects.create(code="harbin-tea", name="Harbin Tea")
    apps.get_model(OLD["merchantstaff"]).objects.create(merchant=merchant, user=staff_user)
    product = apps.get_model(OLD["product"]).objects.create(
        merchant=merchant,
        sku="TEA-0001",
        name_ru="Чай",
        name_zh="茶",
        name_en="Tea",
        hs_code="090230",
        weight_g=300,
        length_mm=100,
        width_mm=80,
        height_mm=60,
        price_cny=D("98.00"),
    )
    warehouse = apps.get_model("warehouses", "Warehouse").objects.create(
        code="HRB", name="Harbin", kind="domestic", city="Harbin", country="CN"
    )
    apps.get_model("warehouses", "StockLevel").objects.create(
        warehouse=warehouse, product=product, on_hand=7, reserved=1
    )
    lane = apps.get_model("shipping", "Lane").objects.create(
        code="HRB-SVX-AIR",
        name="Harbin - Yekaterinburg",
        origin=warehouse,
        origin_hub="HRB",
        destination_hub="SVX",
        mode="air",
        transit_days=1,
        base_fee_cny=D("30.00"),
        per_100g_cny=D("5.00"),
    )
    courier_user = User.objects.create(username="courier", email="courier@amur.example")
    courier = apps.get_model(OLD["courier"]).objects.create(
        user=courier_user, name="Pavel", regions=["RU-SVE"]
    )
    courier.lanes.add(lane)
    buyer_user = User.objects.create(username="buyer", email="buyer@example.ru")
    buyer = apps.get_model(OLD["buyer"]).objects.create(user=buyer_user, phone="+79221234567")
    order = apps.get_model("orders", "Order").objects.create(
        number="AM-0001",
        buyer=buyer,
        payment_method="cod",
        recipient_name="Иван Петров",
        recipient_phone="+79221234567",
        region="RU-SVE",
        city="Екатеринбург",
        postcode="620014",
        street="ул. Малышева, 51",
        goods_cny=D("98.00"),
        goods_rub=D("1078.00"),
        shipping_rub=D("423.50"),
        duty_rub=D("0.00"),
        total_rub=D("1501.50"),
        cny_rub_rate=D("11.0000"),
        eur_rub_rate=D("92.0000"),
        rates_date=AT.date(),
    )
    apps.get_model("orders", "OrderLine").objects.create(
        order=order,
        product=product,
        merchant=merchant,
        sku="TEA-0001",
        name="Tea",
        quantity=1,
        unit_price_cny=D("98.00"),
        line_total_cny=D("98.00"),
    )
    parcel = apps.get_model("shipping", "Parcel").objects.create(
        order=order,
        warehouse=warehouse,
        lane=lane,
        tracking_number=s10_build("RR", 12345678, "CN"),
        weight_g=300,
        length_mm=100,
        width_mm=80,
        height_mm=60,
        value_cny=D("98.00"),
        promised_min_days=4,
        promised_max_days=7,
    )
    apps.get_model(OLD["cashcollection"]).objects.create(
        courier=courier,
        order=order,
        parcel=parcel,
        scan_id="cash-1",
        amount=D("1501.50"),
        currency="RUB",
        due=D("1501.50"),
        outcome="captured",
        collected_at=AT,
    )
    apps.get_model(OLD["courierremittance"]).objects.create(
        courier=courier,
        amount=D("1501.50"),
        currency="RUB",
        reference="PKO-17",
        day=AT.date(),
        received_at=AT,
    )
    apps.get_model(OLD["codreconciliation"]).objects.create(
        courier=courier,
        day=AT.date(),
        currency="RUB",
        expected=D("1501.50"),
        collected=D("1501.50"),
        remitted=D("1501.50"),
        collection_difference=D("0.00"),
        remittance_difference=D("0.00"),
        computed_at=AT,
    )
    return {
        "merchant": merchant.id,
        "product": product.id,
        "buyer": buyer.id,
        "courier": courier.id,
    }


def rows(apps: Apps, where: dict[str, str]) -> dict[str, Any]:
    """Every row made above with its relations, read through the models of
    one state (the field names did not change, only the apps)."""

    def model(name: str) -> Any:
        return apps.get_model(where[name])

    User = apps.get_model("auth", "User")
    courier = model("courier").objects.get()
    return {
        "merchant": list(model("merchant").objects.values_list("id", "code")),
        "staff": list(model("merchantstaff").objects.values_list("merchant__code", "user__email")),
        "permissions": sorted(
            User.objects.get(username="staff").user_permissions.values_list(
                "content_type__app_label", "content_type__model", "codename"
            )
        ),
        "product": list(model("product").objects.values_list("id", "sku", "merchant__code")),
        "stock": list(
            apps.get_model("warehouses", "StockLevel").objects.values_list(
                "product__sku", "warehouse__code", "on_hand", "reserved"
            )
        ),
        "buyer": list(model("buyer").objects.values_list("id", "user__email", "phone")),
        "courier": (courier.id, courier.user.email, courier.regions),
        "courier_lanes": list(courier.lanes.values_list("code", flat=True)),
        "order": list(
            apps.get_model("orders", "Order").objects.values_list("number", "buyer__user__email")
        ),
        "lines": list(
            apps.get_model("orders", "OrderLine").objects.values_list(
                "order__number", "product__sku", "merchant__code"
            )
        ),
        "cash": list(
            model("cashcollection").objects.values_list(
                "scan_id", "courier__name", "order__number", "parcel__lane__code", "amount"
            )
        ),
        "remittance": list(
            model("courierremittance").objects.values_list("reference", "courier__name", "amount")
        ),
        "reconciliation": list(
            model("codreconciliation").objects.values_list("day", "courier__name", "remitted")
        ),
    }


def moved_content_types(apps: Apps) -> list[tuple[str, str]]:
    return sorted(
        apps.get_model("contenttypes", "ContentType")
        .objects.filter(model__in=list(OLD))
        .values_list("app_label", "model")
    )


def expected_rows(ids: dict[str, int], where: dict[str, str]) -> dict[str, Any]:
    return {
        "merchant": [(ids["merchant"], "harbin-tea")],
        "staff": [("harbin-tea", "staff@amur.example")],
        "permissions": sorted(
            (where[model].split(".")[0], model, codename)
            for codename in CODENAMES
            for model in [codename.split("_", 1)[1]]
        ),
        "product": [(ids["product"], "TEA-0001", "harbin-tea")],
        "stock": [("TEA-0001", "HRB", 7, 1)],
        "buyer": [(ids["buyer"], "buyer@example.ru", "+79221234567")],
        "courier": (ids["courier"], "courier@amur.example", ["RU-SVE"]),
        "courier_lanes": ["HRB-SVX-AIR"],
        "order": [("AM-0001", "buyer@example.ru")],
        "lines": [("AM-0001", "TEA-0001", "harbin-tea")],
        "cash": [("cash-1", "Pavel", "AM-0001", "HRB-SVX-AIR", D("1501.50"))],
        "remittance": [("PKO-17", "Pavel", D("1501.50"))],
        "reconciliation": [(date(2026, 11, 20), "Pavel", D("1501.50"))],
    }


def content_types_of(where: dict[str, str]) -> list[tuple[str, str]]:
    return sorted((label.split(".")[0], model) for model, label in where.items())


@pytest.mark.django_db(transaction=True)
def test_moved_models_keep_their_rows_relations_and_permissions_forwards_and_back() -> None:
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        old_apps = migrate(executor, BEFORE_THE_MOVE)
        ids = old_rows_create(old_apps)
        assert rows(old_apps, OLD) == expected_rows(ids, OLD)
        assert moved_content_types(old_apps) == content_types_of(OLD)

        migrate(executor, latest)

        assert rows(current_apps, NEW) == expected_rows(ids, NEW)
        assert moved_content_types(current_apps) == content_types_of(NEW)
        staff = current_apps.get_model("auth", "User").objects.get(username="staff")
        assert sorted(staff.get_all_permissions()) == [
            "accounts.view_buyer",
            "accounts.view_courier",
            "catalogue.change_merchant",
            "payments.view_cashcollection",
        ]
        # The renamed tables go on numbering where they were.
        merchant_model = current_apps.get_model(NEW["merchant"])
        newer = merchant_model.objects.create(code="suifenhe-boots", name="Suifenhe Boots")
        assert newer.id > ids["merchant"]
        newer.delete()

        back = migrate(executor, BEFORE_THE_MOVE)

        assert rows(back, OLD) == expected_rows(ids, OLD)
        assert moved_content_types(back) == content_types_of(OLD)
    finally:
        # Whatever happened, the tests after this one find the latest schema.
        executor.loader.build_graph()
        executor.migrate(latest)

"""A mixed order (tea of merchant A, boots of merchant B) is fulfilled as one
fulfilment order per merchant and warehouse: each packed, printed and
shipped on its own, each merchant seeing only its own part (issue #12)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from pypdf import PdfReader

from catalogue.models import Merchant
from commands.cancel import order_cancel
from commands.pack import fulfilment_order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from core.errors import Conflict
from notifications.models import OutboxEvent
from orders.models import Order, OrderLine, OrderStatus
from orders.services import Address
from shipping.fulfilment.models import (
    FulfilmentOrder,
    FulfilmentOrderEvent,
    FulfilmentOrderLine,
    Parcel,
    ParcelLine,
)
from tests.conftest import World, client_for
from tests.factories import MerchantStaffFactory, UserFactory


@dataclass
class Mixed:
    order: Order
    a: Merchant
    b: Merchant
    staff_a: Any
    staff_b: Any
    part_a: FulfilmentOrder
    part_b: FulfilmentOrder
    boot_line: OrderLine

    def b_secrets(self) -> list[str]:
        """What merchant A must never read: B's SKU, name, price, share and
        the order's totals (in either decimal separator)."""
        amounts = [
            self.boot_line.unit_price_cny,
            self.part_b.goods_cny,
            self.order.goods_rub,
            self.order.total_rub,
            self.order.goods_cny,
        ]
        return [
            "BOOT-0002",
            self.boot_line.name,
            self.b.name,
            *(f"{amount:.2f}" for amount in amounts),
            *(f"{amount:.2f}".replace(".", ",") for amount in amounts),
        ]


def placed(world: World, *lines: tuple[str, int], pay: bool = True) -> Order:
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        address=Address(**world.address()),
        payment_method="card",
    )
    if pay:
        payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    return Order.objects.get(id=order.id)


@pytest.fixture
def mixed(world: World) -> Mixed:
    tea, boot = world.products[0], world.products[1]
    order = placed(world, ("TEA-0001", 2), ("BOOT-0002", 1))
    part_a = FulfilmentOrder.objects.get(order=order, merchant=tea.merchant)
    part_b = FulfilmentOrder.objects.get(order=order, merchant=boot.merchant)
    return Mixed(
        order=order,
        a=tea.merchant,
        b=boot.merchant,
        staff_a=MerchantStaffFactory.create(merchant=tea.merchant, country="CN").user,
        staff_b=MerchantStaffFactory.create(merchant=boot.merchant, country="CN").user,
        part_a=part_a,
        part_b=part_b,
        boot_line=order.lines.get(sku="BOOT-0002"),
    )


def admin_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def leaked(mixed: Mixed, text: str) -> list[str]:
    return [secret for secret in mixed.b_secrets() if secret in text]


# --- The split --------------------------------------------------------------------


def test_placement_splits_a_mixed_order_per_merchant_and_warehouse(
    world: World, mixed: Mixed
) -> None:
    number = mixed.order.number
    parts = FulfilmentOrder.objects.filter(order=mixed.order).order_by("number")
    assert [(p.number, p.merchant_id, p.warehouse_id, p.status, p.goods_cny) for p in parts] == [
        (f"{number}-1", mixed.a.id, world.hrb.id, "ready", Decimal("196.00")),
        (f"{number}-2", mixed.b.id, world.hrb.id, "ready", Decimal("329.00")),
    ]
    assert list(
        FulfilmentOrderLine.objects.order_by("id").values_list(
            "fulfilment_order__number", "line__sku", "quantity"
        )
    ) == [(f"{number}-1", "TEA-0001", 2), (f"{number}-2", "BOOT-0002", 1)]
    assert list(
        FulfilmentOrderEvent.objects.filter(fulfilment_order=mixed.part_a).values_list(
            "sequence", "from_status", "to_status", "reason"
        )
    ) == [(1, "", "pending", "placed"), (2, "pending", "ready", "stock reserved")]


def test_each_part_is_packed_alone_and_the_order_with_the_last(mixed: Mixed) -> None:
    [parcel_a] = fulfilment_order_pack(
        fulfilment_order_id=mixed.part_a.id, actor_id=mixed.staff_a.id, merchant_id=mixed.a.id
    )
    assert list(
        ParcelLine.objects.filter(parcel=parcel_a).values_list("line__sku", "quantity")
    ) == [("TEA-0001", 2)]
    assert (parcel_a.fulfilment_order_id, parcel_a.weight_g, parcel_a.value_cny) == (
        mixed.part_a.id,
        600,
        Decimal("196.00"),
    )
    statuses = dict(FulfilmentOrder.objects.values_list("number", "status"))
    assert statuses == {mixed.part_a.number: "packed", mixed.part_b.number: "ready"}
    assert Order.objects.get(id=mixed.order.id).status == OrderStatus.ALLOCATED

    # Merchant A's webhook names its own part: its number, its tea, its share.
    event = OutboxEvent.objects.get(
        type="fulfilment_order.status_changed", payload__status="packed"
    )
    assert event.audience_ids == [mixed.staff_a.id]
    assert event.payload == {
        "fulfilment_order": mixed.part_a.number,
        "order": mixed.order.number,
        "status": "packed",
        "previous_status": "ready",
        "lines": [
            {"sku": "TEA-0001", "quantity": 2, "unit_price": {"amount": "98.00", "currency": "CNY"}}
        ],
        "goods": {"amount": "196.00", "currency": "CNY"},
    }

    [parcel_b] = fulfilment_order_pack(fulfilment_order_id=mixed.part_b.id, actor_id=None)
    assert parcel_b.fulfilment_order_id == mixed.part_b.id
    assert Order.objects.get(id=mixed.order.id).status == OrderStatus.PACKED
    assert list(mixed.order.events.order_by("sequence").values_list("to_status", flat=True)) == [
        "pending_payment",
        "paid",
        "allocated",
        "packed",
    ]


def test_a_part_is_packed_once(mixed: Mixed) -> None:
    fulfilment_order_pack(fulfilment_order_id=mixed.part_a.id)
    with pytest.raises(Conflict) as refused:
        fulfilment_order_pack(fulfilment_order_id=mixed.part_a.id)
    assert refused.value.code == "fulfilment_order_not_packable"
    assert Parcel.objects.filter(fulfilment_order=mixed.part_a).count() == 1


def test_once_a_part_is_packed_the_order_cannot_be_cancelled(mixed: Mixed) -> None:
    fulfilment_order_pack(fulfilment_order_id=mixed.part_a.id)
    with pytest.raises(Conflict) as refused:
        order_cancel(order_id=mixed.order.id, actor_id=None)
    assert refused.value.code == "order_not_cancellable"
    assert FulfilmentOrder.objects.get(id=mixed.part_b.id).status == "ready"


def test_cancelling_the_order_cancels_every_part(world: World) -> None:
    order = placed(world, ("TEA-0001", 1), ("BOOT-0002", 1), pay=False)
    order_cancel(order_id=order.id, actor_id=None)
    assert list(FulfilmentOrder.objects.filter(order=order).values_list("status", flat=True)) == [
        "cancelled",
        "cancelled",
    ]


def test_the_buyer_sees_one_order_with_two_shipments(world: World, mixed: Mixed) -> None:
    [parcel_a] = fulfilment_order_pack(fulfilment_order_id=mixed.part_a.id)
    body = client_for(world.buyer.user).get(f"/api/v1/orders/{mixed.order.number}/").json()
    tracking = parcel_a.tracking_number
    assert body["shipments"] == [
        {
            "number": mixed.part_a.number,
            "status": "packed",
            "parcels": [{"tracking_number": tracking, "status": "info_received"}],
            "tracking_numbers": [tracking],
        },
        {"number": mixed.part_b.number, "status": "ready", "parcels": [], "tracking_numbers": []},
    ]
    assert [line["sku"] for line in body["lines"]] == ["TEA-0001", "BOOT-0002"]


def test_the_data_migration_splits_orders_placed_before(world: World, mixed: Mixed) -> None:
    import importlib

    fulfilment_order_pack(fulfilment_order_id=mixed.part_a.id)
    fulfilment_order_pack(fulfilment_order_id=mixed.part_b.id)
    parcels = dict(Parcel.objects.values_list("tracking_number", "fulfilment_order__merchant_id"))
    # As an order packed before the split was: no parts, parcels of none.
    Parcel.objects.update(fulfilment_order=None)
    FulfilmentOrder.objects.all().delete()

    migration = importlib.import_module("shipping.migrations.0013_fulfilment_orders_existing")
    migration.split(apps, None)

    number = mixed.order.number
    assert list(
        FulfilmentOrder.objects.order_by("number").values_list(
            "number", "merchant_id", "status", "goods_cny"
        )
    ) == [
        (f"{number}-1", mixed.a.id, "packed", Decimal("196.00")),
        (f"{number}-2", mixed.b.id, "packed", Decimal("329.00")),
    ]
    assert (
        dict(Parcel.objects.values_list("tracking_number", "fulfilment_order__merchant_id"))
        == parcels
    )
    assert list(FulfilmentOrderEvent.objects.values_list("sequence", "to_status")) == [
        (1, "packed"),
        (1, "packed"),
    ]


# --- What merchant A sees -----------------------------------------------------------


def test_merchant_a_admin_pages_never_show_merchant_b(mixed: Mixed) -> None:
    [parcel_a] = fulfilment_order_pack(fulfilment_order_id=mixed.part_a.id)
    [parcel_b] = fulfilment_order_pack(fulfilment_order_id=mixed.part_b.id)
    client = admin_for(mixed.staff_a)
    pages = {}
    for name, path in {
        "parts": "/admin/shipping/fulfilmentorder/",
        "part": f"/admin/shipping/fulfilmentorder/{mixed.part_a.id}/change/",
        "parcels": "/admin/shipping/parcel/",
        "parcel": f"/admin/shipping/parcel/{parcel_a.id}/change/",
        "events": "/admin/shipping/trackingevent/",
        "statements": "/admin/payments/settlementstatement/",
        "index": "/admin/",
    }.items():
        response = client.get(path)
        assert response.status_code == 200, name
        pages[name] = response.content.decode()
    for name, text in pages.items():
        assert leaked(mixed, text) == [], name
    for name in ("parts", "part", "parcel"):
        assert "TEA-0001" in pages[name] or mixed.part_a.number in pages[name], name
    assert "TEA-0001" in pages["part"] and "196.00" in pages["part"]
    assert parcel_a.tracking_number in pages["parcels"]
    assert parcel_b.tracking_number not in pages["parcels"]
    # The other merchant's part and parcel are not there for A.
    assert (
        client.get(f"/admin/shipping/fulfilmentorder/{mixed.part_b.id}/change/").status_code == 302
    )
    assert client.get(f"/admin/shipping/parcel/{parcel_b.id}/change/").status_code == 302
    # The whole order and its payments are the operator's.
    assert client.get(f"/admin/orders/order/{mixed.order.id}/change/").status_code == 403
    assert client.get("/admin/payments/payment/").status_code == 403


def test_merchant_a_prints_only_its_own_part(mixed: Mixed) -> None:
    [parcel_a] = fulfilment_order_pack(fulfilment_order_id=mixed.part_a.id)
    fulfilment_order_pack(fulfilment_order_id=mixed.part_b.id)
    client = admin_for(mixed.staff_a)
    base = "/admin/shipping/fulfilmentorder/"

    slip = client.get(f"{base}{mixed.part_a.id}/packing-slip/")
    labels = client.get(f"{base}{mixed.part_a.id}/labels/")
    assert (slip.status_code, labels.status_code) == (200, 200)
    slip_text, labels_text = pdf_text(slip.content), pdf_text(labels.content)
    assert "Упаковочный лист · отправление №" in slip_text
    assert mixed.part_a.number in slip_text
    assert "TEA-0001" in slip_text and parcel_a.tracking_number in slip_text
    assert "Место 1 из 1" in labels_text and mixed.part_a.number in labels_text
    assert leaked(mixed, slip_text) == leaked(mixed, labels_text) == []
    # B's part: not found for A.
    assert client.get(f"{base}{mixed.part_b.id}/packing-slip/").status_code == 404
    assert client.get(f"{base}{mixed.part_b.id}/labels/").status_code == 404

    # Bulk actions with both parts picked: only A's is in the queryset.
    both = [mixed.part_a.id, mixed.part_b.id]
    for action in ("print_packing_slips", "print_labels"):
        response = client.post(base, {"action": action, "_selected_action": both})
        assert response.status_code == 200, action
        assert response["Content-Type"] == "application/pdf"
        text = pdf_text(response.content)
        assert len(PdfReader(io.BytesIO(response.content)).pages) == 1, action
        assert leaked(mixed, text) == [], action
    export = client.post(base, {"action": "export_csv", "_selected_action": both})
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows == [
        [
            "fulfilment_order",
            "status",
            "warehouse",
            "created_at",
            "sku",
            "name",
            "quantity",
            "unit_price_cny",
            "line_total_cny",
            "tracking_numbers",
        ],
        [
            mixed.part_a.number,
            "packed",
            "HRB",
            mixed.part_a.created_at.isoformat(),
            "TEA-0001",
            mixed.order.lines.get(sku="TEA-0001").name,
            "2",
            "98.00",
            "196.00",
            parcel_a.tracking_number,
        ],
    ]


def test_merchant_a_cannot_pack_merchant_b_part(mixed: Mixed) -> None:
    client = admin_for(mixed.staff_a)
    response = client.post(
        "/admin/shipping/fulfilmentorder/",
        {"action": "pack", "_selected_action": [mixed.part_b.id]},
    )
    assert response.status_code == 302  # nothing of A's was picked
    assert FulfilmentOrder.objects.get(id=mixed.part_b.id).status == "ready"
    assert not Parcel.objects.exists()

    api = client_for(mixed.staff_a)
    base = "/api/v1/merchant/fulfilment-orders/"
    for path in ("", "packing-slip/", "labels/"):
        assert api.get(f"{base}{mixed.part_b.number}/{path}").status_code == 404, path
    assert api.post(f"{base}{mixed.part_b.number}/pack/").status_code == 404
    assert FulfilmentOrder.objects.get(id=mixed.part_b.id).status == "ready"
    with pytest.raises(Exception) as refused:
        fulfilment_order_pack(fulfilment_order_id=mixed.part_b.id, merchant_id=mixed.a.id)
    assert getattr(refused.value, "code", "") == "not_found"

    # A packs its own part in the admin; B's stays to be packed.
    response = client.post(
        "/admin/shipping/fulfilmentorder/",
        {"action": "pack", "_selected_action": [mixed.part_a.id, mixed.part_b.id]},
    )
    assert response.status_code == 302
    assert dict(FulfilmentOrder.objects.values_list("id", "status")) == {
        mixed.part_a.id: "packed",
        mixed.part_b.id: "ready",
    }


def test_merchant_api_answers_only_with_the_merchant_own_part(mixed: Mixed) -> None:
    api = client_for(mixed.staff_a)
    packed = api.post(f"/api/v1/merchant/fulfilment-orders/{mixed.part_a.number}/pack/")
    assert packed.status_code == 201
    [parcel] = Parcel.objects.filter(fulfilment_order=mixed.part_a)
    listing = api.get("/api/v1/merchant/fulfilment-orders/")
    assert listing.status_code == 200
    assert listing.json()["results"] == [
        {
            "number": mixed.part_a.number,
            "order": mixed.order.number,
            "status": "packed",
            "warehouse": "HRB",
            "goods_cny": "196.00",
            "lines": [
                {
                    "sku": "TEA-0001",
                    "name": mixed.order.lines.get(sku="TEA-0001").name,
                    "quantity": 2,
                    "unit_price_cny": "98.00",
                }
            ],
            "parcels": [
                {
                    "tracking_number": parcel.tracking_number,
                    "status": "info_received",
                    "weight_g": 600,
                }
            ],
            "created_at": listing.json()["results"][0]["created_at"],
        }
    ]
    assert packed.json() == listing.json()["results"][0]
    for response in (listing, packed):
        assert leaked(mixed, response.content.decode()) == []
    slip = api.get(f"/api/v1/merchant/fulfilment-orders/{mixed.part_a.number}/packing-slip/")
    assert slip.status_code == 200 and leaked(mixed, pdf_text(slip.content)) == []
    buyer = client_for(UserFactory.create())
    assert buyer.get("/api/v1/merchant/fulfilment-orders/").status_code == 403


def test_operator_staff_see_both_parts(mixed: Mixed) -> None:
    operator = UserFactory.create(is_staff=True, is_superuser=True)
    page = admin_for(operator).get("/admin/shipping/fulfilmentorder/").content.decode()
    assert mixed.part_a.number in page and mixed.part_b.number in page
    listing = client_for(operator).get("/api/v1/merchant/fulfilment-orders/").json()
    assert [row["number"] for row in listing["results"]] == [
        mixed.part_b.number,
        mixed.part_a.number,
    ]


@pytest.mark.parametrize(
    ("language", "expected", "english"),
    [
        ("ru", ["Упаковать выбранные отправления", "Готово к упаковке", "отправления"], "Pack the"),
        ("zh-hans", ["打包所选履约单", "待打包", "履约单"], "Pack the"),
    ],
)
def test_the_merchant_pages_speak_the_merchant_language(
    mixed: Mixed, language: str, expected: list[str], english: str
) -> None:
    client = admin_for(mixed.staff_a)
    listing = client.get("/admin/shipping/fulfilmentorder/", HTTP_ACCEPT_LANGUAGE=language)
    page = client.get(
        f"/admin/shipping/fulfilmentorder/{mixed.part_a.id}/change/",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    text = listing.content.decode()
    assert [phrase in text for phrase in expected] == [True] * len(expected)
    assert english not in text
    steps = {"ru": "Шаги исполнения", "zh-hans": "履约步骤"}[language]
    assert steps in page.content.decode()


def test_the_merchant_order_page_shows_its_lines_with_their_pictures(
    world: World, mixed: Mixed
) -> None:
    from catalogue.services import listing_image_add
    from tests.conftest import jpeg

    tea = world.products[0]
    image = listing_image_add(listing=tea.listing, image=jpeg())
    page = admin_for(mixed.staff_a).get(
        f"/admin/shipping/fulfilmentorder/{mixed.part_a.id}/change/"
    )
    text = page.content.decode()
    assert f'<img src="{image.thumbnail.url}" width="64" height="64" alt="">' in text
    tea_line = mixed.order.lines.get(sku="TEA-0001")
    for shown in ("TEA-0001", tea_line.name, "98.00", "196.00", "placed", "stock reserved"):
        assert shown in text, shown
    # The steps, not the plan's JSON with product ids.
    assert '"warehouse_id"' not in text and "plan" not in text


def test_one_merchant_shipping_from_two_warehouses_has_two_fulfilment_orders(
    world: World,
) -> None:
    from tests.factories import ProductFactory
    from warehouses.services import stock_receive

    merchant = world.products[0].merchant
    harbin = ProductFactory.create(sku="HRB-ONLY", merchant=merchant, weight_g=200)
    suifenhe = ProductFactory.create(sku="SFH-ONLY", merchant=merchant, weight_g=200)
    stock_receive(warehouse_id=world.hrb.id, product_id=harbin.id, quantity=5)
    stock_receive(warehouse_id=world.sfh.id, product_id=suifenhe.id, quantity=5)
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest("HRB-ONLY", 1), LineRequest("SFH-ONLY", 2)],
        address=Address(**world.address("RU-PRI")),
        payment_method="cod",
    )
    parts = list(FulfilmentOrder.objects.filter(order=order).order_by("number"))
    assert [(p.merchant_id, p.warehouse_id, p.status) for p in parts] == [
        (merchant.id, world.hrb.id, "ready"),
        (merchant.id, world.sfh.id, "ready"),
    ]
    assert [list(p.lines.values_list("line__sku", "quantity")) for p in parts] == [
        [("HRB-ONLY", 1)],
        [("SFH-ONLY", 2)],
    ]
    packed = [fulfilment_order_pack(fulfilment_order_id=p.id) for p in parts]
    assert [[(x.warehouse_id, x.lane_id) for x in parcels] for parcels in packed] == [
        [(world.hrb.id, world.air.id)],
        [(world.sfh.id, world.road.id)],
    ]
    assert Order.objects.get(id=order.id).status == OrderStatus.PACKED

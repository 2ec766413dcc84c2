"""Pick, pack and print as staff API endpoints and admin actions."""

from __future__ import annotations

import io
from typing import Any

from django.test import Client
from pypdf import PdfReader

from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from orders.models import Order
from orders.services import Address
from shipping.fulfilment.documents import parcel_labels_pdf
from shipping.fulfilment.models import Parcel
from tests.conftest import World, client_for
from tests.factories import UserFactory


def allocated_order(world: World, *lines: tuple[str, int]) -> Order:
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        address=Address(**world.address()),
        payment_method="card",
    )
    payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    return Order.objects.get(id=order.id)


def operator() -> Any:
    return UserFactory.create(email="ops@amur.example", is_staff=True, is_superuser=True)


def test_pick_list_endpoint_lists_what_to_pick_by_location(world: World) -> None:
    order = allocated_order(world, ("TEA-0001", 2), ("BOOT-0002", 1))
    staff = client_for(operator())
    rows = staff.get("/api/v1/ops/warehouses/HRB/pick-list/").json()
    assert rows == [
        {
            "location": "",
            "sku": "BOOT-0002",
            "name_ru": world.products[1].name_ru,
            "name_zh": world.products[1].name_zh,
            "quantity": 1,
            "order_number": order.number,
        },
        {
            "location": "",
            "sku": "TEA-0001",
            "name_ru": world.products[0].name_ru,
            "name_zh": world.products[0].name_zh,
            "quantity": 2,
            "order_number": order.number,
        },
    ]
    pdf = staff.get("/api/v1/ops/warehouses/HRB/pick-list/pdf/")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert staff.get("/api/v1/ops/warehouses/NOPE/pick-list/").status_code == 404


def test_label_and_packing_slip_endpoints_are_for_operator_staff(world: World) -> None:
    order = allocated_order(world, ("TEA-0001", 1))
    parcel = order_pack(order_id=order.id)[0]
    staff = client_for(operator())
    label = staff.get(f"/api/v1/ops/parcels/{parcel.tracking_number}/label/")
    assert (label.status_code, label["Content-Type"]) == (200, "application/pdf")
    assert label.content.startswith(b"%PDF")
    slip = staff.get(f"/api/v1/ops/orders/{order.number}/packing-slip/")
    assert (slip.status_code, slip["Content-Type"]) == (200, "application/pdf")
    buyer = client_for(world.buyer.user)
    assert buyer.get(f"/api/v1/ops/parcels/{parcel.tracking_number}/label/").status_code == 403
    assert buyer.get(f"/api/v1/ops/orders/{order.number}/packing-slip/").status_code == 403
    assert staff.get("/api/v1/ops/parcels/RR000000005CN/label/").status_code == 404


def _admin_action(client: Client, url: str, action: str, ids: list[int]) -> Any:
    return client.post(url, {"action": action, "_selected_action": [str(i) for i in ids]})


def test_admin_packs_orders_and_prints_labels_slips_and_pick_lists(world: World) -> None:
    first = allocated_order(world, ("TEA-0001", 1))
    second = allocated_order(world, ("PHONE-0003", 1))
    client = Client()
    client.force_login(operator())

    pick = _admin_action(client, "/admin/warehouses/warehouse/", "print_pick_list", [world.hrb.id])
    assert (pick.status_code, pick["Location"]) == (
        302,
        "/api/v1/ops/warehouses/HRB/pick-list/pdf/",
    )
    pdf = client.get(pick["Location"])
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")

    packed = _admin_action(client, "/admin/orders/order/", "pack", [first.id, second.id])
    assert packed.status_code == 302
    assert set(Order.objects.values_list("status", flat=True)) == {"packed"}
    parcels = list(Parcel.objects.order_by("id").values_list("id", flat=True))
    assert len(parcels) == 2

    labels = _admin_action(client, "/admin/shipping/parcel/", "print_labels", parcels)
    assert (labels.status_code, labels["Content-Type"]) == (200, "application/pdf")
    assert len(PdfReader(io.BytesIO(labels.content)).pages) == 2

    slip = _admin_action(client, "/admin/orders/order/", "print_packing_slip", [first.id])
    assert (slip.status_code, slip["Content-Type"]) == (200, "application/pdf")
    two = _admin_action(client, "/admin/orders/order/", "print_packing_slip", [first.id, second.id])
    assert two.status_code == 302  # one slip at a time: told to select one


def test_labels_for_several_parcels_come_as_one_pdf_with_a_page_each(world: World) -> None:
    orders = [allocated_order(world, ("TEA-0001", 1)) for _ in range(3)]
    ids = [order_pack(order_id=o.id)[0].id for o in orders]
    reader = PdfReader(io.BytesIO(parcel_labels_pdf(parcel_ids=ids)))
    numbers = list(
        Parcel.objects.filter(id__in=ids).order_by("id").values_list("tracking_number", flat=True)
    )
    assert len(reader.pages) == 3
    assert [n in page.extract_text() for n, page in zip(numbers, reader.pages, strict=True)] == [
        True
    ] * 3

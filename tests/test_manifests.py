"""Departure manifests: the carrier's cargo manifest and the customs registry,
as JSON, CSV and PDF, from the ops API and the admin.

Three orders to two recipients in two regions are paid, packed, planned onto
the world's flight and the flight is closed; the manifests are then checked
against values computed here from the Parcel, ParcelLine, OrderLine and
Product rows."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from pypdf import PdfReader

from catalogue.models import Product
from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from orders.models import Order
from orders.services import Address
from shipping.fulfilment.models import Parcel, ParcelLine
from shipping.linehaul.departures import departure_transition, departures_plan
from shipping.linehaul.models import Departure, Lane
from tests.conftest import World, client_for, one_merchant
from tests.factories import DepartureFactory, MerchantStaffFactory, UserFactory
from tests.test_documents import SHIPPED, embedded_fonts, pdf_text

KATYA = "Екатерина Щербакова"
PETR = "Пётр Иванов"
KATYA_ADDRESS = "ул. Малышева, 51, Екатеринбург, Свердловская область, 620014, Россия"
PETR_ADDRESS = "ул. Светланская, 1, Владивосток, Приморский край, 690091, Россия"
TEA_ZH = "云南普洱茶"
A4_LANDSCAPE_PT = (841.89, 595.28)


def catalogue(world: World) -> None:
    """Russian and Chinese names, HS codes and origins for the world's products."""
    tea, boot, phone = world.products
    Product.objects.filter(id=tea.id).update(name_ru="Чай пуэр", name_zh=TEA_ZH, hs_code="090240")
    Product.objects.filter(id=boot.id).update(
        name_ru="Сапоги зимние", name_zh="冬季靴子", origin_country="VN"
    )
    Product.objects.filter(id=phone.id).update(
        name_ru="Смартфон", name_zh="智能手机", hs_code="851713"
    )


def katya(world: World) -> Address:
    return Address(**{**world.address("RU-SVE"), "recipient_name": KATYA})


def petr() -> Address:
    return Address(
        recipient_name=PETR,
        recipient_phone="+79241234567",
        region="RU-PRI",
        city="Владивосток",
        postcode="690091",
        street="ул. Светланская, 1",
    )


def paid_order(user_id: int, address: Address, *lines: tuple[str, int]) -> Order:
    order = order_place(
        user_id=user_id,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        address=address,
        payment_method="card",
    )
    payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    return Order.objects.get(id=order.id)


@dataclass
class Loaded:
    departure: Departure
    orders: list[Order]
    parcels: list[Parcel]  # by tracking number


def loaded_flight(world: World, *, close: bool = True) -> Loaded:
    """Three orders, four parcels, two recipients in RU-SVE and RU-PRI, all on
    the world's flight, which is then closed. The goods are one merchant's,
    so each order is one fulfilment order."""
    one_merchant(world)
    catalogue(world)
    Lane.objects.filter(id=world.air.id).update(max_parcel_weight_g=2000)
    orders = [
        paid_order(world.buyer.user_id, katya(world), ("TEA-0001", 2), ("PHONE-0003", 1)),
        paid_order(world.buyer.user_id, katya(world), ("BOOT-0002", 2)),  # two parcels
        paid_order(world.other_buyer.user_id, petr(), ("PHONE-0003", 1), ("BOOT-0002", 1)),
    ]
    for order in orders:
        order_pack(order_id=order.id)
    plan = departures_plan(lane_id=world.air.id)
    assert set(plan.assigned.values()) == {world.flight.id}
    assert plan.unassigned == {}
    if close:
        departure_transition(departure_id=world.flight.id, to="closed")
    parcels = list(Parcel.objects.filter(departure=world.flight).order_by("tracking_number"))
    assert len(parcels) == 4
    return Loaded(
        departure=Departure.objects.get(id=world.flight.id), orders=orders, parcels=parcels
    )


def operator() -> Any:
    return UserFactory.create(email="ops@amur.example", is_staff=True, is_superuser=False)


def kg(grams: int) -> str:
    return f"{Decimal(grams) / 1000:.3f}"


def m3(parcels: list[Parcel]) -> str:
    mm3 = sum(p.length_mm * p.width_mm * p.height_mm for p in parcels)
    return str((Decimal(mm3) / Decimal(10**9)).quantize(Decimal("0.001"), ROUND_HALF_UP))


def url(departure_id: int, tail: str = "") -> str:
    return f"/api/v1/ops/departures/{departure_id}/manifest/{tail}"


# --- JSON ----------------------------------------------------------------------


def test_json_cargo_manifest_adds_up_the_parcels_by_destination(world: World) -> None:
    loaded = loaded_flight(world)
    response = client_for(operator()).get(url(loaded.departure.id))
    assert response.status_code == 200
    body = response.json()

    flight = loaded.departure
    assert body["departure"] == {
        "id": flight.id,
        "number": flight.number,
        "status": "closed",
        "lane": "HRB-SVX-AIR",
        "lane_name": "Harbin - Yekaterinburg charter",
        "carrier": "Charter",
        "mode": "air",
        "origin_hub": "HRB",
        "destination_hub": "SVX",
        "scheduled_at": flight.scheduled_at.isoformat().replace("+00:00", "Z"),
    }
    parcels = list(Parcel.objects.filter(departure=flight).select_related("order"))
    by_region: dict[str, list[Parcel]] = {}
    for parcel in parcels:
        by_region.setdefault(parcel.order.region, []).append(parcel)
    names = {"RU-PRI": "Приморский край", "RU-SVE": "Свердловская область"}
    assert body["cargo"] == {
        "pieces": len(parcels),
        "gross_weight_kg": kg(sum(p.weight_g for p in parcels)),
        "volume_m3": m3(parcels),
        "destinations": [
            {
                "region": region,
                "region_name": names[region],
                "pieces": len(group),
                "gross_weight_kg": kg(sum(p.weight_g for p in group)),
                "volume_m3": m3(group),
            }
            for region, group in sorted(by_region.items())
        ],
    }
    # The same, written out: 1020 g (2 teas, a phone), 2 x 1500 g (a boot
    # each), 1920 g (a phone and a boot); 300 x 200 mm, 100 mm high per unit.
    assert (body["cargo"]["pieces"], body["cargo"]["gross_weight_kg"]) == (4, "5.940")
    assert body["cargo"]["volume_m3"] == "0.042"
    assert [
        (d["region"], d["pieces"], d["gross_weight_kg"], d["volume_m3"])
        for d in body["cargo"]["destinations"]
    ] == [("RU-PRI", 1, "1.920", "0.012"), ("RU-SVE", 3, "4.020", "0.030")]

    registry = body["registry"]
    assert [p["tracking_number"] for p in registry["parcels"]] == [
        p.tracking_number for p in loaded.parcels
    ]
    assert registry["total_value_cny"] == f"{sum(p.value_cny for p in parcels):.2f}"
    assert registry["gross_weight_kg"] == "5.940"
    phone_and_boot = next(p for p in registry["parcels"] if p["recipient_name"] == PETR)
    third = loaded.orders[2]
    assert phone_and_boot == {
        "tracking_number": Parcel.objects.get(order=third).tracking_number,
        "order_number": third.number,
        # Both goods are the one merchant's: named once.
        "sender": " ".join(
            {f"{line.merchant.name} {line.merchant.name_zh}": 1 for line in third.lines.all()}
        ),
        "recipient_name": PETR,
        "recipient_phone": "+79241234567",
        "recipient_address": PETR_ADDRESS,
        "region": "RU-PRI",
        "items": [
            {
                "sku": "BOOT-0002",
                "description_ru": "Сапоги зимние",
                "description_zh": "冬季靴子",
                "quantity": 1,
                "net_weight_kg": "1.500",
                "value": "329.00",
                "currency": "CNY",
                "hs_code": "620193",
                "origin_country": "VN",
                "product_url": "https://shop.example/products/BOOT-0002",
            },
            {
                "sku": "PHONE-0003",
                "description_ru": "Смартфон",
                "description_zh": "智能手机",
                "quantity": 1,
                "net_weight_kg": "0.420",
                "value": "1299.00",
                "currency": "CNY",
                "hs_code": "851713",
                "origin_country": "CN",
                "product_url": "https://shop.example/products/PHONE-0003",
            },
        ],
        "total_value_cny": "1628.00",
        "net_weight_kg": "1.920",
        "gross_weight_kg": "1.920",
        "identity": {
            "passport_series": "4509",
            "passport_number": "731902",
            "passport_issued_on": "2015-02-10",
            "birth_date": "1990-05-17",
            "inn": "500100732259",
        },
        "duty_eur": "0.00",  # EUR 194.65: under the allowance
    }


# --- CSV -----------------------------------------------------------------------


def expected_registry_rows(departure: Departure) -> list[dict[str, str]]:
    """One row per parcel line, from the rows the manifest is built from."""
    rows = []
    addresses = {KATYA: KATYA_ADDRESS, PETR: PETR_ADDRESS}
    parcels = Parcel.objects.filter(departure=departure).select_related("order")
    for parcel in parcels.order_by("tracking_number"):
        order = parcel.order
        lines = list(
            ParcelLine.objects.filter(parcel=parcel)
            .select_related("line__product", "line__merchant")
            .order_by("id")
        )
        merchants = {pl.line.merchant_id: pl.line.merchant for pl in lines}
        sender = "; ".join(f"{m.name} {m.name_zh}" for m in merchants.values())
        for number, pl in enumerate(lines, start=1):
            line, product = pl.line, pl.line.product
            rows.append(
                {
                    "tracking_number": parcel.tracking_number,
                    "order_number": order.number,
                    "sender": sender,
                    "recipient_name": order.recipient_name,
                    "recipient_phone": order.recipient_phone,
                    "recipient_address": addresses[order.recipient_name],
                    "region": order.region,
                    "recipient_passport": "4509 731902",
                    "recipient_passport_issued_on": "2015-02-10",
                    "recipient_birth_date": "1990-05-17",
                    "recipient_inn": "500100732259",
                    "item": str(number),
                    "sku": line.sku,
                    "description_ru": product.name_ru,
                    "description_zh": product.name_zh,
                    "hs_code": product.hs_code,
                    "quantity": str(pl.quantity),
                    "net_weight_kg": kg(product.weight_g * pl.quantity),
                    "value": f"{line.unit_price_cny * pl.quantity:.2f}",
                    "currency": "CNY",
                    "origin_country": product.origin_country,
                    "product_url": f"https://shop.example/products/{line.sku}",
                    "parcel_value_cny": f"{parcel.value_cny:.2f}",
                    "parcel_gross_weight_kg": kg(parcel.weight_g),
                    "parcel_duty_eur": f"{parcel.duty_eur:.2f}",
                }
            )
    return rows


def test_registry_csv_has_a_row_per_item_with_the_parcel_repeated(world: World) -> None:
    loaded = loaded_flight(world)
    response = client_for(operator()).get(url(loaded.departure.id, "registry-csv/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="manifest-{loaded.departure.number}-registry.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    expected = expected_registry_rows(loaded.departure)
    assert rows == expected
    # 2 lines + 1 + 1 + 2 lines; every parcel, each of its lines once.
    assert len(rows) == 6
    assert {r["tracking_number"] for r in rows} == {p.tracking_number for p in loaded.parcels}
    assert sum(int(r["quantity"]) for r in rows) == 7


def test_cargo_csv_has_a_row_per_destination_and_the_total(world: World) -> None:
    loaded = loaded_flight(world)
    flight = loaded.departure
    response = client_for(operator()).get(url(flight.id, "cargo-csv/"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    head = f"{flight.number},HRB-SVX-AIR,{flight.scheduled_at.isoformat()}"
    assert response.content.decode() == (
        "departure,lane,scheduled_at,region,region_name,pieces,gross_weight_kg,volume_m3\n"
        f"{head},RU-PRI,Приморский край,1,1.920,0.012\n"
        f"{head},RU-SVE,Свердловская область,3,4.020,0.030\n"
        f"{head},TOTAL,,4,5.940,0.042\n"
    )


def test_csv_cells_a_spreadsheet_would_run_are_neutralised(world: World) -> None:
    loaded = loaded_flight(world, close=False)
    Order.objects.filter(id=loaded.orders[2].id).update(recipient_name="=HYPERLINK(1)")
    departure_transition(departure_id=world.flight.id, to="closed")
    response = client_for(operator()).get(url(world.flight.id, "registry-csv/"))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {r["recipient_name"] for r in rows} == {KATYA, "'=HYPERLINK(1)"}
    assert {r["recipient_phone"] for r in rows} == {"+79221234567", "+79241234567"}


# --- PDF -----------------------------------------------------------------------


def test_pdf_is_a4_landscape_with_every_parcel_in_both_scripts(world: World) -> None:
    loaded = loaded_flight(world)
    response = client_for(operator()).get(url(loaded.departure.id, "pdf/"))
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    assert response["Content-Disposition"] == (
        f'inline; filename="manifest-{loaded.departure.number}.pdf"'
    )
    data = response.content
    reader = PdfReader(io.BytesIO(data))
    # The cargo manifest, then the registry: with each recipient's identity
    # document three parcels fill a page, so the fourth turns it.
    assert len(reader.pages) == 3
    for page in reader.pages:
        assert abs(float(page.mediabox.width) - A4_LANDSCAPE_PT[0]) < 0.5
        assert abs(float(page.mediabox.height) - A4_LANDSCAPE_PT[1]) < 0.5
    text = pdf_text(data)
    for expected in (
        f"Грузовой манифест / Cargo manifest / 货运舱单 · {loaded.departure.number}",
        "Свердловская область",
        "Приморский край",
        "5.940",
        "0.042",
        *(p.tracking_number for p in loaded.parcels),
        KATYA,
        PETR,
        TEA_ZH,
        "智能手机",
        "090240",
        "851713",
    ):
        assert expected in text, expected
    assert embedded_fonts(data) == SHIPPED


# --- Refusals ------------------------------------------------------------------

TAILS = ["", "pdf/", "registry-csv/", "cargo-csv/"]


@pytest.mark.parametrize("tail", TAILS)
@pytest.mark.parametrize("status", ["scheduled", "loading", "cancelled"])
def test_a_departure_not_yet_closed_has_no_manifest(world: World, tail: str, status: str) -> None:
    departure = DepartureFactory.create(lane=world.air, status=status)
    response = client_for(operator()).get(url(departure.id, tail))
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["fields"], body["status"]) == ("departure_not_closed", {}, status)


@pytest.mark.parametrize("tail", TAILS)
def test_manifests_are_for_operator_staff_only(world: World, tail: str) -> None:
    loaded = loaded_flight(world)
    target = url(loaded.departure.id, tail)
    merchant = MerchantStaffFactory.create(merchant=world.products[0].merchant).user
    assert client_for(world.buyer.user).get(target).status_code == 403
    assert client_for(merchant).get(target).status_code == 403
    assert Client().get(target).status_code in (401, 403)
    assert client_for(operator()).get(url(999_999, tail)).status_code == 404


def test_an_empty_closed_departure_has_an_empty_manifest(world: World) -> None:
    departure_transition(departure_id=world.flight.id, to="closed")
    body = client_for(operator()).get(url(world.flight.id)).json()
    assert body["cargo"] == {
        "pieces": 0,
        "gross_weight_kg": "0.000",
        "volume_m3": "0.000",
        "destinations": [],
    }
    assert body["registry"] == {
        "parcels": [],
        "total_value_cny": "0.00",
        "gross_weight_kg": "0.000",
    }
    pdf = client_for(operator()).get(url(world.flight.id, "pdf/"))
    assert pdf.status_code == 200


def test_a_product_without_a_full_hs_code_stops_the_manifest(world: World) -> None:
    loaded = loaded_flight(world)
    Product.objects.filter(sku="TEA-0001").update(hs_code="0902")
    response = client_for(operator()).get(url(loaded.departure.id), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "hs_code_invalid"
    tea_parcel = Parcel.objects.get(order=loaded.orders[0])
    assert body["tracking_number"] == tea_parcel.tracking_number
    # The phone, heavier, was packed first; the tea is the parcel's second item.
    assert body["fields"] == {
        "items[1].hs_code": ["TEA-0001: HS code '0902' has fewer than 6 digits or is not a number."]
    }


# --- Admin ---------------------------------------------------------------------


def admin_action(client: Client, action: str, ids: list[int]) -> Any:
    return client.post(
        "/admin/shipping/departure/",
        {"action": action, "_selected_action": [str(i) for i in ids]},
    )


def test_admin_downloads_the_manifest_as_pdf_and_csv(world: World) -> None:
    loaded = loaded_flight(world)
    user = UserFactory.create(email="root@amur.example", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    flight = loaded.departure

    pdf = admin_action(client, "download_manifest_pdf", [flight.id])
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert all(p.tracking_number in pdf_text(pdf.content) for p in loaded.parcels)

    registry = admin_action(client, "download_registry_csv", [flight.id])
    assert (registry.status_code, registry["Content-Type"]) == (200, "text/csv; charset=utf-8")
    rows = list(csv.DictReader(io.StringIO(registry.content.decode())))
    assert rows == expected_registry_rows(flight)

    cargo = admin_action(client, "download_cargo_csv", [flight.id])
    api_cargo = client_for(user).get(url(flight.id, "cargo-csv/"))
    assert (cargo.status_code, cargo.content) == (200, api_cargo.content)

    scheduled = DepartureFactory.create(lane=world.air)
    refused = admin_action(client, "download_manifest_pdf", [scheduled.id])
    assert refused.status_code == 302
    two = admin_action(client, "download_manifest_pdf", [flight.id, scheduled.id])
    assert two.status_code == 302


def test_merchant_staff_cannot_download_a_manifest_in_the_admin(world: World) -> None:
    loaded = loaded_flight(world)
    merchant = MerchantStaffFactory.create(merchant=world.products[0].merchant).user
    merchant.user_permissions.add(Permission.objects.get(codename="view_departure"))
    client = Client()
    client.force_login(merchant)
    page = client.get("/admin/shipping/departure/")
    assert page.status_code == 200
    assert "download_manifest_pdf" not in page.content.decode()
    for action in ("download_manifest_pdf", "download_registry_csv", "download_cargo_csv"):
        response = admin_action(client, action, [loaded.departure.id])
        assert response.status_code == 302  # "no action selected": nothing downloaded
        assert response["Content-Type"] != "application/pdf"

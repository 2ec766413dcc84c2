"""Pick-and-pack documents: parcel label, packing slip, pick list.

The PDFs are read back as a printer and a scanner would: the text is extracted
with pypdf, the fonts are looked up in the page resources, and the label is
rendered with pdfium and its barcode decoded with zxing."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader
from reportlab.pdfbase.ttfonts import TTFont

from catalogue.models import Merchant, Product
from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from core.errors import NotFound
from core.pdf import FONT_DIR
from orders.models import Order, OrderStatus
from orders.services import Address
from shipping.fulfilment.documents import (
    PickRow,
    packing_slip_pdf,
    parcel_label_pdf,
    pick_list_pdf,
    pick_list_rows,
)
from shipping.fulfilment.models import Parcel
from shipping.linehaul.models import Lane
from tests.conftest import World, one_merchant
from tests.factories import MerchantFactory, ProductFactory
from warehouses.models import Reservation, StockLevel
from warehouses.services import stock_receive

RECIPIENT = "Екатерина Щербакова"
TEA_RU = "Чай пуэр"
TEA_ZH = "云南普洱茶"
PHONE_ZH = "智能手机"
MERCHANT_ZH = "哈尔滨茶叶公司"
LABEL_W_PT = 283.46  # 100 mm
LABEL_H_PT = 425.20  # 150 mm
A4_PT = (595.28, 841.89)


def chinese_catalogue(world: World) -> None:
    """Give the world's products Russian and Chinese names, and a merchant a
    Chinese name."""
    tea, boot, phone = world.products
    Product.objects.filter(id=tea.id).update(name_ru=TEA_RU, name_zh=TEA_ZH, hs_code="090240")
    Product.objects.filter(id=boot.id).update(name_ru="Сапоги зимние", name_zh="冬季靴子")
    Product.objects.filter(id=phone.id).update(
        name_ru="Смартфон", name_zh=PHONE_ZH, hs_code="851713"
    )
    Merchant.objects.filter(id=tea.merchant_id).update(name_zh=MERCHANT_ZH)


def place(
    world: World,
    *lines: tuple[str, int],
    region: str = "RU-SVE",
    pay: bool = True,
    **address_fields: str,
) -> Order:
    address = {**world.address(region), "recipient_name": RECIPIENT, **address_fields}
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        address=Address(**address),
        payment_method="card",
    )
    if pay:
        payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    order.refresh_from_db()
    return order


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def embedded_fonts(data: bytes) -> set[str]:
    """The PostScript names of the fonts in the pages' resources, without the
    subset tag; each must carry its embedded TrueType program."""
    names: set[str] = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        resources: Any = page["/Resources"]
        for ref in resources["/Font"].values():
            font = ref.get_object()
            assert font["/Subtype"] == "/TrueType", font
            descriptor = font["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor, font["/BaseFont"]
            tag, _plus, name = str(font["/BaseFont"]).lstrip("/").partition("+")
            assert len(tag) == 6, font["/BaseFont"]
            assert tag.isupper(), font["/BaseFont"]
            names.add(name)
    return names


def shipped_font_names() -> set[str]:
    """The names reportlab embeds the shipped fonts under: the PostScript name,
    plus "-<index>" for the face taken from a collection (.ttc)."""
    names = set()
    for path in (*FONT_DIR.glob("*.ttf"), *FONT_DIR.glob("*.ttc")):
        face = TTFont("probe", str(path), subfontIndex=0).face
        names.add((face.name + face.subfontNameX).decode())
    return names


SHIPPED = {"DejaVuSans", "DejaVuSans-Bold", "WenQuanYiMicroHei-0"}


def test_the_fonts_are_shipped_with_their_licences() -> None:
    files = {p.name: p.stat().st_size for p in FONT_DIR.iterdir()}
    assert set(files) == {
        "DejaVuSans.ttf",
        "DejaVuSans-Bold.ttf",
        "wqy-microhei.ttc",
        "LICENSE-DejaVu.txt",
        "LICENSE-WenQuanYi-MicroHei.txt",
    }
    assert sum(files.values()) < 10_000_000
    assert shipped_font_names() == SHIPPED
    assert "Arev Fonts Copyright" in (FONT_DIR / "LICENSE-DejaVu.txt").read_text()
    wqy = (FONT_DIR / "LICENSE-WenQuanYi-MicroHei.txt").read_text()
    assert "Apache License" in wqy
    assert "Version 2.0, January 2004" in wqy


# --- Label -------------------------------------------------------------------


def test_label_is_100_by_150_mm_with_barcode_recipient_and_customs(world: World) -> None:
    one_merchant(world)
    chinese_catalogue(world)
    order = place(world, ("TEA-0001", 2), ("PHONE-0003", 1))
    [parcel] = order_pack(order_id=order.id)

    data = parcel_label_pdf(parcel_id=parcel.id)

    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert float(box.left) == 0
    assert float(box.bottom) == 0
    assert abs(float(box.width) - LABEL_W_PT) < 0.5
    assert abs(float(box.height) - LABEL_H_PT) < 0.5

    text = pdf_text(data)
    for expected in (
        parcel.tracking_number,
        RECIPIENT,
        "+79221234567",
        "ул. Малышева, 51",
        "620014 Екатеринбург",
        "Свердловская область",
        "РОССИЯ / RUSSIA",
        "HRB-SVX-AIR",
        "1.020 kg",  # two teas of 300 g and a phone of 420 g
        order.number,
        "HRB",
        "Harbin",
        "China / 中国",
        MERCHANT_ZH,
        TEA_RU,
        TEA_ZH,
        PHONE_ZH,
        "090240",
        "851713",
        "196.00",  # 2 x 98.00
        "1299.00",
        "1495.00",  # the parcel's value
    ):
        assert expected in text, expected
    assert parcel.weight_g == 1020
    assert parcel.value_cny == Decimal("1495.00")

    assert embedded_fonts(data) == SHIPPED
    assert embedded_fonts(data) <= shipped_font_names()
    assert len(data) < 150_000  # subsets, not whole fonts


def test_label_barcode_scans_as_the_tracking_number(world: World) -> None:
    order = place(world, ("TEA-0001", 1))
    [parcel] = order_pack(order_id=order.id)

    data = parcel_label_pdf(parcel_id=parcel.id)

    document = pypdfium2.PdfDocument(data)
    try:
        image = document[0].render(scale=200 / 72).to_pil()  # a 200 dpi label printer
    finally:
        document.close()
    results = zxingcpp.read_barcodes(image)
    assert [(r.format, r.text) for r in results] == [
        (zxingcpp.BarcodeFormat.Code128, parcel.tracking_number)
    ]


def test_label_sums_the_contents_that_do_not_fit(world: World) -> None:
    chinese_catalogue(world)
    skus = []
    # One merchant's cups: only one merchant's goods share a parcel.
    cups = MerchantFactory.create(code="cups", name="Cups")
    for n in range(9):
        product = ProductFactory.create(
            sku=f"CUP-{n:04d}",
            merchant=cups,
            name_ru=f"Кружка фарфоровая с очень длинным названием для этикетки № {n}",
            name_zh=f"瓷杯{n}号",
            price_cny=Decimal("10.00"),
            weight_g=100,
        )
        stock_receive(warehouse_id=world.hrb.id, product_id=product.id, quantity=5)
        skus.append(product.sku)
    street = "проспект Ленина, дом 51, корпус 3, строение 2, подъезд 4, этаж 7, квартира 128"
    order = place(world, *[(sku, 1) for sku in skus], street=street)
    [parcel] = order_pack(order_id=order.id)

    data = parcel_label_pdf(parcel_id=parcel.id)

    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    text = pdf_text(data)
    # The long street wraps onto a second line instead of being cut.
    assert "проспект Ленина, дом 51, корпус 3, строение 2,\nподъезд 4, этаж 7, квартира 128" in text
    shown = [n for n in range(9) if f"瓷杯{n}号" in text]
    assert shown == list(range(len(shown)))
    assert 3 <= len(shown) < 9
    more = 9 - len(shown)
    assert f"… ещё {more} поз. / +{more} more" in text
    assert f"{more * 10}.00" in text  # the value of the rows left off
    assert "90.00" in text  # the parcel's value
    assert "Кружка фарфоровая с очень длинным названием для этикетки № 0" not in text
    assert "Кружка фарфоровая" in text
    assert "Cups 商家" in text


# --- Packing slip ------------------------------------------------------------


def test_packing_slip_lists_the_order_and_every_tracking_number(world: World) -> None:
    chinese_catalogue(world)
    Lane.objects.filter(id=world.air.id).update(max_parcel_weight_g=2000)
    order = place(world, ("TEA-0001", 1), ("BOOT-0002", 2))
    parcels = order_pack(order_id=order.id)
    # Two merchants' parts: the tea in one parcel, the boots split at 2 kg.
    assert len(parcels) == 3

    data = packing_slip_pdf(order_id=order.id)

    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - A4_PT[0]) < 0.5
    assert abs(float(box.height) - A4_PT[1]) < 0.5
    text = pdf_text(data)
    assert f"Упаковочный лист · заказ № {order.number}" in text
    assert RECIPIENT in text
    assert "Посылки: 3" in text
    for parcel in parcels:
        assert parcel.tracking_number in text
    for line in ("TEA-0001", TEA_RU, "BOOT-0002", "Сапоги зимние", "Всего единиц"):
        assert line in text, line
    assert embedded_fonts(data) <= shipped_font_names()


# --- Pick list ---------------------------------------------------------------


def test_pick_list_rows_are_the_active_reservations_by_location(world: World) -> None:
    chinese_catalogue(world)
    tea, boot, _phone = world.products
    StockLevel.objects.filter(warehouse=world.hrb, product=tea).update(location="A-01-2")
    StockLevel.objects.filter(warehouse=world.hrb, product=boot).update(location="B-03-1")
    StockLevel.objects.filter(warehouse=world.sfh, product=tea).update(location="S-01")
    first = place(world, ("TEA-0001", 2), ("BOOT-0002", 1))
    second = place(world, ("PHONE-0003", 1), ("TEA-0001", 3))
    suifenhe = place(world, ("TEA-0001", 4), region="RU-PRI")
    unpaid = place(world, ("BOOT-0002", 5), pay=False)
    packed = place(world, ("TEA-0001", 6))
    order_pack(order_id=packed.id)
    assert [o.status for o in (first, second, suifenhe, unpaid)] == [
        OrderStatus.ALLOCATED,
        OrderStatus.ALLOCATED,
        OrderStatus.ALLOCATED,
        OrderStatus.PENDING_PAYMENT,
    ]

    rows = pick_list_rows(warehouse_id=world.hrb.id)

    teas = sorted([(first.number, 2, first.id), (second.number, 3, second.id)])
    assert [(r.location, r.sku, r.quantity, r.order_number) for r in rows] == [
        ("A-01-2", "TEA-0001", teas[0][1], teas[0][0]),
        ("A-01-2", "TEA-0001", teas[1][1], teas[1][0]),
        ("B-03-1", "BOOT-0002", 1, first.number),
        ("", "PHONE-0003", 1, second.number),
    ]
    assert rows[0] == PickRow(
        reservation_id=Reservation.objects.get(order_id=teas[0][2], line__sku="TEA-0001").id,
        location="A-01-2",
        sku="TEA-0001",
        name_ru=TEA_RU,
        name_zh=TEA_ZH,
        quantity=teas[0][1],
        order_id=teas[0][2],
        order_number=teas[0][0],
    )
    assert {r.reservation_id for r in rows} == set(
        Reservation.objects.filter(order__in=[first, second]).values_list("id", flat=True)
    )
    assert Reservation.objects.filter(
        stock__warehouse=world.hrb, status="active", order_id__in=[first.id, second.id]
    ).count() == len(rows)

    assert [
        (r.location, r.sku, r.quantity, r.order_number)
        for r in pick_list_rows(warehouse_id=world.sfh.id)
    ] == [("S-01", "TEA-0001", 4, suifenhe.number)]
    assert [
        (r.location, r.sku, r.order_number)
        for r in pick_list_rows(warehouse_id=world.hrb.id, order_ids=[second.id])
    ] == [("A-01-2", "TEA-0001", second.number), ("", "PHONE-0003", second.number)]
    assert pick_list_rows(warehouse_id=world.hrb.id, order_ids=[]) == []
    assert pick_list_rows(warehouse_id=world.svx.id) == []


def test_pick_list_pdf_groups_rows_by_location(world: World) -> None:
    chinese_catalogue(world)
    tea, boot, _phone = world.products
    StockLevel.objects.filter(warehouse=world.hrb, product=tea).update(location="A-01-2")
    StockLevel.objects.filter(warehouse=world.hrb, product=boot).update(location="B-03-1")
    first = place(world, ("TEA-0001", 2), ("BOOT-0002", 1))
    second = place(world, ("PHONE-0003", 1))
    suifenhe = place(world, ("TEA-0001", 4), region="RU-PRI")

    data = pick_list_pdf(warehouse_id=world.hrb.id)

    reader = PdfReader(io.BytesIO(data))
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - A4_PT[0]) < 0.5
    assert abs(float(box.height) - A4_PT[1]) < 0.5
    text = pdf_text(data)
    positions = [
        text.index(marker)
        for marker in (
            "拣货单 / Лист подбора · HRB",
            "库位 / Ячейка: A-01-2",
            "TEA-0001",
            "库位 / Ячейка: B-03-1",
            "BOOT-0002",
            "无库位 / Без ячейки",
            "PHONE-0003",
        )
    ]
    assert positions == sorted(positions)
    for expected in (first.number, second.number, TEA_RU, TEA_ZH, PHONE_ZH, "冬季靴子"):
        assert expected in text, expected
    assert suifenhe.number not in text
    assert embedded_fonts(data) == SHIPPED


@pytest.mark.parametrize(
    "render",
    [
        lambda: parcel_label_pdf(parcel_id=999_999),
        lambda: packing_slip_pdf(order_id=999_999),
        lambda: pick_list_pdf(warehouse_id=999_999),
    ],
    ids=["label", "slip", "pick-list"],
)
def test_documents_of_missing_objects_are_not_found(db: Any, render: Any) -> None:
    with pytest.raises(NotFound):
        render()


def test_parcel_model_is_unchanged_by_printing(world: World) -> None:
    order = place(world, ("TEA-0001", 1))
    [parcel] = order_pack(order_id=order.id)
    before = Parcel.objects.filter(id=parcel.id).values().get()

    parcel_label_pdf(parcel_id=parcel.id)
    packing_slip_pdf(order_id=order.id)

    assert Parcel.objects.filter(id=parcel.id).values().get() == before

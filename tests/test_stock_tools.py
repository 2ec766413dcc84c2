"""Stock tools: the ledger audit, CSV import/export in the admin, low-stock
events for the merchant's staff."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from commands.cancel import order_cancel
from commands.place import order_place
from commands.quote import LineRequest
from core.cache import reference_caches_clear
from notifications.models import OutboxEvent, WebhookDelivery
from notifications.services import subscription_create
from orders.services import Address
from tests.conftest import World, client_for
from tests.factories import MerchantStaffFactory, ProductFactory, UserFactory
from tests.receiver import webhook_receiver
from warehouses.csv_io import StockCsvInvalid, stock_csv_read
from warehouses.models import Reservation, StockLevel, StockMovement
from warehouses.selectors import StockDifference, stock_audit_differences
from warehouses.services import (
    StockImportRejected,
    stock_import_rows,
    stock_receive,
)

IMPORT_URL = "/admin/warehouses/stocklevel/import/"
EXPORT_URL = "/admin/warehouses/stocklevel/export/"


@pytest.fixture(autouse=True)
def _english() -> Any:
    """These tests read the exact English messages."""
    with translation.override("en"):
        yield


def level(world: World, code: str, sku: str) -> StockLevel:
    return StockLevel.objects.get(warehouse__code=code, product__sku=sku)


def ledger() -> list[tuple[str, str, str, int, int, str, int | None]]:
    return list(
        StockMovement.objects.order_by("id").values_list(
            "stock__warehouse__code",
            "stock__product__sku",
            "kind",
            "on_hand_delta",
            "reserved_delta",
            "reason",
            "actor_id",
        )
    )


def levels() -> list[tuple[str, str, int, int, str, int | None]]:
    return list(
        StockLevel.objects.order_by("warehouse__code", "product__sku").values_list(
            "warehouse__code",
            "product__sku",
            "on_hand",
            "reserved",
            "location",
            "low_stock_threshold",
        )
    )


def reserve(world: World, sku: str, quantity: int) -> Any:
    return order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku, quantity)],
        address=Address(**world.address()),
        payment_method="card",
    )


def operator() -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(
        UserFactory.create(email="root@amur.example", is_staff=True, is_superuser=True)
    )
    return client


def merchant_staff(merchant: Any, *codenames: str) -> Any:
    user = MerchantStaffFactory.create(merchant=merchant).user
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


def upload(client: Client, text: str) -> Any:
    return client.post(IMPORT_URL, {"file": SimpleUploadedFile("stock.csv", text.encode())})


# --- stock_audit ------------------------------------------------------------


def test_audit_passes_when_every_level_is_the_sum_of_its_movements(world: World) -> None:
    reserve(world, "TEA-0001", 2)
    out = StringIO()
    call_command("stock_audit", stdout=out)
    assert out.getvalue() == "All 4 stock levels match their movements and reservations.\n"
    assert stock_audit_differences() == []


def test_audit_fails_and_names_a_level_changed_behind_the_ledgers_back(world: World) -> None:
    reserve(world, "TEA-0001", 2)
    StockLevel.objects.filter(warehouse=world.hrb, product__sku="TEA-0001").update(on_hand=45)
    StockLevel.objects.filter(warehouse=world.sfh).update(reserved=1)
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("stock_audit", stdout=out)
    assert failure.value.returncode == 1
    assert str(failure.value) == (
        "2 of 4 stock levels differ from their movements or active reservations."
    )
    assert out.getvalue() == (
        "HRB TEA-0001: on_hand stored 45 recomputed 50, reserved stored 2 recomputed 2,"
        " in active reservations 2\n"
        "SFH TEA-0001: on_hand stored 20 recomputed 20, reserved stored 1 recomputed 0,"
        " in active reservations 0\n"
    )


def test_audit_names_a_level_whose_reserved_units_no_active_reservation_holds(
    world: World,
) -> None:
    """The movements add up, but a reservation was closed without its
    release (or one left active after it): reserved no longer counts the
    units orders hold."""
    kept = reserve(world, "TEA-0001", 2)
    closed = reserve(world, "BOOT-0002", 3)
    reserve(world, "BOOT-0002", 1)
    Reservation.objects.filter(order=closed).update(status=Reservation.Status.RELEASED)
    order_cancel(order_id=kept.id, actor_id=None)
    Reservation.objects.filter(order=kept).update(status=Reservation.Status.ACTIVE)
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("stock_audit", stdout=out)
    assert str(failure.value) == (
        "2 of 4 stock levels differ from their movements or active reservations."
    )
    assert out.getvalue() == (
        "HRB BOOT-0002: on_hand stored 50 recomputed 50, reserved stored 4 recomputed 4,"
        " in active reservations 1\n"
        "HRB TEA-0001: on_hand stored 50 recomputed 50, reserved stored 0 recomputed 0,"
        " in active reservations 2\n"
    )
    assert stock_audit_differences() == [
        StockDifference("HRB", "BOOT-0002", 50, 4, 50, 4, 1),
        StockDifference("HRB", "TEA-0001", 50, 0, 50, 0, 2),
    ]


# --- CSV export -----------------------------------------------------------------


def test_export_lists_every_level_with_available_location_and_threshold(world: World) -> None:
    reserve(world, "TEA-0001", 2)
    StockLevel.objects.filter(warehouse=world.hrb, product__sku="TEA-0001").update(
        location="A-03-2", low_stock_threshold=10
    )
    StockLevel.objects.filter(warehouse=world.sfh).update(location="=HYPERLINK(1)")
    response = operator().get(EXPORT_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="stock-')
    assert response.content.decode() == (
        "warehouse,sku,on_hand,reserved,available,location,low_stock_threshold\n"
        "HRB,BOOT-0002,50,0,50,,\n"
        "HRB,PHONE-0003,50,0,50,,\n"
        "HRB,TEA-0001,50,2,48,A-03-2,10\n"
        "SFH,TEA-0001,20,0,20,'=HYPERLINK(1),\n"
    )


def test_merchant_staff_export_only_their_products_and_the_action_exports_a_selection(
    world: World,
) -> None:
    staff = merchant_staff(world.products[0].merchant, "view_stocklevel")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff)
    assert client.get(EXPORT_URL).content.decode() == (
        "warehouse,sku,on_hand,reserved,available,location,low_stock_threshold\n"
        "HRB,TEA-0001,50,0,50,,\n"
        "SFH,TEA-0001,20,0,20,,\n"
    )
    boot = level(world, "HRB", "BOOT-0002")
    response = operator().post(
        "/admin/warehouses/stocklevel/",
        {"action": "export_csv", "_selected_action": [boot.id]},
    )
    assert response.content.decode().splitlines()[1:] == ["HRB,BOOT-0002,50,0,50,,"]


def test_changelist_links_export_and_import(world: World) -> None:
    page = operator().get("/admin/warehouses/stocklevel/").content.decode()
    assert f'href="{EXPORT_URL}"' in page and f'href="{IMPORT_URL}"' in page
    viewer = merchant_staff(world.products[0].merchant, "view_stocklevel")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(viewer)
    page = client.get("/admin/warehouses/stocklevel/").content.decode()
    assert f'href="{EXPORT_URL}"' in page and f'href="{IMPORT_URL}"' not in page
    assert client.get(IMPORT_URL).status_code == 403


# --- CSV import -----------------------------------------------------------------


def test_import_writes_adjustments_receipts_locations_and_thresholds(world: World) -> None:
    client = operator()
    before = ledger()
    assert client.get(IMPORT_URL).status_code == 200
    response = upload(
        client,
        "warehouse,sku,on_hand,location,low_stock_threshold\n"
        "HRB,TEA-0001,45,A-01-1,10\n"
        "HRB,BOOT-0002,50,,\n"
        "\n"
        "SFH,BOOT-0002,7,B-02,\n"
        "SFH,PHONE-0003,0,C-1,3\n",
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/warehouses/stocklevel/"
    root = response.wsgi_request.user.id
    assert ledger()[len(before) :] == [
        ("HRB", "TEA-0001", "adjustment", -5, 0, "CSV import", root),
        ("SFH", "BOOT-0002", "receipt", 7, 0, "CSV import", root),
    ]
    assert levels() == [
        ("HRB", "BOOT-0002", 50, 0, "", None),
        ("HRB", "PHONE-0003", 50, 0, "", None),
        ("HRB", "TEA-0001", 45, 0, "A-01-1", 10),
        ("SFH", "BOOT-0002", 7, 0, "B-02", None),
        ("SFH", "PHONE-0003", 0, 0, "C-1", 3),
        ("SFH", "TEA-0001", 20, 0, "", None),
    ]
    page = client.get("/admin/warehouses/stocklevel/").content.decode()
    assert "Imported 4 rows: 2 new stock levels, 1 updated, 2 movements." in page
    out = StringIO()
    call_command("stock_audit", stdout=out)  # the ledger still adds up


def test_an_exported_file_imports_back_without_a_change(world: World) -> None:
    client = operator()
    exported = client.get(EXPORT_URL).content.decode()
    before = (ledger(), levels())
    assert upload(client, exported).status_code == 302
    assert (ledger(), levels()) == before


def test_import_without_optional_columns_keeps_location_and_threshold(world: World) -> None:
    StockLevel.objects.filter(warehouse=world.sfh).update(location="S-1", low_stock_threshold=5)
    rows = stock_csv_read(data=b"sku;warehouse;on_hand\r\nTEA-0001;SFH;25\r\n")
    result = stock_import_rows(rows=rows, actor_id=None, merchant_id=None)
    assert (result.rows, result.levels_created, result.levels_updated, result.movements) == (
        1,
        0,
        1,
        1,
    )
    assert level(world, "SFH", "TEA-0001").location == "S-1"
    assert level(world, "SFH", "TEA-0001").low_stock_threshold == 5
    assert ledger()[-1] == ("SFH", "TEA-0001", "adjustment", 5, 0, "CSV import", None)


BAD_FILE = (
    "warehouse,sku,on_hand,low_stock_threshold\n"
    "HRB,TEA-0001,2,\n"
    "XXX,NOPE-1,abc,\n"
    "HRB,BOOT-0002,-1,x\n"
    "HRB,PHONE-0003,40,5\n"
    "HRB,PHONE-0003,41,5\n"
    "HRB,BOOT-0002\n"
    "SFH,TEA-0001,19,\n"
)
BAD_FILE_ERRORS = [
    (2, ["on_hand 2 is below the 3 units reserved."]),
    (
        3,
        [
            'Unknown warehouse "XXX".',
            'Unknown SKU "NOPE-1".',
            'on_hand "abc" is not a whole number of 0 or more.',
        ],
    ),
    (
        4,
        [
            'on_hand "-1" is not a whole number of 0 or more.',
            'low_stock_threshold "x" is not a whole number of 0 or more.',
        ],
    ),
    (6, ["Duplicate of line 5 (same warehouse and SKU)."]),
    (7, ["Expected 4 cells, found 2."]),
]


def test_one_bad_row_applies_nothing_and_every_bad_row_is_listed(world: World) -> None:
    reserve(world, "TEA-0001", 3)
    before = (ledger(), levels())
    with pytest.raises(StockImportRejected) as rejected:
        stock_import_rows(
            rows=stock_csv_read(data=BAD_FILE.encode()), actor_id=None, merchant_id=None
        )
    assert rejected.value.row_errors == BAD_FILE_ERRORS
    response = upload(operator(), BAD_FILE)
    assert response.status_code == 200
    assert response.context["row_errors"] == BAD_FILE_ERRORS
    page = response.content.decode()
    assert "Unknown warehouse &quot;XXX&quot;." in page
    assert "Nothing was imported" in page
    assert (ledger(), levels()) == before


def test_a_row_below_reserved_alone_rejects_a_file_that_would_create_levels(
    world: World,
) -> None:
    reserve(world, "TEA-0001", 3)
    before = (ledger(), levels())
    with pytest.raises(StockImportRejected) as rejected:
        stock_import_rows(
            rows=stock_csv_read(data=b"warehouse,sku,on_hand\nSVX,TEA-0001,5\nHRB,TEA-0001,2\n"),
            actor_id=None,
            merchant_id=None,
        )
    assert rejected.value.row_errors == [(3, ["on_hand 2 is below the 3 units reserved."])]
    assert (ledger(), levels()) == before  # the SVX level was not created


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"warehouse,sku,on_hand\n", "The file has no stock rows."),
        (b"warehouse,sku\nHRB,TEA-0001\n", "Missing columns: on_hand."),
        (
            b"warehouse,sku,on_hand,price\nHRB,TEA-0001,1,2\n",
            "Unknown columns: price. The columns are warehouse, sku, on_hand, location, "
            "low_stock_threshold.",
        ),
        (
            "warehouse,sku,on_hand\nХРБ,TEA-0001,1\n".encode("cp1251"),
            "Save the file as CSV in UTF-8.",
        ),
    ],
)
def test_unusable_files_are_refused_whole(data: bytes, message: str) -> None:
    with pytest.raises(StockCsvInvalid) as refused:
        stock_csv_read(data=data)
    assert str(refused.value) == message


def test_merchant_staff_cannot_touch_another_merchants_sku(world: World) -> None:
    staff = merchant_staff(world.products[0].merchant, "view_stocklevel", "change_stocklevel")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff)
    before = (ledger(), levels())
    response = upload(
        client, "warehouse,sku,on_hand\nHRB,TEA-0001,40\nHRB,BOOT-0002,10\nSFH,PHONE-0003,1\n"
    )
    assert response.status_code == 200
    assert response.context["row_errors"] == [
        (3, ['SKU "BOOT-0002" is not one of your products.']),
        (4, ['SKU "PHONE-0003" is not one of your products.']),
    ]
    assert (ledger(), levels()) == before
    assert upload(client, "warehouse,sku,on_hand\nHRB,TEA-0001,40\n").status_code == 302
    assert level(world, "HRB", "TEA-0001").on_hand == 40
    assert ledger()[-1] == ("HRB", "TEA-0001", "adjustment", -10, 0, "CSV import", staff.id)


# --- low-stock events -----------------------------------------------------------


def stock_low_events() -> list[tuple[str, dict[str, Any], list[int]]]:
    return list(
        OutboxEvent.objects.filter(type="stock.low")
        .order_by("created_at", "sequence")
        .values_list("subject", "payload", "audience_ids")
    )


def test_crossing_the_threshold_records_one_event_for_the_merchants_staff(
    world: World,
) -> None:
    tea = world.products[0]
    staff = [merchant_staff(tea.merchant).id, merchant_staff(tea.merchant).id]
    merchant_staff(world.products[1].merchant)  # another merchant's
    StockLevel.objects.filter(warehouse=world.hrb, product=tea).update(low_stock_threshold=40)
    stock_receive(warehouse_id=world.hrb.id, product_id=tea.id, quantity=-10, kind="adjustment")
    assert stock_low_events() == []  # 40 available: not below 40 yet
    order = reserve(world, "TEA-0001", 1)
    event = {"sku": "TEA-0001", "warehouse": "HRB", "available": 39, "threshold": 40}
    assert stock_low_events() == [("stock:TEA-0001@HRB", event, sorted(staff))]
    reserve(world, "TEA-0001", 1)
    stock_receive(warehouse_id=world.hrb.id, product_id=tea.id, quantity=-1, kind="adjustment")
    assert len(stock_low_events()) == 1  # still below: no second event
    # Back to the threshold, then below again: a new event.
    order_cancel(order_id=order.id, actor_id=None)  # releases its stock
    stock_receive(warehouse_id=world.hrb.id, product_id=tea.id, quantity=2)
    assert level(world, "HRB", "TEA-0001").available == 40
    rows = stock_csv_read(data=b"warehouse,sku,on_hand\nHRB,TEA-0001,5\n")
    stock_import_rows(rows=rows, actor_id=None, merchant_id=tea.merchant_id)
    assert [e[1]["available"] for e in stock_low_events()] == [39, 4]
    sequences = list(
        OutboxEvent.objects.filter(type="stock.low")
        .order_by("created_at")
        .values_list("sequence", flat=True)
    )
    assert sequences == sorted(sequences) and sequences[0] < sequences[1]


def test_low_stock_events_cost_no_query_per_line(world: World) -> None:
    skus: list[str] = []
    for i in range(10):
        product = ProductFactory.create(sku=f"LOW-{i:03d}", weight_g=100)
        stock_receive(warehouse_id=world.hrb.id, product_id=product.id, quantity=10)
        skus.append(product.sku)
    StockLevel.objects.filter(product__sku__startswith="LOW-").update(low_stock_threshold=10)
    api = client_for(world.buyer.user)

    def place(*lines: tuple[str, int], key: str) -> int:
        body = world.order_body(*lines)
        return api.post(
            "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key
        ).status_code

    reference_caches_clear()  # count reference reads both times
    with CaptureQueriesContext(connection) as one:
        assert place((skus[0], 1), key="one") == 201
    reference_caches_clear()
    with CaptureQueriesContext(connection) as ten:
        assert place(*[(s, 1) for s in skus[1:]], ("TEA-0001", 1), key="ten") == 201
    assert len(stock_low_events()) == 10
    assert len(ten.captured_queries) == len(one.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_stock_low_webhook_reaches_the_merchants_staff_only(world: World) -> None:
    tea = world.products[0]
    mine = merchant_staff(tea.merchant)
    theirs = merchant_staff(world.products[1].merchant)
    StockLevel.objects.filter(warehouse=world.hrb, product=tea).update(low_stock_threshold=48)
    with webhook_receiver() as my_hooks, webhook_receiver() as their_hooks:
        subscription_create(owner_id=mine.id, url=my_hooks.url, event_types=["stock.low"])
        subscription_create(owner_id=theirs.id, url=their_hooks.url, event_types=[])
        reserve(world, "TEA-0001", 2)  # 48 available: not below
        reserve(world, "TEA-0001", 1)  # 47: below
        reserve(world, "TEA-0001", 1)  # 46: still below
        mine_bodies, theirs_bodies = my_hooks.bodies(), their_hooks.bodies()
    assert [(b["type"], b["subject"], b["data"]) for b in mine_bodies] == [
        (
            "stock.low",
            "stock:TEA-0001@HRB",
            {"sku": "TEA-0001", "warehouse": "HRB", "available": 47, "threshold": 48},
        )
    ]
    assert theirs_bodies == []
    assert WebhookDelivery.objects.count() == 1

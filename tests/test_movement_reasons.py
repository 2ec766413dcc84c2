"""Stock movements say why they moved in English (operators search them so);
merchants read the reason in their own language, and a note typed by staff
as it was written."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.utils import translation

from commands.cancel import order_cancel
from tests.conftest import World
from tests.factories import MerchantStaffFactory
from tests.test_returns import place
from tests.test_split import admin_for
from warehouses.models import StockMovement
from warehouses.reasons import (
    DEMO_OPENING_STOCK,
    movement_reason_label,
    return_movement_reason,
    shortfall_movement_reason,
    transfer_movement_reason,
)

WRITTEN = [
    return_movement_reason("AM2612ABCDEFGHIJ-R1"),
    transfer_movement_reason(12),
    shortfall_movement_reason(transfer_movement_reason(12), 3, "box crushed at the border"),
    shortfall_movement_reason(transfer_movement_reason(12), 3, ""),
    "cancelled by buyer",
    DEMO_OPENING_STOCK,
    "counted again after the inventory",
]


@pytest.mark.parametrize(
    ("language", "read"),
    [
        (
            "zh-hans",
            [
                "退货 AM2612ABCDEFGHIJ-R1",
                "调拨 12",
                "调拨 12：短少 3（box crushed at the border）",
                "调拨 12：短少 3",
                "买家已取消",
                "演示期初库存",
                "counted again after the inventory",
            ],
        ),
        (
            "ru",
            [
                "Возврат AM2612ABCDEFGHIJ-R1",
                "Перемещение 12",
                "Перемещение 12: недостача 3 (box crushed at the border)",
                "Перемещение 12: недостача 3",
                "Отменён покупателем",
                "Начальный остаток демо",
                "counted again after the inventory",
            ],
        ),
        (
            "en",
            [
                "Return AM2612ABCDEFGHIJ-R1",
                "Transfer 12",
                "Transfer 12: 3 short (box crushed at the border)",
                "Transfer 12: 3 short",
                "Cancelled by the buyer",
                "Opening stock of the demo",
                "counted again after the inventory",
            ],
        ),
    ],
)
def test_every_reason_the_code_writes_reads_in_the_merchants_language(
    language: str, read: list[str]
) -> None:
    assert WRITTEN[3] == "transfer 12 short by 3:"
    with translation.override(language):
        assert [movement_reason_label(reason) for reason in WRITTEN] == read


def test_the_merchant_reads_a_cancellations_release_in_chinese(world: World) -> None:
    order = place(world, ("TEA-0001", 1))
    order_cancel(order_id=order.id, actor_id=None)
    release = StockMovement.objects.get(order=order, kind=StockMovement.Kind.RELEASE)
    assert release.reason == "cancelled by buyer"
    staff = MerchantStaffFactory.create(merchant=world.products[0].merchant, country="CN").user
    # As the merchants' group grants it (commands.demo.MERCHANT_PERMISSIONS).
    staff.user_permissions.add(Permission.objects.get(codename="view_stockmovement"))
    client = admin_for(staff)

    listing = client.get("/admin/warehouses/stockmovement/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = client.get(
        f"/admin/warehouses/stockmovement/{release.id}/change/", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    # The stored English still finds it.
    found = client.get(
        "/admin/warehouses/stockmovement/?q=cancelled+by+buyer", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    assert listing.status_code == page.status_code == found.status_code == 200
    assert "买家已取消" in listing.content.decode()
    assert "买家已取消" in page.content.decode()
    assert f"/admin/warehouses/stockmovement/{release.id}/change/" in found.content.decode()

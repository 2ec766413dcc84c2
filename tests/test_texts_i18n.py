"""Order and tracking texts in the reader's language (?lang= over
Accept-Language): event reasons and statuses, event descriptions, places by
name; the tracking page in the delivery region's local time with its zone,
dates as the language writes them, nothing "expected" after delivery."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from commands.pack import order_pack
from orders.models import Order
from shipping.fulfilment.models import Parcel
from shipping.tracking.models import TrackingEvent
from shipping.tracking.timeline import NewEvent, parcel_events_apply
from tests.conftest import World, client_for

LABEL_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ACCEPTED_AT = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)  # 01:30 on the 21st in Yekaterinburg
RELEASED_AT = datetime(2026, 11, 23, 7, 5, tzinfo=UTC)
DELIVERED_AT = datetime(2026, 11, 24, 21, 15, tzinfo=UTC)  # 02:15 on the 25th there


def place(world: World, method: str = "card") -> str:
    response = client_for(world.buyer.user).post(
        "/api/v1/orders/",
        world.order_body(("TEA-0001", 1), method=method),
        format="json",
        HTTP_IDEMPOTENCY_KEY="texts",
    )
    assert response.status_code == 201
    number: str = response.json()["number"]
    return number


def travelled(world: World, *, delivered: bool) -> Parcel:
    """A cash-on-delivery parcel to Yekaterinburg, scanned in Harbin and
    released by customs in Yekaterinburg, and delivered if asked."""
    order = Order.objects.get(number=place(world, method="cod"))
    [parcel] = order_pack(order_id=order.id)
    TrackingEvent.objects.filter(parcel=parcel).update(occurred_at=LABEL_AT)
    Parcel.objects.filter(id=parcel.id).update(created_at=LABEL_AT)
    events = [
        NewEvent(parcel.id, "accepted", ACCEPTED_AT, source="courier", location="HRB"),
        NewEvent(parcel.id, "customs_released", RELEASED_AT, source="courier", location="SVX"),
    ]
    if delivered:
        events.append(
            NewEvent(
                parcel.id, "delivered", DELIVERED_AT, source="courier", location="Екатеринбург"
            )
        )
    parcel_events_apply(events=events)
    parcel.refresh_from_db()
    return parcel


@pytest.mark.parametrize(
    ("lang", "reasons", "labels"),
    [
        (
            "en",
            ["", "Paid by card", "Goods reserved in the warehouse"],
            ["Pending payment", "Paid", "Allocated"],
        ),
        (
            "ru",
            ["", "Оплачен картой", "Товары зарезервированы на складе"],
            ["Ожидает оплаты", "Оплачено", "Зарезервировано"],
        ),
        ("zh-hans", ["", "已用银行卡付款", "商品已在仓库预留"], ["待付款", "已付款", "已分配库存"]),
    ],
)
def test_order_events_read_in_the_asked_language(
    world: World, lang: str, reasons: list[str], labels: list[str]
) -> None:
    number = place(world)
    client = client_for(world.buyer.user)
    client.post(f"/api/v1/orders/{number}/pay/", {"token": "tok_approve"}, format="json")
    events = client.get(
        f"/api/v1/orders/{number}/events/?lang={lang}", HTTP_ACCEPT_LANGUAGE="ru"
    ).json()
    assert [(e["reason"], e["reason_label"]) for e in events] == list(
        zip(["", "card captured", "stock reserved"], reasons, strict=True)
    )
    assert [e["to_status_label"] for e in events] == labels
    assert [e["from_status_label"] for e in events] == ["", *labels[:2]]


def test_tracking_api_describes_events_and_names_places_in_local_time(world: World) -> None:
    parcel = travelled(world, delivered=True)
    body = APIClient().get(f"/api/v1/tracking/{parcel.tracking_number}/?lang=ru").json()
    assert (body["status"], body["status_display"], body["final"], body["time_zone"]) == (
        "delivered",
        "Доставлено",
        True,
        "Asia/Yekaterinburg",
    )
    assert body["delivered_at"] == "2026-11-24T21:15:00Z"
    assert [
        (e["event"], e["description"], e["place"], e["occurred_at"], e["occurred_at_local"])
        for e in body["events"]
    ] == [
        (
            "label_created",
            "Создана транспортная этикетка",
            "",
            "2026-11-20T09:00:00Z",
            "2026-11-20T14:00:00+05:00",
        ),
        (
            "accepted",
            "Принято перевозчиком",
            "Харбин",
            "2026-11-20T20:30:00Z",
            "2026-11-21T01:30:00+05:00",
        ),
        (
            "customs_released",
            "Выпущено таможней",
            "Екатеринбург",
            "2026-11-23T07:05:00Z",
            "2026-11-23T12:05:00+05:00",
        ),
        (
            "delivered",
            "Доставлено",
            "Екатеринбург",
            "2026-11-24T21:15:00Z",
            "2026-11-25T02:15:00+05:00",
        ),
    ]
    zh = (
        APIClient()
        .get(f"/api/v1/tracking/{parcel.tracking_number}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
        .json()
    )
    assert [(e["description"], e["place"]) for e in zh["events"][1:3]] == [
        ("承运商已收件", "哈尔滨"),
        ("海关已放行", "叶卡捷琳堡"),
    ]


@pytest.mark.parametrize(
    ("query", "header", "texts"),
    [
        (
            "?lang=ru",
            "en",
            [
                '<html lang="ru">',
                "Вручено 25 ноября 2026 г.",
                "Время указано местное для адреса доставки: Asia/Yekaterinburg, UTC+05:00.",
                "21 ноября 2026 г. 1:30</time>\n          Принято перевозчиком — Харбин",
                "23 ноября 2026 г. 12:05</time>\n          Выпущено таможней — Екатеринбург",
            ],
        ),
        (
            "",
            "zh-hans",
            [
                '<html lang="zh-hans">',
                "已于 2026年11月25日 妥投。",
                "2026年11月21日 01:30</time>\n          承运商已收件 — 哈尔滨",
            ],
        ),
        (
            "?lang=en",
            "ru",
            [
                '<html lang="en">',
                "Delivered on Nov. 25, 2026.",
                "Times are local to the delivery address: Asia/Yekaterinburg, UTC+05:00.",
                "Nov. 21, 2026, 1:30 a.m.</time>\n          Accepted by the carrier — Harbin",
            ],
        ),
    ],
    ids=["lang-ru", "accept-zh", "lang-en"],
)
def test_the_tracking_page_in_local_time_and_the_languages_dates(
    world: World, query: str, header: str, texts: list[str]
) -> None:
    parcel = travelled(world, delivered=True)
    page = APIClient().get(f"/track/{parcel.tracking_number}{query}", HTTP_ACCEPT_LANGUAGE=header)
    html = page.content.decode()
    for text in texts:
        assert text in html
    for raw in ("HRB", "customs_released", "EMF", "UTC</time>", "Expected", "Ожидаемая", "预计"):
        assert raw not in html


def test_the_page_expects_delivery_only_until_delivered(world: World) -> None:
    parcel = travelled(world, delivered=False)
    html = APIClient().get(f"/track/{parcel.tracking_number}?lang=en").content.decode()
    assert parcel.status == "in_transit"
    # Packed on 2026-11-20 in Yekaterinburg, promised 4 to 7 days.
    assert "Expected delivery between Nov. 24, 2026 and Nov. 27, 2026." in html
    assert "Delivered on" not in html


def test_an_unknown_lang_on_the_page_falls_back_to_accept_language(world: World) -> None:
    parcel = travelled(world, delivered=False)
    page: Any = APIClient().get(
        f"/track/{parcel.tracking_number}?lang=xx", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert page.status_code == 200
    assert '<html lang="en">' in page.content.decode()

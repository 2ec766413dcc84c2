"""Orders as a mobile app shows them: roubles beside yuan, shipments with
their windows, the pay-by deadline, payment and refunds, labels in the
request's language, the hold, and a 3-D Secure link a browser opens."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from commands.pack import order_pack
from commands.review import order_review_approve
from orders.models import Order
from payments.models import Payment
from risk.models import RiskRule
from tests.conftest import World, client_for
from tests.factories import UserFactory


def place(world: World, *lines: tuple[str, int], key: str = "k", method: str = "card") -> Any:
    response = client_for(world.buyer.user).post(
        "/api/v1/orders/",
        world.order_body(*lines, method=method),
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_new_card_order_shows_roubles_labels_window_and_pay_by(world: World) -> None:
    body = place(world, ("TEA-0001", 2), ("PHONE-0003", 1))
    order = Order.objects.get(number=body["number"])
    placed_on = timezone.localtime(order.created_at, ZoneInfo("Asia/Yekaterinburg")).date()
    expected_extras = {
        "status_label": "Pending payment",
        "payment_method_label": "Card",
        "pay_by": iso(order.created_at + timedelta(minutes=30)),
        "hold": None,
        "payment": None,
        # Two merchants' goods from Harbin: two parts, one window.
        "shipments": [
            {
                "number": f"{order.number}-{part}",
                "status": "pending",
                "warehouse": "HRB",
                "lane": "HRB-SVX-AIR",
                "crosses_border": True,
                "window": {
                    "min_days": 4,
                    "max_days": 7,
                    "earliest": (placed_on + timedelta(days=4)).isoformat(),
                    "latest": (placed_on + timedelta(days=7)).isoformat(),
                },
                "parcels": [],
                "tracking_numbers": [],
            }
            for part in (1, 2)
        ],
    }
    # The answer to the placement, and a later read, in English.
    detail = client_for(world.buyer.user).get(
        f"/api/v1/orders/{order.number}/", HTTP_ACCEPT_LANGUAGE="en"
    )
    for answer in (body, detail.json()):
        assert {key: answer[key] for key in expected_extras} == expected_extras
        # 98 CNY at 11 RUB; 1299 CNY = 14289 RUB.
        assert [
            (line["sku"], line["unit_price"], line["unit_price_rub"], line["line_total_rub"])
            for line in answer["lines"]
        ] == [
            (
                "TEA-0001",
                {"amount": "98.00", "currency": "CNY"},
                {"amount": "1078.00", "currency": "RUB"},
                {"amount": "2156.00", "currency": "RUB"},
            ),
            (
                "PHONE-0003",
                {"amount": "1299.00", "currency": "CNY"},
                {"amount": "14289.00", "currency": "RUB"},
                {"amount": "14289.00", "currency": "RUB"},
            ),
        ]


@pytest.mark.parametrize(
    ("query", "header", "labels"),
    [
        ("?lang=ru", "en", ("Ожидает оплаты", "Банковская карта")),
        ("?lang=zh-hans", "ru", ("待付款", "银行卡")),
        ("", "ru", ("Ожидает оплаты", "Банковская карта")),
        ("?lang=en", "ru", ("Pending payment", "Card")),
    ],
)
def test_labels_follow_lang_over_accept_language(
    world: World, query: str, header: str, labels: tuple[str, str]
) -> None:
    number = place(world, ("TEA-0001", 1))["number"]
    response = client_for(world.buyer.user).get(
        f"/api/v1/orders/{number}/{query}", HTTP_ACCEPT_LANGUAGE=header
    )
    assert (response.json()["status_label"], response.json()["payment_method_label"]) == labels
    assert response["Content-Language"] == (query[6:] or header)


def test_an_unknown_lang_is_400(world: World) -> None:
    response = client_for(world.buyer.user).get(
        "/api/v1/orders/?lang=xx", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"lang": ["Choose ru, zh-hans or en."]}


def test_3ds_link_is_absolute_and_opens_a_page_whose_buttons_pay(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    number = place(world, ("TEA-0001", 1))["number"]
    client = client_for(world.buyer.user)
    paid = client.post(f"/api/v1/orders/{number}/pay/", {"token": "tok_3ds"}, format="json")
    assert paid.status_code == 202
    url = paid.json()["confirmation_url"]
    payment = Payment.objects.get(order__number=number)
    path = f"/api/v1/payments/sandbox/confirm/{payment.provider_reference}/"
    assert url == "http://testserver" + path
    detail = client.get(f"/api/v1/orders/{number}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert detail["payment"] == {
        "method": "card",
        "status": "requires_action",
        "status_label": "Requires the buyer's confirmation",
        "amount": {"amount": f"{payment.amount:.2f}", "currency": "RUB"},
        "refunded": {"amount": "0.00", "currency": "RUB"},
        "confirmation_url": url,
        "decline_code": "",
        "refunds": [],
    }
    browser = APIClient()
    page = browser.get(path, HTTP_ACCEPT="text/html", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert page["Content-Type"] == "text/html; charset=utf-8"
    html = page.content.decode()
    assert f"Order {number}" in html
    assert f"{payment.amount:.2f} RUB" in html
    forms = re.findall(
        r'<form method="post" action="([^"]+)"><input type="hidden" name="outcome" value="(\w+)">',
        html,
    )
    assert forms == [(path, "approve"), (path, "decline")]
    with django_capture_on_commit_callbacks(execute=True):
        answered = browser.post(
            path,
            "outcome=approve",
            content_type="application/x-www-form-urlencoded",
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert answered.status_code == 200
    assert answered["Content-Type"] == "text/html; charset=utf-8"
    text = answered.content.decode()
    assert '<html lang="en">' in text
    assert "Payment approved. The shop is told; you may return to it." in text
    assert 'name="outcome"' not in text
    after = client.get(f"/api/v1/orders/{number}/").json()
    assert (after["status"], after["payment"]["status"], after["pay_by"]) == (
        "allocated",
        "captured",
        None,
    )


def test_the_link_uses_public_base_url_when_set(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = place(world, ("TEA-0001", 1))["number"]
    client = client_for(world.buyer.user)
    client.post(f"/api/v1/orders/{number}/pay/", {"token": "tok_3ds"}, format="json")
    reference = Payment.objects.get(order__number=number).provider_reference
    monkeypatch.setitem(settings.AMUR, "PUBLIC_BASE_URL", "https://amur.example")
    detail = client.get(f"/api/v1/orders/{number}/").json()
    assert detail["payment"]["confirmation_url"] == (
        f"https://amur.example/api/v1/payments/sandbox/confirm/{reference}/"
    )


def test_the_confirm_page_of_an_unknown_payment_is_404(db: Any) -> None:
    response = APIClient().get(f"/api/v1/payments/sandbox/confirm/sbx_{'0' * 24}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_held_order_says_it_is_under_review_and_refuses_payment(world: World) -> None:
    RiskRule.objects.filter(code="orders-per-hour").update(limit=0, is_active=True)
    number = place(world, ("TEA-0001", 1))["number"]
    client = client_for(world.buyer.user)
    detail = client.get(f"/api/v1/orders/{number}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert (detail["status"], detail["status_label"], detail["pay_by"]) == (
        "on_hold",
        "On review",
        None,
    )
    assert detail["hold"] == {
        "code": "under_review",
        "reason": "Held for review: our staff check the order before it goes ahead.",
    }
    ru = client.get(f"/api/v1/orders/{number}/?lang=ru").json()
    assert ru["hold"]["reason"] == (
        "Заказ на проверке: сотрудники проверяют его, прежде чем он пойдёт дальше."
    )
    paid = client.post(
        f"/api/v1/orders/{number}/pay/",
        {"token": "tok_approve"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert paid.status_code == 409
    assert paid.json() == {
        "code": "order_under_review",
        "message": "This order is under review; it can be paid once the review is done.",
        "fields": {},
        "current_status": "on_hold",
    }
    staff = UserFactory.create(email="ops@amur.example", is_staff=True, is_superuser=True)
    order = Order.objects.get(number=number)
    order_review_approve(order_id=order.id, actor_id=staff.id)
    decided = order.risk_holds.get().decided_at
    assert decided is not None
    after = client.get(f"/api/v1/orders/{number}/").json()
    # The unpaid clock starts again at the approval.
    assert (after["status"], after["hold"], after["pay_by"]) == (
        "pending_payment",
        None,
        iso(decided + timedelta(minutes=30)),
    )


def test_a_cancelled_paid_order_shows_its_refund(world: World) -> None:
    number = place(world, ("TEA-0001", 1))["number"]
    client = client_for(world.buyer.user)
    client.post(f"/api/v1/orders/{number}/pay/", {"token": "tok_approve"}, format="json")
    cancelled = client.post(
        f"/api/v1/orders/{number}/cancel/", format="json", HTTP_ACCEPT_LANGUAGE="en"
    ).json()
    payment = Payment.objects.get(order__number=number)
    refund = payment.refunds.get()
    assert (cancelled["status"], cancelled["status_label"]) == ("cancelled", "Cancelled")
    detail = client.get(f"/api/v1/orders/{number}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert detail["payment"]["status"] == payment.status == "refunded"
    assert detail["payment"]["refunded"] == {"amount": f"{payment.amount:.2f}", "currency": "RUB"}
    assert detail["payment"]["refunds"] == [
        {
            "amount": {"amount": f"{payment.amount:.2f}", "currency": "RUB"},
            # Asked of the provider after this test's transaction, which
            # never commits.
            "status": "pending",
            "status_label": "Asked of the provider",
            "created_at": iso(refund.created_at),
        }
    ]


def test_packed_parcels_appear_under_their_shipment(world: World) -> None:
    number = place(world, ("TEA-0001", 1), method="cod")["number"]
    order = Order.objects.get(number=number)
    [parcel] = order_pack(order_id=order.id)
    detail = (
        client_for(world.buyer.user)
        .get(f"/api/v1/orders/{number}/", HTTP_ACCEPT_LANGUAGE="en")
        .json()
    )
    assert [(s["warehouse"], s["parcels"]) for s in detail["shipments"]] == [
        (
            "HRB",
            [
                {
                    "tracking_number": parcel.tracking_number,
                    "status": "info_received",
                    "status_label": "Information received",
                }
            ],
        )
    ]
    assert detail["payment"]["status"] == "awaiting_cash"
    assert detail["pay_by"] is None
    assert Decimal(detail["payment"]["amount"]["amount"]) == order.total_rub

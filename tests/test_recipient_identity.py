"""Recipient identity for parcels that cross the border (FTS order No. 1861):
validation (the INN's check digits), saving it once in the profile, the
order's copy, the refusal to pack without it, and that no identity value
leaks into logs, the outbox, webhooks, e-mail or merchant pages."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client

from accounts.models import BuyerIdentity
from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from core.identity import mask_inn, mask_passport, mask_phone
from core.validators import inn_validator
from notifications.models import OutboxEvent, WebhookAttempt
from orders.models import Order, OrderRecipientIdentity, OrderStatus
from orders.services import Address
from shipping.fulfilment.models import Parcel
from tests.conftest import World, client_for
from tests.factories import IDENTITY, BuyerFactory, MerchantStaffFactory
from tests.flow import IDENTITY_BODY, make_staff_and_courier, run_order_to_delivery
from tests.receiver import webhook_receiver
from tests.test_documents import pdf_text
from tests.test_flow_embedded import django_http
from warehouses.models import StockLevel
from warehouses.services import stock_receive

ACCOUNT = "/api/v1/account/recipient-identity/"
IN_TWO_DAYS = (datetime.now(tz=UTC).date() + timedelta(days=2)).isoformat()
MASKED = {
    "passport": "45 ** ******",
    "passport_issued_on": "**.**.****",
    "birth_date": "**.**.****",
    "inn": "50**********",
}


# --- INN check digits ---------------------------------------------------------


@pytest.mark.parametrize(
    "inn",
    [
        "500100732259",  # the individual INN used in the FNS's examples
        "123456789047",  # python-stdnum's documented valid personal INN
        "660123456729",
    ],
)
def test_valid_individual_inns_pass(inn: str) -> None:
    inn_validator(inn)


@pytest.mark.parametrize(
    "inn",
    [
        "123456789037",  # python-stdnum's documented bad check digit
        "500100732258",  # last check digit off by one
        "500100732269",  # first check digit wrong
        "7707083893",  # a valid company INN (Sberbank): 10 digits, not a person's
        "50010073225",  # 11 digits
        "5001007322590",  # 13 digits
        "50010073225a",
        "",
    ],
)
def test_invalid_individual_inns_fail(inn: str) -> None:
    with pytest.raises(ValidationError) as refused:
        inn_validator(inn)
    assert refused.value.code == "inn_invalid"


def test_masks_keep_nothing_that_identifies() -> None:
    assert mask_passport("4509", "123456") == "45 ** ******"
    assert mask_inn("770123456703") == "77**********"
    assert mask_phone("+79221234567") == "+7 *** ***-**-67"
    assert repr(IDENTITY) == "RecipientIdentity(passport='45 ** ******', ...)"
    assert str(IDENTITY) == repr(IDENTITY)
    assert IDENTITY.masked() == MASKED


# --- The profile ---------------------------------------------------------------


def test_a_buyer_saves_the_document_once_and_reads_it_back_masked(db: Any) -> None:
    buyer = BuyerFactory.create(identity=None)
    client = client_for(buyer.user)
    assert client.get(ACCOUNT).status_code == 404

    response = client.put(ACCOUNT, IDENTITY_BODY, format="json")
    assert (response.status_code, response.json()) == (200, MASKED)
    assert client.get(ACCOUNT).json() == MASKED
    assert BuyerIdentity.objects.get(buyer=buyer).identity() == IDENTITY

    replaced = {**IDENTITY_BODY, "passport_series": "6508", "inn": "660123456729"}
    assert client.put(ACCOUNT, replaced, format="json").json()["inn"] == "66**********"
    assert BuyerIdentity.objects.filter(buyer=buyer).count() == 1

    assert client.delete(ACCOUNT).status_code == 204
    assert not BuyerIdentity.objects.filter(buyer=buyer).exists()
    assert client.delete(ACCOUNT).status_code == 404


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        (
            {"inn": "500100732258"},
            {"inn": ["An individual's INN has 12 digits and valid check digits."]},
        ),
        (
            {"passport_series": "45 09"},
            {"passport_series": ["A Russian passport series has 4 digits."]},
        ),
        (
            {"passport_number": "12345"},
            {"passport_number": ["A Russian passport number has 6 digits."]},
        ),
        (
            {"passport_issued_on": "2003-05-17"},  # at 13
            {"passport_issued_on": ["A passport is issued from the age of 14: check the dates."]},
        ),
        (
            {"passport_issued_on": IN_TWO_DAYS},
            {"passport_issued_on": ["The date of issue cannot be in the future."]},
        ),
        (
            {"birth_date": IN_TWO_DAYS},
            {"birth_date": ["The date of birth must be in the past."]},
        ),
    ],
)
def test_a_bad_document_is_refused_field_by_field_and_nothing_is_saved(
    db: Any, change: dict[str, str], fields: dict[str, list[str]]
) -> None:
    buyer = BuyerFactory.create(identity=None)
    response = client_for(buyer.user).put(
        ACCOUNT, {**IDENTITY_BODY, **change}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["fields"] == fields
    # The message names the rule, never the value given.
    assert all(v not in json.dumps(body) for v in change.values() if len(v) > 4)
    assert not BuyerIdentity.objects.exists()


def test_the_identity_endpoints_need_a_buyer(db: Any, api: Any) -> None:
    assert api.get(ACCOUNT).status_code == 401
    staff = MerchantStaffFactory.create().user
    assert client_for(staff).put(ACCOUNT, IDENTITY_BODY, format="json").status_code == 404


# --- The order's copy and packing ----------------------------------------------


def place(
    world: World, buyer_user_id: int, *lines: tuple[str, int], region: str = "RU-SVE"
) -> Order:
    order = order_place(
        user_id=buyer_user_id,
        lines=[LineRequest(sku, q) for sku, q in lines],
        address=Address(**world.address(region)),
        payment_method="card",
    )
    payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    return Order.objects.get(id=order.id)


def test_placement_copies_the_saved_document_onto_a_cross_border_order(world: World) -> None:
    order = place(world, world.buyer.user_id, ("TEA-0001", 1))
    assert order.plan[0]["crosses_border"] is True
    assert OrderRecipientIdentity.objects.get(order=order).identity() == IDENTITY
    # Each line links to the good on the storefront.
    assert [line.product_url for line in order.lines.all()] == [
        "https://shop.example/products/TEA-0001"
    ]


def test_goods_in_a_russian_warehouse_need_no_document(world: World) -> None:
    stock_receive(warehouse_id=world.svx.id, product_id=world.products[0].id, quantity=5)
    buyer = BuyerFactory.create(identity=None)
    order = place(world, buyer.user_id, ("TEA-0001", 1))
    assert order.plan[0]["crosses_border"] is False
    assert not OrderRecipientIdentity.objects.filter(order=order).exists()
    [parcel] = order_pack(order_id=order.id)
    assert parcel.lane_id == world.local.id
    client = client_for(buyer.user)
    target = f"/api/v1/orders/{order.number}/recipient-identity/"
    assert client.get(target).json() == {"identity_required": False, "identity": None}


def test_packing_a_cross_border_order_without_a_document_is_refused(world: World) -> None:
    buyer = BuyerFactory.create(identity=None)
    order = place(world, buyer.user_id, ("TEA-0001", 2))
    assert order.status == OrderStatus.ALLOCATED
    reserved_before = list(StockLevel.objects.order_by("id").values_list("on_hand", "reserved"))

    staff_token, _courier = make_staff_and_courier()
    staff = Client(HTTP_AUTHORIZATION=f"Token {staff_token}")
    response = staff.post(
        f"/api/v1/ops/orders/{order.number}/pack/",
        {},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 409
    assert response.json() == {
        "code": "recipient_identity_required",
        "message": "The order's parcels cross the border: customs need the recipient's"
        " passport and INN before it is packed.",
        "fields": {},
        "order": order.number,
    }
    # Nothing written: no parcel, the order still allocated, the stock as it was.
    assert not Parcel.objects.filter(order=order).exists()
    assert Order.objects.get(id=order.id).status == OrderStatus.ALLOCATED
    assert list(StockLevel.objects.order_by("id").values_list("on_hand", "reserved")) == (
        reserved_before
    )

    # The buyer gives it for this order; then it packs.
    client = client_for(buyer.user)
    target = f"/api/v1/orders/{order.number}/recipient-identity/"
    assert client.get(target).json() == {"identity_required": True, "identity": None}
    given = client.put(target, IDENTITY_BODY, format="json")
    assert given.json() == {"identity_required": True, "identity": MASKED}
    assert len(order_pack(order_id=order.id)) == 1

    # Packed: the declared document can no longer change.
    refused = client.put(target, IDENTITY_BODY, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "order_already_packed")
    # Nor can another buyer see or set it.
    other = client_for(world.other_buyer.user)
    assert other.get(target).status_code == 404
    assert other.put(target, IDENTITY_BODY, format="json").status_code == 404


def test_an_order_within_russia_takes_no_document(world: World) -> None:
    stock_receive(warehouse_id=world.svx.id, product_id=world.products[0].id, quantity=5)
    order = place(world, world.other_buyer.user_id, ("TEA-0001", 1))
    response = client_for(world.other_buyer.user).put(
        f"/api/v1/orders/{order.number}/recipient-identity/", IDENTITY_BODY, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (409, "recipient_identity_not_needed")
    assert not OrderRecipientIdentity.objects.exists()


# --- No leaks ------------------------------------------------------------------


def identity_values() -> list[str]:
    """Every form an identity value could take in text."""
    # The series alone (4 digits) turns up in timestamps and tokens by chance;
    # with the number it does not.
    values = [
        IDENTITY.passport_number,
        IDENTITY.inn,
        f"{IDENTITY.passport_series} {IDENTITY.passport_number}",
        f"{IDENTITY.passport_series}{IDENTITY.passport_number}",
    ]
    for day in (IDENTITY.passport_issued_on, IDENTITY.birth_date):
        values += [day.isoformat(), f"{day:%d.%m.%Y}"]
    return values


def leaks(text: str) -> list[str]:
    return [value for value in identity_values() if value in text]


@pytest.mark.django_db(transaction=True)
def test_no_identity_value_reaches_logs_outbox_webhooks_email_or_merchant_pages(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    # Every SQL statement and its parameters are logged too (DEBUG level).
    connection.force_debug_cursor = True
    staff_token, courier_token = make_staff_and_courier()
    try:
        with webhook_receiver() as receiver:
            result = run_order_to_delivery(
                django_http(Client()),
                django_http(Client(), staff_token),
                django_http(Client(), courier_token),
                receiver.url,
            )
            bodies = [hit.body.decode() for hit in receiver.received]
        # A refused document and its 400 are logged as well.
        buyer = django_http(Client(), result["buyer_token"])
        status, _body = buyer("PUT", ACCOUNT, {**IDENTITY_BODY, "inn": "500100732258"})
        assert status == 400
    finally:
        connection.force_debug_cursor = False

    order = Order.objects.get(number=result["number"])
    assert OrderRecipientIdentity.objects.get(order=order).identity() == IDENTITY
    assert "SELECT" in caplog.text and "gAAAAA" in caplog.text  # tokens, not values
    assert leaks(caplog.text) == []
    assert len(bodies) == 12 and leaks("\n".join(bodies)) == []
    outbox = list(OutboxEvent.objects.values_list("payload", "email_subject", "email_body"))
    assert outbox and leaks(json.dumps(outbox, ensure_ascii=False, default=str)) == []
    excerpts = WebhookAttempt.objects.values_list("response_excerpt", "error")
    assert leaks(json.dumps(list(excerpts))) == []
    assert mail.outbox and leaks("\n".join(f"{m.subject}\n{m.body}" for m in mail.outbox)) == []

    # The merchant's staff (in China) see their fulfilment order, its parcel
    # and its packing slip; the whole order is the operator's.
    line = order.lines.first()
    assert line is not None
    merchant_staff = MerchantStaffFactory.create(merchant=line.merchant)
    merchant_staff.user.is_superuser = True  # every permission: scoping alone limits them
    merchant_staff.user.save()
    admin = Client()
    admin.force_login(merchant_staff.user)
    parcel = Parcel.objects.get(order=order)
    part = parcel.fulfilment_order
    assert part is not None
    statements = client_for(merchant_staff.user).get("/api/v1/merchant/statements/")
    assert statements.status_code == 200
    pages = {"statements": statements.content.decode()}
    for name, path in {
        "fulfilment orders": "/admin/shipping/fulfilmentorder/",
        "fulfilment order": f"/admin/shipping/fulfilmentorder/{part.id}/change/",
        "parcel": f"/admin/shipping/parcel/{parcel.id}/change/",
    }.items():
        response = admin.get(path)
        assert response.status_code == 200, name
        pages[name] = response.content.decode()
    for name, text in pages.items():
        assert leaks(text) == [], name
    assert admin.get(f"/admin/orders/order/{order.id}/change/").status_code == 403
    part_page = pages["fulfilment order"]
    assert "+7 *** ***-**-67" in part_page and "+79221234567" not in part_page
    slip = admin.get(f"/admin/shipping/fulfilmentorder/{part.id}/packing-slip/")
    assert slip.status_code == 200
    slip_text = pdf_text(slip.content)
    assert leaks(slip_text) == [] and "+79221234567" not in slip_text
    assert "+7 *** ***-**-67" in slip_text

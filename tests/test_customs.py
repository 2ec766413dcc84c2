"""Customs: a parcel's CN 23 declaration, and operator staff resolving a hold
(release, or return to the sender) from the admin."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone, translation

from catalogue.models import Product
from commands.pack import order_pack
from core.errors import Forbidden
from notifications.models import OutboxEvent
from shipping.customs.declarations import (
    Addressee,
    Declaration,
    DeclarationItem,
    DeclarationMerchant,
    HsCodeInvalid,
    Sender,
    customs_declaration,
)
from shipping.customs.holds import ParcelNotHeld, parcel_customs_release
from shipping.customs.models import CustomsHoldReason
from shipping.fulfilment.models import Parcel
from shipping.linehaul.departures import departure_transition
from shipping.tracking.models import TrackingEvent
from shipping.tracking.timeline import NewEvent, parcel_events_apply
from tests.conftest import World, client_for, one_merchant, scans_post
from tests.factories import IDENTITY, MerchantStaffFactory, UserFactory
from tests.test_manifests import (
    KATYA,
    KATYA_ADDRESS,
    TEA_ZH,
    catalogue,
    katya,
    loaded_flight,
    paid_order,
)
from warehouses.models import Warehouse


def tea_and_phone_parcel(world: World) -> Parcel:
    """Two teas and a phone of one merchant to Yekaterinburg, packed into
    one parcel."""
    one_merchant(world)
    catalogue(world)
    Warehouse.objects.filter(id=world.hrb.id).update(address="Hongqi Street 8")
    order = paid_order(world.buyer.user_id, katya(world), ("TEA-0001", 2), ("PHONE-0003", 1))
    [parcel] = order_pack(order_id=order.id)
    return Parcel.objects.select_related("order").get(id=parcel.id)


def test_declaration_has_the_cn23_data_of_the_parcel(world: World) -> None:
    parcel = tea_and_phone_parcel(world)
    tea, _boot, phone = (
        Product.objects.select_related("merchant").get(id=p.id) for p in world.products
    )

    declaration = customs_declaration(parcel_id=parcel.id)

    assert declaration == Declaration(
        tracking_number=parcel.tracking_number,
        order_number=parcel.order.number,
        category="sale_of_goods",
        sender=Sender(
            # One merchant's part: the parcel's one sender.
            merchants=(
                DeclarationMerchant(
                    code=phone.merchant.code, name=phone.merchant.name, name_zh="商家"
                ),
            ),
            warehouse_code="HRB",
            warehouse_name="HRB warehouse",
            address="Hongqi Street 8",
            city="Harbin",
            country="CN",
        ),
        addressee=Addressee(
            name=KATYA,
            phone="+79221234567",
            street="ул. Малышева, 51",
            city="Екатеринбург",
            postcode="620014",
            region="RU-SVE",
            region_name="Свердловская область",
            country="RU",
            identity=IDENTITY,
        ),
        items=(
            DeclarationItem(
                sku="PHONE-0003",
                description_ru="Смартфон",
                description_zh="智能手机",
                quantity=1,
                net_weight_kg=Decimal("0.420"),
                value=Decimal("1299.00"),
                currency="CNY",
                hs_code="851713",
                origin_country="CN",
                product_url="https://shop.example/products/PHONE-0003",
            ),
            DeclarationItem(
                sku="TEA-0001",
                description_ru="Чай пуэр",
                description_zh=TEA_ZH,
                quantity=2,
                net_weight_kg=Decimal("0.600"),
                value=Decimal("196.00"),
                currency="CNY",
                hs_code="090240",
                origin_country="CN",
                product_url="https://shop.example/products/TEA-0001",
            ),
        ),
        currency="CNY",
        total_quantity=3,
        total_value=Decimal("1495.00"),
        total_net_weight_kg=Decimal("1.020"),
        gross_weight_kg=Decimal("1.020"),
        # EUR 178.75: under the EUR 200 allowance.
        duty_eur=Decimal("0.00"),
        duty_rub=Decimal("0.00"),
    )
    assert declaration.total_value == parcel.value_cny
    assert tea.merchant == phone.merchant
    assert declaration.sender.name == f"{phone.merchant.name} 商家"
    assert declaration.addressee.address == KATYA_ADDRESS


def test_gross_weight_is_the_parcel_as_weighed(world: World) -> None:
    parcel = tea_and_phone_parcel(world)
    Parcel.objects.filter(id=parcel.id).update(weight_g=1087)
    declaration = customs_declaration(parcel_id=parcel.id)
    assert (declaration.gross_weight_kg, declaration.total_net_weight_kg) == (
        Decimal("1.087"),
        Decimal("1.020"),
    )


def test_declaration_endpoint_serves_it_as_json_to_operator_staff(world: World) -> None:
    parcel = tea_and_phone_parcel(world)
    tea, _boot, phone = (
        Product.objects.select_related("merchant").get(id=p.id) for p in world.products
    )
    staff = client_for(UserFactory.create(email="ops@amur.example", is_staff=True))
    target = f"/api/v1/ops/parcels/{parcel.tracking_number.lower()}/declaration/"

    response = staff.get(target)

    assert response.status_code == 200
    assert response.json() == {
        "tracking_number": parcel.tracking_number,
        "order_number": parcel.order.number,
        "category": "sale_of_goods",
        "sender": {
            "name": f"{tea.merchant.name} 商家",
            "merchants": [
                {"code": phone.merchant.code, "name": phone.merchant.name, "name_zh": "商家"},
            ],
            "warehouse_code": "HRB",
            "warehouse_name": "HRB warehouse",
            "address": "Hongqi Street 8",
            "city": "Harbin",
            "country": "CN",
        },
        "addressee": {
            "name": KATYA,
            "phone": "+79221234567",
            "street": "ул. Малышева, 51",
            "city": "Екатеринбург",
            "postcode": "620014",
            "region": "RU-SVE",
            "region_name": "Свердловская область",
            "country": "RU",
            "address": KATYA_ADDRESS,
            "identity": {
                "passport_series": "4509",
                "passport_number": "731902",
                "passport_issued_on": "2015-02-10",
                "birth_date": "1990-05-17",
                "inn": "500100732259",
            },
        },
        "items": [
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
            {
                "sku": "TEA-0001",
                "description_ru": "Чай пуэр",
                "description_zh": TEA_ZH,
                "quantity": 2,
                "net_weight_kg": "0.600",
                "value": "196.00",
                "currency": "CNY",
                "hs_code": "090240",
                "origin_country": "CN",
                "product_url": "https://shop.example/products/TEA-0001",
            },
        ],
        "currency": "CNY",
        "total_quantity": 3,
        "total_value": "1495.00",
        "total_net_weight_kg": "1.020",
        "gross_weight_kg": "1.020",
        "duty_eur": "0.00",
        "duty_rub": "0.00",
    }
    merchant = MerchantStaffFactory.create(merchant=world.products[0].merchant).user
    assert client_for(world.buyer.user).get(target).status_code == 403
    assert client_for(merchant).get(target).status_code == 403
    assert staff.get("/api/v1/ops/parcels/RR000000005CN/declaration/").status_code == 404


@pytest.mark.parametrize("code", ["0902", "09024", "", "0902AB", "09.02.40"])
def test_an_hs_code_of_fewer_than_6_digits_cannot_be_declared(world: World, code: str) -> None:
    parcel = tea_and_phone_parcel(world)
    Product.objects.filter(sku="TEA-0001").update(hs_code=code)

    with translation.override("en"), pytest.raises(HsCodeInvalid) as failure:
        customs_declaration(parcel_id=parcel.id)

    assert failure.value.status_code == 422
    assert failure.value.code == "hs_code_invalid"
    assert failure.value.fields == {
        "items[1].hs_code": [
            f"TEA-0001: HS code {code!r} has fewer than 6 digits or is not a number."
        ]
    }
    assert failure.value.extra == {"tracking_number": parcel.tracking_number}
    response = client_for(UserFactory.create(email="ops@amur.example", is_staff=True)).get(
        f"/api/v1/ops/parcels/{parcel.tracking_number}/declaration/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert (response.status_code, response.json()["code"]) == (422, "hs_code_invalid")


def test_a_ten_digit_hs_code_is_declared_as_it_is(world: World) -> None:
    parcel = tea_and_phone_parcel(world)
    Product.objects.filter(sku="TEA-0001").update(hs_code="0902400000")
    items = customs_declaration(parcel_id=parcel.id).items
    assert [item.hs_code for item in items] == ["851713", "0902400000"]


# --- Holds ---------------------------------------------------------------------


def held_parcel(world: World) -> Parcel:
    """A parcel of the departed flight, then held by customs at SVX."""
    loaded = loaded_flight(world)
    departure_transition(departure_id=loaded.departure.id, to="departed")
    parcel = Parcel.objects.get(order=loaded.orders[0])
    assert parcel.status == "in_transit"
    parcel_events_apply(
        events=[
            NewEvent(
                parcel_id=parcel.id,
                event="customs_held",
                occurred_at=timezone.now(),
                source="courier",
                location="SVX",
                data={"reason": "documents"},
            )
        ]
    )
    parcel.refresh_from_db()
    assert parcel.status == "customs_held"
    return parcel


def admin_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def parcel_action(client: Client, action: str, ids: list[int]) -> Any:
    return client.post(
        "/admin/shipping/parcel/",
        {"action": action, "_selected_action": [str(i) for i in ids]},
    )


def last_event(parcel: Parcel) -> tuple[Any, ...]:
    event = TrackingEvent.objects.filter(parcel=parcel).order_by("-occurred_at", "-id").first()
    assert event is not None
    return (event.event, event.status, event.emsevt, event.source, event.location, event.data)


def operator() -> Any:
    return UserFactory.create(email="root@amur.example", is_staff=True, is_superuser=True)


def test_admin_releases_a_held_parcel_back_into_transit(world: World) -> None:
    parcel = held_parcel(world)
    user = operator()

    response = parcel_action(admin_client(user), "customs_release", [parcel.id])

    assert response.status_code == 302
    parcel.refresh_from_db()
    assert parcel.status == "in_transit"
    assert last_event(parcel) == (
        "customs_released",
        "in_transit",
        "EMF",
        "system",
        "SVX",
        {"actor_id": user.id},
    )


def test_admin_returns_a_parcel_refused_by_customs_to_the_sender(world: World) -> None:
    parcel = held_parcel(world)
    user = operator()

    response = parcel_action(admin_client(user), "customs_return", [parcel.id])

    assert response.status_code == 302
    parcel.refresh_from_db()
    assert parcel.status == "returned"
    assert last_event(parcel) == (
        "returned",
        "returned",
        "",
        "system",
        "SVX",
        {"reason": "customs", "actor_id": user.id},
    )


@pytest.mark.parametrize("action", ["customs_release", "customs_return"])
def test_only_held_parcels_are_resolved(world: World, action: str) -> None:
    parcel = held_parcel(world)
    other = Parcel.objects.exclude(id=parcel.id).order_by("id").first()
    assert other is not None and other.status == "in_transit"
    events = TrackingEvent.objects.filter(parcel=other).count()

    response = parcel_action(admin_client(operator()), action, [parcel.id, other.id])

    assert response.status_code == 302
    other.refresh_from_db()
    parcel.refresh_from_db()
    assert other.status == "in_transit"
    assert TrackingEvent.objects.filter(parcel=other).count() == events
    assert parcel.status == {"customs_release": "in_transit", "customs_return": "returned"}[action]
    with pytest.raises(ParcelNotHeld):
        parcel_customs_release(parcel_id=other.id, actor_id=operator().id)


@pytest.mark.parametrize("action", ["customs_release", "customs_return"])
def test_merchant_staff_cannot_resolve_a_hold(world: World, action: str) -> None:
    parcel = held_parcel(world)
    staff = MerchantStaffFactory.create(merchant=world.products[0].merchant).user
    staff.user_permissions.add(Permission.objects.get(codename="view_parcel"))
    client = admin_client(staff)
    page = client.get("/admin/shipping/parcel/")
    assert page.status_code == 200
    assert parcel.tracking_number in page.content.decode()  # the merchant sees the parcel
    assert action not in page.content.decode()  # but not the action
    events = TrackingEvent.objects.filter(parcel=parcel).count()

    response = parcel_action(client, action, [parcel.id])

    assert response.status_code == 302
    parcel.refresh_from_db()
    assert parcel.status == "customs_held"
    assert TrackingEvent.objects.filter(parcel=parcel).count() == events
    with pytest.raises(Forbidden):
        parcel_customs_release(parcel_id=parcel.id, actor_id=staff.id)
    plain = UserFactory.create(email="plain@amur.example")
    with pytest.raises(Forbidden):
        parcel_customs_release(parcel_id=parcel.id, actor_id=plain.id)


# --- Hold reasons from courier scans --------------------------------------------


def departed_parcel(world: World) -> Parcel:
    loaded = loaded_flight(world)
    departure_transition(departure_id=loaded.departure.id, to="departed")
    return Parcel.objects.select_related("order__buyer__user").get(order=loaded.orders[0])


def hold_scan(parcel: Parcel, scan_id: str, **extra: str) -> dict[str, str]:
    return {
        "scan_id": scan_id,
        "tracking_number": parcel.tracking_number,
        "event": "customs_held",
        "occurred_at": timezone.now().isoformat(),
        "location": "Кольцово",
        **extra,
    }


def test_a_customs_hold_scan_must_say_why(world: World, courier: Any) -> None:
    parcel = departed_parcel(world)
    events = TrackingEvent.objects.filter(parcel=parcel).count()
    presented = {**hold_scan(parcel, "s-4"), "event": "customs_presented", "reason": "duties"}

    response = scans_post(
        client_for(courier.user),
        {
            "scans": [
                hold_scan(parcel, "s-1"),
                hold_scan(parcel, "s-2", reason="bribe"),
                hold_scan(parcel, "s-3", reason=""),
                presented,
                {**hold_scan(parcel, "s-5"), "event": "customs_presented"},
            ]
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["scan_id"], r["code"]) for r in body["rejected"]] == [
        (0, "s-1", "invalid"),
        (1, "s-2", "invalid"),
        (2, "s-3", "invalid"),
        (3, "s-4", "invalid"),
    ]
    assert body["rejected"][0]["message"] == (
        "customs_held needs a reason, one of: documents, valuation, prohibited, inspection, duties."
    )
    assert body["rejected"][3]["message"] == "customs_presented takes no reason."
    parcel.refresh_from_db()
    assert parcel.status == "in_customs"
    assert TrackingEvent.objects.filter(parcel=parcel).count() == events + 1


def test_the_hold_reason_reaches_the_timeline_the_webhook_and_the_buyer(
    world: World, courier: Any, mailoutbox: list[Any], django_capture_on_commit_callbacks: Any
) -> None:
    parcel = departed_parcel(world)
    mailoutbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = scans_post(
            client_for(courier.user),
            {"scans": [hold_scan(parcel, "s-1", reason="valuation")]},
        )

    assert (response.status_code, response.json()["accepted"]) == (200, 1)
    parcel.refresh_from_db()
    assert parcel.status == "customs_held"
    held = TrackingEvent.objects.get(parcel=parcel, event="customs_held")
    assert (held.emsevt, held.data) == ("EME", {"reason": "valuation"})
    outbox = OutboxEvent.objects.filter(subject=f"parcel:{parcel.tracking_number}").latest(
        "sequence"
    )
    assert outbox.payload == {
        "tracking_number": parcel.tracking_number,
        "order": parcel.order.number,
        "status": "customs_held",
        "previous_status": "in_transit",
        "reason": "valuation",
    }
    assert [m.to for m in mailoutbox] == [[parcel.order.buyer.user.email]]
    with translation.override("ru"):
        reason_ru = str(CustomsHoldReason.VALUATION.label)
    assert f"{reason_ru}." in mailoutbox[0].body
    public = client_for(UserFactory.create()).get(
        f"/api/v1/tracking/{parcel.tracking_number}/", HTTP_ACCEPT_LANGUAGE="en"
    )
    last = public.json()["events"][-1]
    assert (last["event"], last["reason"], last["reason_display"]) == (
        "customs_held",
        "valuation",
        "The declared value is questioned",
    )
    page = Client().get(f"/track/{parcel.tracking_number}", HTTP_ACCEPT_LANGUAGE="en")
    assert "The declared value is questioned" in page.content.decode()

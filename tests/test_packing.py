"""Packing with measured weights: the tolerance against the catalogue weight
and the operator's override."""

from __future__ import annotations

from typing import Any

import pytest

from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from core.errors import Forbidden
from orders.models import Order
from orders.services import Address
from shipping.fulfilment.models import Parcel, TrackingSeries
from shipping.fulfilment.packing import PackedParcel
from tests.conftest import World, client_for
from tests.factories import MerchantStaffFactory, UserFactory
from warehouses.models import Reservation, StockMovement

# TEA-0001 weighs 300 g, BOOT-0002 1500 g in the catalogue.


@pytest.fixture
def operator(db: Any) -> Any:
    return UserFactory.create(email="ops@amur.example", is_staff=True)


def allocated_order(world: World, *lines: tuple[str, int]) -> Order:
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        address=Address(**world.address()),
        payment_method="card",
    )
    payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    order.refresh_from_db()
    assert order.status == "allocated"
    return order


def parcel_body(sku_quantities: list[tuple[str, int]], weight_g: int) -> dict[str, Any]:
    return {
        "warehouse": "HRB",
        "lines": [{"sku": sku, "quantity": q} for sku, q in sku_quantities],
        "weight_g": weight_g,
        "length_mm": 300,
        "width_mm": 200,
        "height_mm": 200,
    }


def pack(client: Any, order: Order, body: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/ops/orders/{order.number}/pack/", body, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )


def stored(order: Order) -> list[tuple[int, int | None, str, int | None]]:
    return list(
        Parcel.objects.filter(order=order)
        .order_by("id")
        .values_list(
            "weight_g", "expected_weight_g", "weight_override_reason", "weight_override_by"
        )
    )


def assert_nothing_packed(order: Order, serial_before: int) -> None:
    order.refresh_from_db()
    assert order.status == "allocated"
    assert not Parcel.objects.filter(order=order).exists()
    assert set(Reservation.objects.filter(order=order).values_list("status", flat=True)) == {
        "active"
    }
    assert not StockMovement.objects.filter(order=order, kind="pick").exists()
    assert TrackingSeries.objects.get().next_serial == serial_before


def next_serial() -> int:
    series = TrackingSeries.objects.first()
    return series.next_serial if series else 1


@pytest.mark.parametrize("measured", [540, 600, 660])
def test_measured_weight_within_tolerance_packs(world: World, operator: Any, measured: int) -> None:
    order = allocated_order(world, ("TEA-0001", 2))

    response = pack(
        client_for(operator), order, {"parcels": [parcel_body([("TEA-0001", 2)], measured)]}
    )

    assert response.status_code == 201, response.json()
    [parcel] = response.json()
    assert (parcel["weight_g"], parcel["expected_weight_g"], parcel["weight_override_reason"]) == (
        measured,
        600,
        "",
    )
    assert stored(order) == [(measured, 600, "", None)]
    order.refresh_from_db()
    assert order.status == "packed"


@pytest.mark.parametrize("measured", [539, 661])
def test_measured_weight_outside_tolerance_is_409_and_packs_nothing(
    world: World, operator: Any, measured: int
) -> None:
    order = allocated_order(world, ("TEA-0001", 2))
    TrackingSeries.objects.get_or_create(prefix="RR", country="CN")
    serial_before = next_serial()

    response = pack(
        client_for(operator), order, {"parcels": [parcel_body([("TEA-0001", 2)], measured)]}
    )

    assert response.status_code == 409
    assert response.json() == {
        "code": "weight_out_of_tolerance",
        "message": "A parcel's measured weight is outside the tolerance.",
        "fields": {"parcels[0].weight_g": [f"Measured {measured} g, expected 600 g."]},
        "parcels": [{"index": 0, "expected_weight_g": 600, "weight_g": measured}],
        "tolerance": "0.1",
    }
    assert_nothing_packed(order, serial_before)


def two_parcels(boot_measured: int) -> list[dict[str, Any]]:
    return [
        parcel_body([("TEA-0001", 2)], 610),
        parcel_body([("BOOT-0002", 1)], boot_measured),
    ]


def test_the_refusal_names_the_parcel_out_of_tolerance(world: World, operator: Any) -> None:
    order = allocated_order(world, ("TEA-0001", 2), ("BOOT-0002", 1))
    TrackingSeries.objects.get_or_create(prefix="RR", country="CN")
    serial_before = next_serial()

    response = pack(client_for(operator), order, {"parcels": two_parcels(1200)})

    assert response.status_code == 409
    body = response.json()
    assert body["fields"] == {"parcels[1].weight_g": ["Measured 1200 g, expected 1500 g."]}
    assert body["parcels"] == [{"index": 1, "expected_weight_g": 1500, "weight_g": 1200}]
    assert_nothing_packed(order, serial_before)


def test_operator_override_packs_and_keeps_the_reason_on_the_parcel(
    world: World, operator: Any
) -> None:
    order = allocated_order(world, ("TEA-0001", 2), ("BOOT-0002", 1))

    response = pack(
        client_for(operator),
        order,
        {"parcels": two_parcels(1200), "override_reason": "  boots shipped without box  "},
    )

    assert response.status_code == 201, response.json()
    assert sorted(
        (p["weight_g"], p["expected_weight_g"], p["weight_override_reason"])
        for p in response.json()
    ) == [(610, 600, ""), (1200, 1500, "boots shipped without box")]
    # Only the parcel that needed it carries the override.
    assert stored(order) == [
        (610, 600, "", None),
        (1200, 1500, "boots shipped without box", operator.id),
    ]
    order.refresh_from_db()
    assert order.status == "packed"


def test_a_blank_override_reason_does_not_override(world: World, operator: Any) -> None:
    order = allocated_order(world, ("TEA-0001", 2), ("BOOT-0002", 1))

    response = pack(
        client_for(operator), order, {"parcels": two_parcels(1200), "override_reason": "   "}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "weight_out_of_tolerance"
    assert not Parcel.objects.filter(order=order).exists()


@pytest.mark.parametrize("who", ["merchant_staff", "nobody"])
def test_only_operator_staff_may_override(world: World, who: str) -> None:
    order = allocated_order(world, ("TEA-0001", 2))
    actor = MerchantStaffFactory.create().user.id if who == "merchant_staff" else None
    packing = [
        PackedParcel(
            warehouse_id=world.hrb.id,
            lines={order.lines.get().id: 2},
            weight_g=700,
            length_mm=300,
            width_mm=200,
            height_mm=200,
        )
    ]

    with pytest.raises(Forbidden) as caught:
        order_pack(order_id=order.id, parcels=packing, actor_id=actor, override_reason="heavy box")

    assert caught.value.status_code == 403
    assert not Parcel.objects.filter(order=order).exists()
    order.refresh_from_db()
    assert order.status == "allocated"


def test_the_tolerance_comes_from_settings(world: World, operator: Any, settings: Any) -> None:
    settings.AMUR = {**settings.AMUR, "PACK_WEIGHT_TOLERANCE": 0.05}
    client = client_for(operator)
    refused = allocated_order(world, ("TEA-0001", 2))
    response = pack(client, refused, {"parcels": [parcel_body([("TEA-0001", 2)], 631)]})
    assert response.status_code == 409
    assert response.json()["tolerance"] == "0.05"

    accepted = allocated_order(world, ("TEA-0001", 2))
    response = pack(client, accepted, {"parcels": [parcel_body([("TEA-0001", 2)], 630)]})
    assert response.status_code == 201, response.json()


def test_auto_packing_uses_catalogue_weights_and_never_needs_an_override(
    world: World, operator: Any, settings: Any
) -> None:
    settings.AMUR = {**settings.AMUR, "PACK_WEIGHT_TOLERANCE": 0.0}
    order = allocated_order(world, ("TEA-0001", 2), ("BOOT-0002", 1))

    response = pack(client_for(operator), order, {})

    assert response.status_code == 201, response.json()
    # Tea and boots are two merchants' goods: a parcel each.
    assert stored(order) == [(600, 600, "", None), (1500, 1500, "", None)]


def test_override_reason_without_parcels_is_400(world: World, operator: Any) -> None:
    order = allocated_order(world, ("TEA-0001", 2))

    response = pack(client_for(operator), order, {"override_reason": "scale broken"})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "message": "The request is not valid.",
        "fields": {"override_reason": ["Only for parcels packed with measured weights."]},
    }
    assert not Parcel.objects.filter(order=order).exists()

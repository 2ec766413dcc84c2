"""Allocation: stock is reserved where the buyer gets it fastest."""

from __future__ import annotations

from commands.place import order_place
from commands.quote import LineRequest
from orders.services import Address
from tests.conftest import World
from warehouses.models import Reservation
from warehouses.services import stock_receive


def reserved_at(order_id: int) -> dict[str, str]:
    return dict(
        Reservation.objects.filter(order_id=order_id).values_list(
            "line__sku", "stock__warehouse__code"
        )
    )


def place(world: World, region: str, *lines: tuple[str, int]) -> int:
    address = Address(**world.address(region))
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        address=address,
        payment_method="card",
    )
    return order.id


def test_a_vladivostok_buyer_is_served_from_suifenhe(world: World) -> None:
    # Suifenhe reaches Primorye by road in 2-4 days; Harbin by air in 6-10.
    order_id = place(world, "RU-PRI", ("TEA-0001", 2))
    assert reserved_at(order_id) == {"TEA-0001": "SFH"}


def test_a_yekaterinburg_buyer_is_served_from_yekaterinburg(world: World) -> None:
    stock_receive(warehouse_id=world.svx.id, product_id=world.products[0].id, quantity=5)
    order_id = place(world, "RU-SVE", ("TEA-0001", 1))
    assert reserved_at(order_id) == {"TEA-0001": "SVX"}


def test_the_fastest_warehouse_that_holds_everything_wins_over_a_split(world: World) -> None:
    # Yekaterinburg holds tea only; Harbin holds both: one parcel beats two.
    stock_receive(warehouse_id=world.svx.id, product_id=world.products[0].id, quantity=5)
    order_id = place(world, "RU-SVE", ("TEA-0001", 1), ("BOOT-0002", 1))
    assert reserved_at(order_id) == {"TEA-0001": "HRB", "BOOT-0002": "HRB"}


def test_an_order_no_warehouse_can_fill_is_split_into_the_fewest_parcels(world: World) -> None:
    tea, boots, _phone = world.products
    # Yekaterinburg: tea and boots; Harbin: boots and phones, no tea.
    stock_receive(warehouse_id=world.svx.id, product_id=tea.id, quantity=5)
    stock_receive(warehouse_id=world.svx.id, product_id=boots.id, quantity=5)
    stock_receive(warehouse_id=world.hrb.id, product_id=tea.id, quantity=-50)
    order_id = place(world, "RU-SVE", ("TEA-0001", 1), ("BOOT-0002", 1), ("PHONE-0003", 1))
    # Two parcels, the faster warehouse taking all it can.
    assert reserved_at(order_id) == {"TEA-0001": "SVX", "BOOT-0002": "SVX", "PHONE-0003": "HRB"}

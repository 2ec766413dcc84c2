"""Pure domain arithmetic: S10 numbers, duty, parcel split, shipping fee,
allocation, the tracking status fold, webhook signatures, transition tables."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import InvalidTransition
from core.statemachine import TransitionTable
from notifications.signing import signature_compute, signature_verify
from shipping.fulfilment.numbers import WEIGHTS, check_digit, s10_build, s10_is_valid
from shipping.linehaul.models import Lane
from shipping.linehaul.pricing import Unit, parcels_split, shipping_fee_cny
from shipping.tracking.events import status_fold
from tests.factories import LaneFactory, WarehouseFactory
from warehouses.allocation import Need, WarehouseOption, allocate

CENT = Decimal("0.01")


# --- S10 tracking numbers ---------------------------------------------------


def _weighted_sum(serial: int) -> int:
    return sum(int(d) * w for d, w in zip(f"{serial:08d}", WEIGHTS, strict=True))


def test_s10_build_matches_the_upu_example() -> None:
    assert s10_build("RR", 12345678, "CN") == "RR123456785CN"


def test_s10_check_digit_remainder_10_becomes_0() -> None:
    # 11 - (sum mod 11) == 10 when sum mod 11 == 1.
    serial = next(s for s in range(1, 1000) if _weighted_sum(s) % 11 == 1)
    assert serial == 8
    assert _weighted_sum(serial) == 56  # 8 * 7
    assert check_digit("00000008") == 0
    assert s10_build("RR", serial, "CN") == "RR000000080CN"
    assert s10_is_valid("RR000000080CN") is True


def test_s10_check_digit_remainder_11_becomes_5() -> None:
    # 11 - (sum mod 11) == 11 when sum mod 11 == 0.
    serial = next(s for s in range(1, 1000) if _weighted_sum(s) % 11 == 0)
    assert serial == 15
    assert _weighted_sum(serial) == 44  # 1 * 9 + 5 * 7
    assert check_digit("00000015") == 5
    assert s10_build("RR", serial, "CN") == "RR000000155CN"
    assert s10_is_valid("RR000000155CN") is True


def test_s10_is_valid_accepts_a_good_number() -> None:
    assert s10_is_valid("RR123456785CN") is True


@pytest.mark.parametrize(
    "number",
    [
        "RR123456784CN",  # wrong check digit
        "RR123456780CN",  # wrong check digit
        "rr123456785cn",  # lowercase
        "Rr123456785CN",  # lowercase letter in the prefix
        "RR123456785C",  # too short
        "RR1234567850CN",  # too long
        "RR12345678CN",  # check digit missing
        "RR\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u06685CN",  # Arabic-Indic digits
        "RR12345678\uff15CN",  # a full-width check digit
        "",
    ],
)
def test_s10_is_valid_rejects(number: str) -> None:
    assert s10_is_valid(number) is False


def test_s10_check_digit_of_every_serial_matches_the_weighted_digits() -> None:
    for serial in range(0, 10**8, 9_973):
        remainder = 11 - _weighted_sum(serial) % 11
        assert check_digit(f"{serial:08d}") == {10: 0, 11: 5}.get(remainder, remainder)


@pytest.mark.parametrize("serial", ["1234567", "123456789", "1234567a", "\u0661234567\u0668"])
def test_s10_check_digit_refuses_what_is_not_eight_ascii_digits(serial: str) -> None:
    with pytest.raises(ValueError, match="8 digits"):
        check_digit(serial)


# --- Parcel split and shipping fee -------------------------------------------


def test_parcels_split_five_10kg_units_under_31kg_make_two_parcels() -> None:
    units = [Unit(key=1, weight_g=10_000, value_cny=Decimal("50.00"), quantity=5)]
    parcels = parcels_split(units, max_weight_g=31_000)
    assert len(parcels) == 2
    assert [p.items for p in parcels] == [{1: 3}, {1: 2}]
    assert [p.weight_g for p in parcels] == [30_000, 20_000]
    assert [p.value_cny for p in parcels] == [Decimal("150.00"), Decimal("100.00")]
    assert all(p.weight_g <= 31_000 for p in parcels)


def test_parcels_split_mixed_units_keeps_every_parcel_under_the_limit() -> None:
    units = [
        Unit(key=1, weight_g=12_000, value_cny=Decimal("10.00"), quantity=4),
        Unit(key=2, weight_g=5_000, value_cny=Decimal("3.00"), quantity=3),
        Unit(key=3, weight_g=700, value_cny=Decimal("1.00"), quantity=10),
    ]
    parcels = parcels_split(units, max_weight_g=31_000)
    assert all(p.weight_g <= 31_000 for p in parcels)
    # Every unit is packed exactly once.
    packed: dict[int, int] = {}
    for parcel in parcels:
        for key, quantity in parcel.items.items():
            packed[key] = packed.get(key, 0) + quantity
    assert packed == {1: 4, 2: 3, 3: 10}
    assert sum(p.weight_g for p in parcels) == 4 * 12_000 + 3 * 5_000 + 10 * 700
    # 70 kg in total: three parcels of at most 31 kg is the fewest possible.
    assert len(parcels) == 3


def test_parcels_split_a_unit_heavier_than_the_limit_travels_alone() -> None:
    units = [
        Unit(key=1, weight_g=40_000, value_cny=Decimal("1.00"), quantity=1),
        Unit(key=2, weight_g=1_000, value_cny=Decimal("1.00"), quantity=2),
    ]
    parcels = parcels_split(units, max_weight_g=31_000)
    assert [(p.items, p.weight_g) for p in parcels] == [({1: 1}, 40_000), ({2: 2}, 2_000)]


def _lane() -> Lane:
    return Lane(code="T", base_fee_cny=Decimal("25.00"), per_100g_cny=Decimal("4.50"))


@pytest.mark.parametrize(
    ("weight_g", "expected"),
    [
        (1, "29.50"),  # 1 started 100 g
        (100, "29.50"),  # exactly 1
        (101, "34.00"),  # 2 started
        (200, "34.00"),
        (201, "38.50"),  # 3 started
        (1500, "92.50"),  # 15
    ],
)
def test_shipping_fee_cny_counts_each_started_100g(weight_g: int, expected: str) -> None:
    assert shipping_fee_cny(lane=_lane(), weight_g=weight_g) == Decimal(expected)


# --- Allocation --------------------------------------------------------------


def test_allocate_single_warehouse_holding_all_lines_shortest_promise() -> None:
    needs = [Need(product_id=10, quantity=2), Need(product_id=20, quantity=1)]
    options = [
        WarehouseOption(warehouse_id=1, min_days=4, max_days=7),
        WarehouseOption(warehouse_id=2, min_days=2, max_days=4),
        WarehouseOption(warehouse_id=3, min_days=1, max_days=2),
    ]
    availability = {
        (1, 10): 5,
        (1, 20): 5,
        (2, 10): 2,
        (2, 20): 1,
        (3, 10): 9,  # fastest, but lacks product 20
    }
    plan = allocate(needs=needs, options=options, availability=availability)
    assert plan == {2: [10, 20]}


def test_allocate_splits_over_the_fewest_warehouses_when_none_holds_all() -> None:
    needs = [
        Need(product_id=10, quantity=1),
        Need(product_id=20, quantity=1),
        Need(product_id=30, quantity=1),
    ]
    options = [
        WarehouseOption(warehouse_id=1, min_days=1, max_days=2),
        WarehouseOption(warehouse_id=2, min_days=3, max_days=5),
        WarehouseOption(warehouse_id=3, min_days=4, max_days=7),
    ]
    availability = {
        (1, 10): 1,  # fastest, but holds only one line
        (2, 30): 1,
        (3, 10): 1,
        (3, 20): 1,  # slowest, but covers two lines
    }
    plan = allocate(needs=needs, options=options, availability=availability)
    assert plan == {3: [10, 20], 2: [30]}
    assert len(plan) == 2


def test_allocate_returns_none_when_a_line_cannot_be_served() -> None:
    needs = [Need(product_id=10, quantity=1), Need(product_id=20, quantity=3)]
    options = [
        WarehouseOption(warehouse_id=1, min_days=1, max_days=2),
        WarehouseOption(warehouse_id=2, min_days=3, max_days=5),
    ]
    availability = {(1, 10): 5, (1, 20): 2, (2, 20): 2}  # nobody has 3 of product 20
    assert allocate(needs=needs, options=options, availability=availability) is None


# --- Tracking status fold ----------------------------------------------------


def test_status_fold_delivered_ignores_a_stray_in_transit() -> None:
    assert status_fold(["info_received", "in_transit", "delivered", "in_transit"]) == "delivered"


def test_status_fold_delivered_then_returned_becomes_returned() -> None:
    assert status_fold(["info_received", "in_transit", "delivered", "returned"]) == "returned"


def test_status_fold_skips_events_without_a_status() -> None:
    assert status_fold(["info_received", "", "in_transit", ""]) == "in_transit"


# --- Webhook signatures ------------------------------------------------------

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'


def test_signature_round_trip() -> None:
    header = signature_compute(secret=SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY)
    assert signature_verify(
        secret=SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY, header=header
    )


def test_signature_verify_rejects_a_tampered_body() -> None:
    header = signature_compute(secret=SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY)
    tampered = b'{"test": 2432232315}'
    assert not signature_verify(
        secret=SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP, body=tampered, header=header
    )


def test_signature_verify_accepts_one_of_several_signatures() -> None:
    good = signature_compute(secret=SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY)
    header = f"v1,bm9wZQ== {good}"
    assert signature_verify(
        secret=SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY, header=header
    )


def test_signature_matches_the_standard_webhooks_test_vector() -> None:
    # The vector published with the Standard Webhooks / Svix reference
    # libraries (e.g. svix-webhooks PHP testSignFunctionWorks).
    assert (
        signature_compute(secret=SECRET, msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


# --- Transition tables -------------------------------------------------------

TABLE = TransitionTable.build("widget", {"new": {"open", "dropped"}, "open": {"done"}})


def test_transition_table_allows_a_listed_move() -> None:
    assert TABLE.allows("new", "open") is True
    TABLE.check("new", "open")  # no exception
    TABLE.check("open", "done")


@pytest.mark.parametrize(("current", "target"), [("new", "done"), ("done", "new"), ("open", "new")])
def test_transition_table_rejects_an_unlisted_move_with_409(current: str, target: str) -> None:
    assert TABLE.allows(current, target) is False
    with pytest.raises(InvalidTransition) as caught:
        TABLE.check(current, target)
    assert caught.value.status_code == 409
    assert caught.value.code == "invalid_transition"
    assert caught.value.fields == {"status": [f"widget: {current} -> {target}"]}
    assert caught.value.extra == {"current_status": current, "requested_status": target}


def test_transition_table_sources_of() -> None:
    assert TABLE.sources_of("done") == frozenset({"open"})
    assert TABLE.sources_of("open") == frozenset({"new"})


@pytest.mark.django_db
def test_any_of_matches_what_in_matches() -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    codes = ["HRB-SVX-AIR", "SFH-VVO-ROAD", "HRB-OVB-AIR"]
    Lane.objects.all().delete()
    for code in codes:
        LaneFactory.create(code=code)
    wanted = ["SFH-VVO-ROAD", "HRB-OVB-AIR", "NOT-A-LANE"]

    with CaptureQueriesContext(connection) as queries:
        found = set(Lane.objects.filter(code__any_of=wanted).values_list("code", flat=True))

    assert found == set(Lane.objects.filter(code__in=wanted).values_list("code", flat=True))
    assert found == {"SFH-VVO-ROAD", "HRB-OVB-AIR"}
    assert list(Lane.objects.filter(code__any_of=[])) == []
    if connection.vendor == "postgresql":
        # One array parameter, whatever the number of values.
        assert "= ANY(" in queries.captured_queries[0]["sql"]


@pytest.mark.django_db
def test_any_of_works_on_a_foreign_key() -> None:
    lanes = [
        LaneFactory.create(code=code, origin=WarehouseFactory.create(code=origin))
        for code, origin in (("HRB-A", "HRB"), ("SFH-B", "SFH"))
    ]

    found = Lane.objects.filter(origin_id__any_of=[lanes[0].origin_id]).values_list(
        "code", flat=True
    )

    assert list(found) == ["HRB-A"]

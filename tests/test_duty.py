"""Import duty: the 2020 rule (EUR 200 and 31 kg per parcel, 15 % of the
excess, at least EUR 2 per kg over) and the EAEU e-commerce rule from
2026-07-01 (EUR 200 per purchase, 5 % of the whole value, at least EUR 1 per
kg), as the shipped data state them; the worked examples of
docs/customs-duty.md; and one order's duty agreeing from the quote to the
CN 23, the registry and the ledger."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest, checkout_quote
from orders.models import Order, OrderStatus
from orders.services import Address, orders_transition
from payments.models import LedgerEntry
from payments.settlement import payables_release, statement_rows, week_bounds, week_start_of
from shipping.customs.declarations import customs_declaration
from shipping.customs.duty import (
    DutyParcel,
    DutyTerms,
    GoodsNotEligible,
    PackedContents,
    ParcelDuty,
    parcel_duties_from_plan,
    parcels_duty,
    share_out,
)
from shipping.customs.selectors import duty_rule_in_force
from shipping.fulfilment.models import Parcel
from shipping.linehaul.departures import departure_transition, departures_plan
from shipping.linehaul.manifests import departure_manifest, manifest_registry_csv
from tests.conftest import World, client_for
from tests.factories import ProductFactory, rates_today
from warehouses.services import stock_receive

D = Decimal
EVE = date(2026, 6, 30)
DAY = date(2026, 7, 1)


@pytest.fixture
def rules(db: Any) -> dict[str, DutyTerms]:
    """The rules shipped by the migrations, as checkout reads them."""
    return {"2020": duty_rule_in_force(on=EVE), "2026": duty_rule_in_force(on=DAY)}


def one_parcel(terms: DutyTerms, value: str, kg: str, *, hs_code: str = "620193") -> ParcelDuty:
    [duty] = parcels_duty(
        terms=terms,
        parcels=[
            DutyParcel(
                value_eur=D(value),
                weight_g=int(D(kg) * 1000),
                crosses_border=True,
                hs_codes={"SKU-1": hs_code},
            )
        ],
    )
    return duty


def test_the_shipped_rules_state_both_regimes(rules: dict[str, DutyTerms]) -> None:
    assert rules["2020"] == DutyTerms(
        valid_from=date(2020, 1, 1),
        scope="parcel",
        value_threshold_eur=D("200.00"),
        weight_threshold_kg=D("31.000"),
        value_basis="excess",
        rate=D("0.1500"),
        weight_basis="excess",
        min_eur_per_kg=D("2.00"),
        import_vat_rate=None,
        import_vat_from_first_euro=False,
        excluded_hs_prefixes=(),
    )
    assert rules["2026"] == DutyTerms(
        valid_from=date(2026, 7, 1),
        scope="purchase",
        value_threshold_eur=D("200.00"),
        weight_threshold_kg=None,
        value_basis="whole",
        rate=D("0.0500"),
        weight_basis="whole",
        min_eur_per_kg=D("1.00"),
        import_vat_rate=None,
        import_vat_from_first_euro=False,
        excluded_hs_prefixes=("8407", "8408", "9402"),
    )


@pytest.mark.parametrize(
    ("value", "kg", "duty_2020", "duty_2026"),
    [
        # Under EUR 200 and 31 kg: nothing under either rule.
        ("150", "2", "0.00", "0.00"),
        # Exactly EUR 200 is still within the allowance.
        ("200", "2", "0.00", "0.00"),
        # The examples: 15 % of 50 = 7.50 then; 5 % of 250 = 12.50 now.
        ("250", "2", "7.50", "12.50"),
        # EUR 300: 15 % of the EUR 100 excess, or 5 % of the whole: both 15.00.
        ("300", "2", "15.00", "15.00"),
        # EUR 1,000: 15 % of 800 = 120.00, or 5 % of 1,000 = 50.00.
        ("1000", "2", "120.00", "50.00"),
        # 35 kg worth EUR 100: 2020 charged EUR 2 for each of the 4 kg over
        # 31 kg; 2026 has no weight allowance and the value is under EUR 200.
        ("100", "35", "8.00", "0.00"),
        # 35 kg worth EUR 300: 2020 the higher of 15.00 and 8.00; 2026 the
        # higher of 5 % (15.00) and EUR 1 for every one of the 35 kg.
        ("300", "35", "15.00", "35.00"),
    ],
)
def test_worked_examples_of_both_rules(
    rules: dict[str, DutyTerms], value: str, kg: str, duty_2020: str, duty_2026: str
) -> None:
    assert one_parcel(rules["2020"], value, kg) == ParcelDuty(D(duty_2020), D("0.00"))
    assert one_parcel(rules["2026"], value, kg) == ParcelDuty(D(duty_2026), D("0.00"))


def test_2020_measures_each_parcel_and_2026_the_purchase(rules: dict[str, DutyTerms]) -> None:
    two_parcels = [
        DutyParcel(value_eur=D("150.00"), weight_g=2000, crosses_border=True, hs_codes={}),
        DutyParcel(value_eur=D("150.00"), weight_g=2000, crosses_border=True, hs_codes={}),
    ]
    # Each EUR 150 parcel is within its own allowance.
    assert parcels_duty(terms=rules["2020"], parcels=two_parcels) == [
        ParcelDuty(D("0.00"), D("0.00")),
        ParcelDuty(D("0.00"), D("0.00")),
    ]
    # Together EUR 300: 5 % = 15.00, shared by value.
    assert parcels_duty(terms=rules["2026"], parcels=two_parcels) == [
        ParcelDuty(D("7.50"), D("0.00")),
        ParcelDuty(D("7.50"), D("0.00")),
    ]


def test_goods_already_in_russia_count_for_nothing(rules: dict[str, DutyTerms]) -> None:
    parcels = [
        DutyParcel(value_eur=D("150.00"), weight_g=2000, crosses_border=True, hs_codes={}),
        DutyParcel(
            value_eur=D("900.00"), weight_g=2000, crosses_border=False, hs_codes={"E": "840734"}
        ),
    ]
    assert parcels_duty(terms=rules["2026"], parcels=parcels) == [
        ParcelDuty(D("0.00"), D("0.00")),
        ParcelDuty(D("0.00"), D("0.00")),
    ]


def test_an_excluded_hs_code_cannot_cross_the_border_from_2026(
    rules: dict[str, DutyTerms],
) -> None:
    # An outboard petrol engine (8407 21): not for the simplified declaration.
    with pytest.raises(GoodsNotEligible) as refused:
        one_parcel(rules["2026"], "300", "12", hs_code="840721")
    assert refused.value.status_code == 422
    assert refused.value.code == "customs_simplified_not_allowed"
    assert refused.value.fields == {"lines": ["SKU-1"]}
    assert refused.value.extra == {"skus": ["SKU-1"], "rule": "2026-07-01"}
    # The 2020 rule had no such list: 15 % of the EUR 100 excess.
    assert one_parcel(rules["2020"], "300", "12", hs_code="840721").duty_eur == D("15.00")
    # A prefix is a prefix: 8470 (calculators) is not 8407.
    assert one_parcel(rules["2026"], "300", "1", hs_code="847010").duty_eur == D("15.00")


def test_import_vat_is_off_unless_a_rule_sets_its_rate(rules: dict[str, DutyTerms]) -> None:
    with_vat = replace(rules["2026"], import_vat_rate=D("0.20"))
    # Duty 50.00, VAT 20 % of value and duty: 210.00.
    assert one_parcel(with_vat, "1000", "2") == ParcelDuty(D("50.00"), D("210.00"))
    assert one_parcel(with_vat, "1000", "2").total_eur == D("260.00")
    # Within the allowance, no duty and (by default) no VAT either ...
    assert one_parcel(with_vat, "150", "2") == ParcelDuty(D("0.00"), D("0.00"))
    # ... unless the rule taxes from the first euro (the staged draft).
    from_first = replace(with_vat, import_vat_from_first_euro=True)
    assert one_parcel(from_first, "150", "2") == ParcelDuty(D("0.00"), D("30.00"))


def test_shares_add_up_to_the_cent() -> None:
    assert share_out(D("16.12"), [D("11.72"), D("310.63")]) == [D("0.59"), D("15.53")]
    assert share_out(D("0.10"), [D("1"), D("1"), D("1")]) == [D("0.04"), D("0.03"), D("0.03")]
    assert share_out(D("5.00"), [D("0"), D("0")]) == [D("2.50"), D("2.50")]
    assert share_out(D("1.00"), []) == []


def test_repacked_parcels_share_the_duty_their_warehouse_was_charged() -> None:
    plan = [
        {
            "warehouse_id": 1,
            "parcels": [
                {"items": {"10": 2}, "duty_eur": "12.00", "duty_rub": "1104.00"},
                {"items": {"11": 1}, "duty_eur": "3.00", "duty_rub": "276.00"},
            ],
        }
    ]
    as_planned = parcel_duties_from_plan(
        plan=plan,
        parcels=[
            PackedContents(warehouse_id=1, items={11: 1}, value_cny=D("100")),
            PackedContents(warehouse_id=1, items={10: 2}, value_cny=D("400")),
        ],
    )
    assert as_planned == [(D("3.00"), D("276.00")), (D("12.00"), D("1104.00"))]
    repacked = parcel_duties_from_plan(
        plan=plan,
        parcels=[
            PackedContents(warehouse_id=1, items={10: 1, 11: 1}, value_cny=D("300")),
            PackedContents(warehouse_id=1, items={10: 1}, value_cny=D("200")),
        ],
    )
    assert repacked == [(D("9.00"), D("828.00")), (D("6.00"), D("552.00"))]
    # A plan from before duties were recorded gives none.
    assert parcel_duties_from_plan(
        plan=[{"warehouse_id": 1, "parcels": [{"items": {"10": 2}}]}],
        parcels=[PackedContents(warehouse_id=1, items={10: 2}, value_cny=D("400"))],
    ) == [None]


# --- Through checkout ----------------------------------------------------------


@pytest.fixture
def camera(world: World) -> str:
    """A EUR 1,000 camera in Harbin: 8,000 CNY at 11.5 RUB per CNY and 92 per EUR."""
    rates_today(cny="11.5000", eur="92.0000")
    product = ProductFactory.create(
        sku="CAMERA-0004", price_cny=D("8000.00"), weight_g=900, hs_code="852589"
    )
    stock_receive(warehouse_id=world.hrb.id, product_id=product.id, quantity=5)
    return product.sku


def at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.mark.parametrize(
    ("moment", "duty_eur", "rule"),
    [
        (datetime(2026, 6, 30, 23, 50, tzinfo=UTC), D("120.00"), "2020-01-01"),
        (datetime(2026, 7, 1, 0, 10, tzinfo=UTC), D("50.00"), "2026-07-01"),
    ],
    ids=["placed-2026-06-30", "placed-2026-07-01"],
)
def test_an_order_uses_the_rule_of_the_day_it_is_placed(
    world: World,
    camera: str,
    monkeypatch: pytest.MonkeyPatch,
    moment: datetime,
    duty_eur: Decimal,
    rule: str,
) -> None:
    at(monkeypatch, moment)
    order = order_place(
        user_id=world.buyer.user_id,
        lines=[LineRequest(camera, 1)],
        address=Address(**world.address()),
        payment_method="card",
    )
    [parcel] = order.plan[0]["parcels"]
    assert (parcel["duty_eur"], parcel["duty_rule"]) == (str(duty_eur), rule)
    assert order.duty_rub == duty_eur * 92
    # Packed and documented later, it keeps what it was charged.
    monkeypatch.undo()
    payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    [packed] = order_pack(order_id=order.id)
    assert (packed.duty_eur, packed.duty_rub) == (duty_eur, duty_eur * 92)


def test_quote_order_cn23_registry_ledger_and_statements_agree(world: World, camera: str) -> None:
    client = client_for(world.buyer.user)
    body = world.order_body((camera, 1), ("TEA-0001", 1))
    quote = client.post("/api/v1/checkout/quote/", body, format="json").json()
    # EUR 1,000 + 98 CNY / 8 = EUR 12.25 in one parcel: 5 % of 1,012.25.
    assert [p["duty_eur"] for p in quote["parcels"]] == [{"amount": "50.61", "currency": "EUR"}]
    assert quote["totals"]["duty"] == "4656.12"  # 50.61 * 92
    placed = client.post("/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY="duty-1")
    assert placed.json()["totals"] == quote["totals"]
    order = Order.objects.get(number=placed.json()["number"])
    assert order.duty_rub == D("4656.12")
    payment_card_charge(order_id=order.id, token="tok_approve", actor_id=None)
    duty_payable = LedgerEntry.objects.get(account__code="duty_payable")
    assert duty_payable.credit == D("4656.12")

    # Two merchants' parts, packed apart: the quoted parcel's duty is shared
    # by value, 8,000 CNY of camera and 98 CNY of tea, to the kopek.
    tea_parcel, camera_parcel = order_pack(order_id=order.id)
    declarations = [customs_declaration(parcel_id=p.id) for p in (camera_parcel, tea_parcel)]
    assert [(d.duty_eur, d.duty_rub) for d in declarations] == [
        (D("50.00"), D("4599.77")),
        (D("0.61"), D("56.35")),
    ]

    departures_plan(lane_id=world.air.id)
    [departure_id] = set(Parcel.objects.filter(order=order).values_list("departure_id", flat=True))
    assert departure_id is not None
    departure_transition(departure_id=departure_id, to="closed")
    manifest = departure_manifest(departure_id=departure_id)
    entries = manifest.registry.parcels
    assert sorted(entry.duty_eur or D(0) for entry in entries) == [D("0.61"), D("50.00")]
    rows = list(csv.DictReader(io.StringIO(manifest_registry_csv(manifest=manifest))))
    assert sorted(row["parcel_duty_eur"] for row in rows) == ["0.61", "50.00"]  # one per item

    # Delivered and past the returns window: the merchants' statements hold
    # their goods less the fee, never the duty, which stays payable to customs.
    for status in (OrderStatus.IN_TRANSIT, OrderStatus.DELIVERED):
        orders_transition(order_ids=[order.id], to=status)
    now = timezone.now()
    Order.objects.filter(id=order.id).update(delivered_at=now - timedelta(days=20))
    assert payables_release(now=now) == [order.id]
    start, end = week_bounds(week_start_of(now))
    statement = [
        row
        for line in order.lines.all()
        for row in statement_rows(merchant_id=line.merchant_id, start=start, end=end)
    ]
    assert sum(row.goods_rub for row in statement) == order.goods_rub
    assert all(row.net_rub == row.goods_rub - row.fee_rub for row in statement)
    assert order.total_rub == order.goods_rub + order.shipping_rub + D("4656.12")
    assert list(
        LedgerEntry.objects.filter(account__code="duty_payable").values_list("debit", "credit")
    ) == [(D("0.00"), D("4656.12"))]


def test_checkout_refuses_excluded_goods_from_abroad_but_not_from_russia(world: World) -> None:
    engine = ProductFactory.create(sku="ENGINE-0005", hs_code="840731", weight_g=9000)
    stock_receive(warehouse_id=world.hrb.id, product_id=engine.id, quantity=2)
    response = client_for(world.buyer.user).post(
        "/api/v1/checkout/quote/",
        world.order_body(("ENGINE-0005", 1)),
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 422
    assert response.json() == {
        "code": "customs_simplified_not_allowed",
        "message": "Some goods cannot be sent from abroad to a private buyer with the"
        " simplified e-commerce declaration.",
        "fields": {"lines": ["ENGINE-0005"]},
        "skus": ["ENGINE-0005"],
        "rule": "2026-07-01",
    }
    # Stocked in Yekaterinburg (imported and cleared already), it is sold.
    stock_receive(warehouse_id=world.svx.id, product_id=engine.id, quantity=2)
    quote = checkout_quote(lines=[LineRequest("ENGINE-0005", 1)], region="RU-SVE")
    assert [(p.warehouse, p.duty_eur) for p in quote.parcels] == [("SVX", D("0"))]

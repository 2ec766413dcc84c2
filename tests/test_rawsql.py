"""Every hand-written statement left (core.rawsql and its users) gives what
its ORM twin gives: the same rows, loaded as the ORM loads them. The reasons
each is kept, with bench/rawsql_cost.py's figures, are in
docs/architecture.md ("Hand-written SQL")."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken

from accounts.selectors import token_get
from catalogue.models import Product
from core.locking import Rank, lock_in_order, locked_transaction
from core.models import IdempotencyKey
from core.rawsql import (
    COPY_FROM_ROWS,
    INSTANCES_INSERT_ROWS,
    columns,
    insert_rows,
    instances_insert,
)
from notifications.emails import EMAIL_FIRST_SWEEP_SECONDS, emails_record_for_events
from notifications.models import Email, OutboxEvent
from orders.models import Order
from risk.models import RiskRule
from risk.selectors import risk_rules_active_and_orders_since
from shipping.tracking.models import PendingEvent, TrackingEvent
from shipping.tracking.timeline import NewEvent, _events_insert
from tests.conftest import World
from tests.factories import UserFactory, token_for
from tests.test_shipping import packed_parcels
from warehouses.models import StockLevel, StockMovement
from warehouses.selectors import products_with_availability
from warehouses.services import _locked_levels, _reserved_add


def test_a_row_loads_as_the_orm_loads_it(world: World) -> None:
    product = world.products[1]
    cols = columns(Product)
    with connection.cursor() as cursor:
        sql = f"SELECT {cols.select('p')} FROM catalogue_product p WHERE p.id = %s"  # noqa: S608
        cursor.execute(sql, [product.id])
        loaded = cols.load(cursor.fetchone())
    orm = Product.objects.get(id=product.id)
    assert {f.attname: getattr(loaded, f.attname) for f in cols.fields} == {
        f.attname: getattr(orm, f.attname) for f in cols.fields
    }
    assert isinstance(loaded.price_cny, Decimal) and loaded.created_at.tzinfo is not None
    assert loaded._state.adding is False


def test_insert_rows_skips_a_conflict_and_returns_nothing_for_it(world: World) -> None:
    now = timezone.now()
    row = (world.buyer.user_id, "k-1", "fp", "POST", "/x", "in_progress", now, now, now)
    names: tuple[str, ...] = ("user_id", "key", "fingerprint", "method", "path", "status")
    names += ("locked_at", "created_at", "expires_at")
    first = insert_rows(IdempotencyKey, names, [row], skip_conflicts_on=("user_id", "key"))
    again = insert_rows(IdempotencyKey, names, [row], skip_conflicts_on=("user_id", "key"))
    assert [len(first), again] == [1, []]
    assert IdempotencyKey.objects.get().id == first[0][0]


def test_the_token_comes_with_its_user_and_buyer_in_one_query(
    world: World, django_assert_num_queries: Any
) -> None:
    key = token_for(world.buyer.user)
    with django_assert_num_queries(1):
        token = token_get(key=key)
        assert token is not None
        assert (token.user.email, token.user.buyer.id) == (world.buyer.user.email, world.buyer.id)
    orm = AuthToken.objects.select_related("user__buyer").get(token_key=key[:15])
    assert (token.pk, token.user_id, token.user.buyer.phone) == (
        orm.pk,
        orm.user_id,
        orm.user.buyer.phone,
    )
    assert token_get(key="no such key") is None
    assert token_get(key=key[:15] + "0" * 49) is None  # the right first characters only


@pytest.mark.parametrize("with_warehouses", [True, False])
def test_products_with_availability_match_the_orm(world: World, with_warehouses: bool) -> None:
    skus = ["TEA-0001", "PHONE-0003", "NOPE-9999"]
    warehouse_ids = [world.hrb.id, world.sfh.id] if with_warehouses else []
    products, available = products_with_availability(skus=skus, warehouse_ids=warehouse_ids)
    assert products == {p.sku: p for p in Product.objects.filter(sku__in=skus)}
    assert available == {
        (w, p): a
        for w, p, a in StockLevel.objects.filter(
            product__sku__in=skus, warehouse_id__in=warehouse_ids
        ).values_list("warehouse_id", "product_id", F("on_hand") - F("reserved"))
    }


def test_stock_levels_are_locked_in_id_order_and_recorded(world: World) -> None:
    keys = [(world.hrb.id, p.id) for p in world.products] + [(world.sfh.id, world.products[0].id)]
    with locked_transaction():
        levels = _locked_levels(sorted(keys))
        expected = StockLevel.objects.filter(
            warehouse_id__in=[world.hrb.id, world.sfh.id], product__in=world.products
        )
        assert {key: level.id for key, level in levels.items()} == {
            (level.warehouse_id, level.product_id): level.id for level in expected
        }
        assert not lock_in_order(Rank.STOCK, [min(level.id for level in expected) - 1])


def test_reserved_units_are_added_to_each_level_in_one_statement(
    world: World, django_assert_num_queries: Any
) -> None:
    levels = list(StockLevel.objects.filter(warehouse=world.hrb).order_by("id"))
    with django_assert_num_queries(1):
        _reserved_add({levels[0].id: 2, levels[2].id: 5})
    assert [
        (level.id, level.reserved) for level in StockLevel.objects.filter(warehouse=world.hrb)
    ] == [(levels[0].id, 2), (levels[1].id, 0), (levels[2].id, 5)]


def test_risk_rules_and_the_last_hours_orders_match_the_orm(world: World) -> None:
    RiskRule.objects.filter(kind="orders_per_hour").update(is_active=True)
    placed = packed_parcels(world)[0].order
    since = timezone.now() - timedelta(hours=1)
    rules, count = risk_rules_active_and_orders_since(
        kinds=["orders_per_hour"], buyer_id=placed.buyer_id, since=since
    )
    assert [r.code for r in rules] == list(
        RiskRule.objects.filter(is_active=True, kind="orders_per_hour")
        .order_by("id")
        .values_list("code", flat=True)
    )
    assert count == Order.objects.filter(buyer_id=placed.buyer_id, created_at__gt=since).count()
    assert risk_rules_active_and_orders_since(
        kinds=["cod_cap"], buyer_id=placed.buyer_id, since=since
    ) == ([], 0)


@pytest.mark.postgres
def test_a_courier_batch_goes_in_as_bulk_create_would_write_it(world: World) -> None:
    [parcel] = packed_parcels(world)
    at = timezone.now()
    events = [
        NewEvent(parcel_id=parcel.id, event="departed", occurred_at=at, source="courier"),
        NewEvent(
            parcel_id=parcel.id,
            event="customs_held",
            occurred_at=at + timedelta(minutes=1),
            source="courier",
            data={"reason": "documents"},
        ),
    ]
    ids = _events_insert(events, pending=True)
    rows = list(
        TrackingEvent.objects.filter(id__in=ids)
        .order_by("id")
        .values_list("event", "status", "emsevt", "occurred_at", "data")
    )
    assert rows == [
        ("departed", "in_transit", "EMC", at, {}),
        ("customs_held", "customs_held", "EME", at + timedelta(minutes=1), {"reason": "documents"}),
    ]
    assert sorted(PendingEvent.objects.values_list("event_id", "parcel_id")) == [
        (event_id, parcel.id) for event_id in ids
    ]


AWKWARD = 'tab\there, line\nbreak\r, back\\slash \\N, "quoted", {braces}, Екатеринбург 哈尔滨'


def test_many_events_go_in_with_copy_as_the_insert_writes_them(world: World) -> None:
    [parcel] = packed_parcels(world)
    at = timezone.now()
    events = [
        NewEvent(
            parcel_id=parcel.id,
            event="customs_held" if i % 2 else "departed",
            occurred_at=at + timedelta(seconds=i),
            source="courier",
            location=AWKWARD if i % 3 == 0 else "",
            courier_id=None,
            scan_id=None if i % 4 == 0 else f'scan\\{i}\t\\N "q" 哈{i}\n',
            data={"reason": "documents", "note": AWKWARD} if i % 2 else {},
        )
        for i in range(COPY_FROM_ROWS + 5)
    ]
    with CaptureQueriesContext(connection) as queries:
        ids = _events_insert(events, pending=True)
    copied = connection.vendor == "postgresql"
    # The ids first, then one COPY of the events and one of their pending rows.
    assert [q["sql"].split()[0] for q in queries.captured_queries] == (
        ["WITH", "COPY", "COPY"] if copied else ["INSERT"] * len(queries.captured_queries)
    )
    assert ids == sorted(ids) and len(set(ids)) == len(events)
    rows = list(
        TrackingEvent.objects.filter(id__in=ids)
        .order_by("id")
        .values_list("parcel_id", "event", "status", "occurred_at", "location", "scan_id", "data")
    )
    assert rows == [
        (
            parcel.id,
            e.event,
            "customs_held" if e.event == "customs_held" else "in_transit",
            e.occurred_at,
            e.location,
            e.scan_id,
            e.data,
        )
        for e in events
    ]
    assert sorted(PendingEvent.objects.values_list("event_id", "parcel_id")) == [
        (event_id, parcel.id) for event_id in ids
    ]


def test_events_emails_are_copied_inside_the_database_once_each(db: Any) -> None:
    buyer = UserFactory.create()
    now = timezone.now()
    events = [
        OutboxEvent.objects.create(
            type="order.status_changed",
            subject=f"order:AM{n}",
            payload={},
            audience=buyer,
            occurred_at=now,
            email_to=to,
            email_subject=f"Заказ AM{n}",
            email_body="Оплачен.\n\tСпасибо",
        )
        for n, to in enumerate(["a@example.ru", "", "c@example.ru"])
    ]
    ids = [str(e.id) for e in events]
    OutboxEvent.objects.filter(id=events[2].id).update(emailed_at=now)  # sent before rows

    with CaptureQueriesContext(connection) as queries:
        written = emails_record_for_events(event_ids=ids)
    again = emails_record_for_events(event_ids=ids)

    assert (written, again, len(queries)) == (1, 0, 1)
    email = Email.objects.get()
    assert (email.event_id, email.to, email.subject, email.body) == (
        events[0].id, "a@example.ru", "Заказ AM0", "Оплачен.\n\tСпасибо",
    )  # fmt: skip
    assert (email.attempts, email.last_error, email.sent_at, email.locked_until) == (
        0,
        "",
        None,
        None,
    )
    assert email.created_at >= now and email.created_at.tzinfo is not None
    assert email.next_attempt_at - email.created_at == timedelta(seconds=EMAIL_FIRST_SWEEP_SECONDS)


def _movements(level: StockLevel, count: int) -> list[StockMovement]:
    # Deltas of nought: rows in the ledger that leave the books as they are.
    return [
        StockMovement(stock=level, kind=StockMovement.Kind.ADJUSTMENT, reason=f"check {n}")
        for n in range(count)
    ]


def test_instances_go_in_as_bulk_create_puts_them(world: World) -> None:
    level = StockLevel.objects.order_by("id").first()
    assert level is not None
    made, twins = _movements(level, 2), _movements(level, 2)
    with CaptureQueriesContext(connection) as queries:
        assert instances_insert(made) is made
    StockMovement.objects.bulk_create(twins)

    assert len(queries) == 1 and queries[0]["sql"].startswith(
        'INSERT INTO "warehouses_stockmovement"'
    )
    assert [m._state.adding for m in made] == [False, False]
    assert made[0].id < made[1].id < twins[0].id
    columns = [f.attname for f in StockMovement._meta.concrete_fields]
    columns = [c for c in columns if c not in ("id", "created_at")]

    def stored(rows: list[StockMovement]) -> list[tuple[Any, ...]]:
        ids = [row.id for row in rows]
        return list(StockMovement.objects.filter(id__in=ids).order_by("id").values_list(*columns))

    assert stored(made) == stored(twins)
    # auto_now_add is filled in before the insert, as bulk_create fills it.
    assert StockMovement.objects.get(id=made[0].id).created_at == made[0].created_at
    assert made[0].created_at.tzinfo is not None


def test_many_instances_are_left_to_bulk_create(world: World) -> None:
    level = StockLevel.objects.order_by("id").first()
    assert level is not None
    many = _movements(level, INSTANCES_INSERT_ROWS + 1)
    instances_insert(many)
    assert all(m.id is not None and not m._state.adding for m in many)
    assert StockMovement.objects.filter(id__in=[m.id for m in many]).count() == len(many)

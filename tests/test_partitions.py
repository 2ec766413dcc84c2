"""Bounded data on PostgreSQL: time partitions, retention, the indexes behind
every periodic job, admin lists that do not count."""

from __future__ import annotations

import gzip
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.admin_base import EstimatedCountPaginator
from core.partitions import (
    ATTEMPTS,
    DELIVERIES,
    OUTBOX,
    TABLES,
    TRACKING,
    is_partitioned,
    partition_id_indexes_ensure,
    partition_name,
    partitions_ensure,
    partitions_list,
    partitions_maintain,
)
from notifications.models import OutboxEvent, WebhookDelivery
from notifications.services import subscription_create
from shipping.tracking.models import TrackingEvent
from tests.conftest import World
from tests.factories import UserFactory
from tests.test_tracking_life import packed_parcel

postgres = pytest.mark.postgres


def _partition_of(table: str, row_id: Any) -> str:
    with connection.cursor() as cursor:
        sql = f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s"  # noqa: S608
        cursor.execute(sql, [row_id])
        return str(cursor.fetchone()[0])


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


@postgres
def test_the_growing_tables_are_partitioned_with_the_key_in_every_unique_constraint(
    db: Any,
) -> None:
    assert [is_partitioned(spec.table) for spec in TABLES] == [True, True, True, True]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('p', 'u') ORDER BY 1, 2",
            [[spec.table for spec in TABLES]],
        )
        constraints = cursor.fetchall()
    assert constraints == [
        ("notifications_outboxevent", "PRIMARY KEY (id, created_at)"),
        ("notifications_webhookattempt", "PRIMARY KEY (id, requested_at)"),
        ("notifications_webhookattempt", "UNIQUE (delivery_id, number, requested_at)"),
        ("notifications_webhookdelivery", "PRIMARY KEY (id, event_created_at)"),
        (
            "notifications_webhookdelivery",
            "UNIQUE (event_id, subscription_id, event_created_at)",
        ),
        ("shipping_trackingevent", "PRIMARY KEY (id, occurred_at)"),
        ("shipping_trackingevent", "UNIQUE (scan_id, occurred_at)"),
    ]
    # The migration made this month's partition and some ahead.
    today = timezone.now().date()
    assert today.replace(day=1) in partitions_list(TRACKING)
    assert today + timedelta(days=7) in partitions_list(OUTBOX)


def _id_keyed(spec: Any) -> list[str]:
    """The table's partitions that have a unique index on id alone."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_index x ON x.indrelid = c.oid AND x.indisunique AND x.indnatts = 1"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]"
            " WHERE i.inhparent = %s::regclass AND a.attname = 'id' ORDER BY 1",
            [spec.table],
        )
        return [name for (name,) in cursor.fetchall()]


@postgres
def test_partitions_read_by_lists_of_ids_know_each_id_is_one_row(db: Any) -> None:
    far = date(2031, 5, 17)
    assert partitions_ensure(OUTBOX, today=far, ahead=0) == ["notifications_outboxevent_p20310517"]
    assert partitions_ensure(DELIVERIES, today=far, ahead=0) == [
        "notifications_webhookdelivery_p20310517"
    ]
    for spec in (OUTBOX, DELIVERIES):
        names = {partition_name(spec, start) for start in partitions_list(spec)}
        assert set(_id_keyed(spec)) == names | {f"{spec.table}_default"}
        assert partition_id_indexes_ensure(spec) == []  # all there
    assert _id_keyed(TRACKING) == _id_keyed(ATTEMPTS) == []

    # A new day's partition, filled and not yet analyzed: a list of ids is
    # looked up through the index, not by reading the whole partition.
    events = OutboxEvent.objects.bulk_create(
        OutboxEvent(
            type="order.status_changed",
            subject=f"order:AM{n}",
            payload={"n": n},
            email_body="x" * 500,
            occurred_at=_at(far),
        )
        for n in range(5000)
    )
    # created_at is set on insert; moved, the rows land in the new partition.
    OutboxEvent.objects.filter(id__in=[event.id for event in events]).update(created_at=_at(far))
    ids = [str(event.id) for event in events[::50]]
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT id FROM notifications_outboxevent WHERE id = ANY(%s::uuid[])", [ids]
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on notifications_outboxevent_p20310517" not in plan
    assert "notifications_outboxevent_p20310517_id_key" in plan


@postgres
def test_a_row_outside_every_partition_waits_in_default_and_moves_when_its_partition_comes(
    world: World,
) -> None:
    parcel = packed_parcel(world)
    far = date(2031, 5, 17)
    event = TrackingEvent.objects.create(
        parcel=parcel, event="in_transit", occurred_at=_at(far), source="system"
    )
    assert _partition_of(TRACKING.table, event.id) == "shipping_trackingevent_default"

    created = partitions_ensure(TRACKING, today=far, ahead=0)

    assert created == ["shipping_trackingevent_p20310501"]
    assert _partition_of(TRACKING.table, event.id) == "shipping_trackingevent_p20310501"
    assert TrackingEvent.objects.get(id=event.id).occurred_at == _at(far)
    assert partitions_ensure(TRACKING, today=far, ahead=0) == []  # already there


@postgres
def test_maintenance_archives_old_tracking_then_drops_it_and_drops_old_outbox_days(
    world: World, settings: Any, tmp_path: Path
) -> None:
    settings.AMUR = {
        **settings.AMUR,
        "TRACKING_RETENTION_DAYS": 400,
        "OUTBOX_RETENTION_DAYS": 30,
        "TRACKING_ARCHIVE_DIR": str(tmp_path),
    }
    today = timezone.now().date()
    old_month = (today - timedelta(days=460)).replace(day=1)
    old_day = today - timedelta(days=40)
    partitions_ensure(TRACKING, today=old_month, ahead=0)
    for spec in (OUTBOX, DELIVERIES, ATTEMPTS):
        partitions_ensure(spec, today=old_day, ahead=0)
    parcel = packed_parcel(world)
    old_event = TrackingEvent.objects.create(
        parcel=parcel,
        event="in_transit",
        occurred_at=_at(old_month),
        source="courier",
        location="Harbin",
        scan_id="old-scan-1",
    )
    kept_event = TrackingEvent.objects.filter(parcel=parcel).exclude(id=old_event.id).get()
    owner = UserFactory.create()
    subscription = subscription_create(
        owner_id=owner.id, url="https://example.com/h", event_types=[]
    )
    old_outbox = OutboxEvent.objects.create(
        type="order.status_changed", subject="order:AM1", payload={}, occurred_at=_at(old_day)
    )
    OutboxEvent.objects.filter(id=old_outbox.id).update(created_at=_at(old_day))
    WebhookDelivery.objects.create(
        event=old_outbox,
        event_created_at=_at(old_day),
        subscription=subscription,
        next_attempt_at=_at(old_day),
    )
    fresh = OutboxEvent.objects.create(
        type="order.status_changed", subject="order:AM2", payload={}, occurred_at=timezone.now()
    )

    with connection.cursor() as cursor:
        # The rows above are checked at commit (deferred keys), and PostgreSQL
        # drops no table with checks pending; the beat task has none.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    done = partitions_maintain(today=today)

    old_name = f"shipping_trackingevent_p{old_month:%Y%m%d}"
    day = f"{old_day:%Y%m%d}"
    assert set(done["dropped"]) == {
        old_name,
        f"notifications_outboxevent_p{day}",
        f"notifications_webhookdelivery_p{day}",
        f"notifications_webhookattempt_p{day}",
    }
    assert list(TrackingEvent.objects.filter(parcel=parcel).values_list("id", flat=True)) == [
        kept_event.id
    ]
    assert list(
        OutboxEvent.objects.filter(id__in=[old_outbox.id, fresh.id]).values_list("id", flat=True)
    ) == [fresh.id]
    assert WebhookDelivery.objects.count() == 0
    with gzip.open(tmp_path / f"{old_name}.tsv.gz", "rt") as archive:
        lines = archive.read().splitlines()
    assert lines[0].split("\t")[:3] == ["id", "event", "status"]
    assert len(lines) == 2
    row = lines[1].split("\t")
    assert row[0] == str(old_event.id)
    assert "old-scan-1" in row and "Harbin" in row
    assert done["created"] == []  # the migration already made what lies ahead
    assert partitions_maintain(today=today) == {"created": [], "dropped": []}


def test_maintenance_does_nothing_on_sqlite(db: Any) -> None:
    if connection.vendor == "postgresql":
        pytest.skip("SQLite behaviour")
    assert partitions_maintain(today=timezone.now().date()) == {"created": [], "dropped": []}
    assert is_partitioned(TRACKING.table) is False


# Tables that hold configuration, a few rows each: a sequential scan is their
# best plan at any size the business reaches.
CONFIGURATION_TABLES = {
    "catalogue_merchant",
    "notifications_webhooksubscription",
    "payments_ledgeraccount",
    "risk_riskrule",
    "shipping_lane",
    "shipping_laneregion",
    "accounts_courier",
    "warehouses_warehouse",
}
# Called out over the network or by hand, not on a schedule we test here.
NOT_CHECKED = {"payments.rates_refresh"}


def _partial_indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexrelid::regclass::text FROM pg_index WHERE indpred IS NOT NULL")
        return {name for (name,) in cursor.fetchall()}


def _unindexed_reads(sql: str, partial: set[str]) -> set[str]:
    """Tables the statement reads whole: a sequential scan, or an index
    walked end to end (no condition on it, not a partial index), which is
    what the planner falls back to with sequential scans turned off."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
        (plan,) = cursor.fetchone()
        cursor.execute("SET LOCAL enable_seqscan = on")
    found: set[str] = set()

    def walk(node: dict[str, Any], limited: bool = False) -> None:
        # Under a LIMIT, an index walked in its order reads only what is taken.
        kind = node["Node Type"]
        limited = limited or kind == "Limit"
        table = re.sub(r"_p\d{8}$|_default$", "", node.get("Relation Name", ""))
        if kind == "Seq Scan" or (
            kind in {"Index Scan", "Index Only Scan"}
            and "Index Cond" not in node
            and node["Index Name"] not in partial
            and not limited
        ):
            found.add(table)
        for child in node.get("Plans", []):
            walk(child, limited)

    walk(plan[0]["Plan"])
    return found - {""}


@postgres
def test_every_periodic_job_reads_the_growing_tables_through_an_index(world: World) -> None:
    packed_parcel(world)
    current_app.loader.import_default_modules()
    scanned: dict[str, set[str]] = {}
    partial = _partial_indexes()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        name = entry["task"]
        if name in NOT_CHECKED:
            continue
        with CaptureQueriesContext(connection) as queries:
            current_app.tasks[name].run()
        for query in queries.captured_queries:
            sql = query["sql"]
            if not re.match(r"\s*(SELECT|UPDATE|DELETE|WITH)", sql, re.IGNORECASE):
                continue
            tables = _unindexed_reads(sql, partial) - CONFIGURATION_TABLES
            if tables:
                scanned.setdefault(name, set()).update(tables)
    assert scanned == {}


@postgres
def test_admin_lists_of_the_large_tables_estimate_their_count(
    world: World, client: Any, monkeypatch: Any
) -> None:
    for _ in range(3):
        packed_parcel(world)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE shipping_trackingevent")
    monkeypatch.setattr(EstimatedCountPaginator, "EXACT_BELOW", 0)
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/shipping/trackingevent/")

    assert response.status_code == 200
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert [sql for sql in counts if "shipping_trackingevent" in sql] == []
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) SELECT * FROM shipping_trackingevent")
        estimate = cursor.fetchone()[0][0]["Plan"]["Plan Rows"]
    assert estimate > 0
    assert response.context["cl"].paginator.count == estimate
    assert response.context["cl"].show_full_result_count is False


def test_the_estimated_count_is_exact_for_small_or_non_postgresql_lists(world: World) -> None:
    packed_parcel(world)
    paginator = EstimatedCountPaginator(TrackingEvent.objects.order_by("id"), 100)
    assert paginator.count == TrackingEvent.objects.count()


@postgres
@pytest.mark.django_db(transaction=True)
def test_the_migration_partitions_existing_rows_and_back() -> None:
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("notifications")
    before = [("notifications", "0002_outboxevent_audience_ids_alter_outboxevent_subject")]
    old = executor.migrate(before).apps
    executor.loader.build_graph()
    assert is_partitioned(OUTBOX.table) is False
    owner = old.get_model("auth", "User").objects.create(username="o", email="o@amur.example")
    subscription = old.get_model("notifications", "WebhookSubscription").objects.create(
        owner=owner, url="https://example.com/h", secret="s"
    )
    then = datetime(2026, 10, 3, 9, tzinfo=UTC)
    event = old.get_model("notifications", "OutboxEvent").objects.create(
        type="order.status_changed", subject="order:AM1", payload={}, occurred_at=then
    )
    old.get_model("notifications", "OutboxEvent").objects.filter(id=event.id).update(
        created_at=then
    )
    delivery = old.get_model("notifications", "WebhookDelivery").objects.create(
        event=event, subscription=subscription, next_attempt_at=then
    )

    new = executor.migrate(latest).apps
    executor.loader.build_graph()

    assert [is_partitioned(spec.table) for spec in (OUTBOX, DELIVERIES, ATTEMPTS)] == [True] * 3
    moved = new.get_model("notifications", "WebhookDelivery").objects.get()
    assert (moved.id, moved.event_id, moved.event_created_at) == (delivery.id, event.id, then)
    assert _partition_of(OUTBOX.table, event.id) == "notifications_outboxevent_p20261003"
    assert _partition_of(DELIVERIES.table, delivery.id) == "notifications_webhookdelivery_p20261003"
    # The identity goes on after the rows moved over.
    other = new.get_model("notifications", "WebhookSubscription").objects.create(
        owner_id=owner.id, url="https://example.com/other", secret="s"
    )
    again = new.get_model("notifications", "WebhookDelivery").objects.create(
        event_id=event.id,
        event_created_at=then,
        subscription_id=other.id,
        next_attempt_at=then,
    )
    assert again.id == delivery.id + 1

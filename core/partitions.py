"""Time partitions of the tables that grow without end (PostgreSQL only).

Tracking events, outbox events, webhook deliveries and their attempts are
native declarative partitions by range of one time column: a month per
partition for tracking, a day for the outbox tables. Retention is then a
DROP of whole partitions (no DELETE, no bloat, no vacuum debt), and queries
that name the time column read only the partitions it covers.

Each table also has a DEFAULT partition, so a row never fails to insert: a
courier's clock far off, or a partition not yet created. `partitions_ensure`
moves such rows into the partition it creates for them.

Partitions are named `<table>_pYYYYMMDD` after their lower bound; the bound
is read back from that name. SQLite keeps plain tables: every function here
does nothing there.
"""

# Table, partition and column names below come from the specs in this module
# and the catalogue, quoted; every value is a parameter.
# ruff: noqa: S608
from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.db import connections, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

log = logging.getLogger(__name__)

MONTH = "month"
DAY = "day"


@dataclass(frozen=True)
class PartitionedTable:
    table: str
    key: str  # the time column partitioned by
    interval: str  # MONTH or DAY
    # Each partition gets a unique index on id alone. The table's primary key
    # has to include the partition key, so the planner does not know that id
    # is unique; on a partition not yet analyzed (every new day's, until
    # autovacuum reaches it) it then takes `id IN (200 ids)` for most of the
    # partition and reads all of it. With the index it knows each id is one
    # row. For the tables read by lists of ids (the outbox's fan-out and
    # e-mail marks, the deliveries' claims): bench/fanout.py measured every
    # such statement at 5-30 ms against a new partition without it.
    id_unique: bool = False


TRACKING = PartitionedTable("shipping_trackingevent", "occurred_at", MONTH)
OUTBOX = PartitionedTable("notifications_outboxevent", "created_at", DAY, id_unique=True)
DELIVERIES = PartitionedTable(
    "notifications_webhookdelivery", "event_created_at", DAY, id_unique=True
)
ATTEMPTS = PartitionedTable("notifications_webhookattempt", "requested_at", DAY)
TABLES = (TRACKING, OUTBOX, DELIVERIES, ATTEMPTS)


def period_start(day: date, interval: str) -> date:
    return day.replace(day=1) if interval == MONTH else day


def period_next(start: date, interval: str) -> date:
    if interval == DAY:
        return start + timedelta(days=1)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def partition_name(spec: PartitionedTable, start: date) -> str:
    return f"{spec.table}_p{start:%Y%m%d}"


def _bound(day: date) -> str:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).isoformat()


def partitions_list(spec: PartitionedTable, *, using: str = "default") -> list[date]:
    """Lower bounds of the table's range partitions, oldest first (not DEFAULT)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    prefix = f"{spec.table}_p"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass",
            [spec.table],
        )
        names = [name for (name,) in cursor.fetchall()]
    starts = [
        date(int(name[-8:-4]), int(name[-4:-2]), int(name[-2:]))
        for name in names
        if name.startswith(prefix) and len(name) == len(prefix) + 8 and name[-8:].isdigit()
    ]
    return sorted(starts)


def spec_for(table: str) -> PartitionedTable | None:
    return next((spec for spec in TABLES if spec.table == table), None)


def _id_index_create(cursor: Any, partition: str, qn: Any) -> None:
    cursor.execute(
        f"CREATE UNIQUE INDEX IF NOT EXISTS {qn(partition + '_id_key')} ON {qn(partition)} (id)"
    )


def partition_id_indexes_ensure(spec: PartitionedTable, *, using: str = "default") -> list[str]:
    """Give every partition of the table (DEFAULT included) its unique index
    on id, if the table asks for one (PartitionedTable.id_unique); returns
    the partitions that had none. For databases partitioned before it did."""
    connection = connections[using]
    if connection.vendor != "postgresql" or not spec.id_unique:
        return []
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass AND NOT EXISTS (SELECT 1 FROM pg_indexes x"
            " WHERE x.tablename = c.relname AND x.indexname = c.relname || '_id_key')"
            " ORDER BY 1",
            [spec.table],
        )
        missing = [name for (name,) in cursor.fetchall()]
        for name in missing:
            _id_index_create(cursor, name, qn)
    return missing


def is_partitioned(table: str, *, using: str = "default") -> bool:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [table])
        return cursor.fetchone() is not None


def _periods(spec: PartitionedTable, first: date, last: date) -> Iterator[date]:
    start = period_start(first, spec.interval)
    while start <= last:
        yield start
        start = period_next(start, spec.interval)


def partitions_ensure(
    spec: PartitionedTable, *, today: date, ahead: int, since: date | None = None, using="default"
) -> list[str]:
    """Create the partitions from `since` (default: today) through `ahead`
    periods after today's; returns the names created. Rows already in the
    DEFAULT partition for a new range are moved into it, in the same
    transaction (PostgreSQL refuses the new partition otherwise)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    existing = set(partitions_list(spec, using=using))
    last = today
    for _ in range(ahead):
        last = period_next(period_start(last, spec.interval), spec.interval)
    created: list[str] = []
    qn = connection.ops.quote_name
    default = qn(f"{spec.table}_default")
    for start in _periods(spec, since or today, last):
        if start in existing:
            continue
        name = partition_name(spec, start)
        lo, hi = _bound(start), _bound(period_next(start, spec.interval))
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {default} WHERE {qn(spec.key)} >= %s AND {qn(spec.key)} < %s"
                " LIMIT 1",
                [lo, hi],
            )
            stray = cursor.fetchone() is not None
            if stray:
                cursor.execute(f"ALTER TABLE {qn(spec.table)} DETACH PARTITION {default}")
            cursor.execute(
                f"CREATE TABLE {qn(name)} PARTITION OF {qn(spec.table)}"
                f" FOR VALUES FROM ('{lo}') TO ('{hi}')"
            )
            if spec.id_unique:
                _id_index_create(cursor, name, qn)
            if stray:
                where = f"{qn(spec.key)} >= %s AND {qn(spec.key)} < %s"
                cursor.execute(
                    f"INSERT INTO {qn(name)} SELECT * FROM {default} WHERE {where}", [lo, hi]
                )
                cursor.execute(f"DELETE FROM {default} WHERE {where}", [lo, hi])
                cursor.execute(f"ALTER TABLE {qn(spec.table)} ATTACH PARTITION {default} DEFAULT")
        created.append(name)
    return created


def partitions_drop(
    spec: PartitionedTable,
    *,
    before: date,
    archive_dir: Path | None = None,
    using: str = "default",
) -> list[str]:
    """Drop the partitions that end on or before `before`; returns their
    names. With `archive_dir`, each is first written there as a gzipped COPY
    (`<partition>.tsv.gz`, PostgreSQL's text format with a header line), and
    dropped only once the file is complete."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    qn = connection.ops.quote_name
    dropped: list[str] = []
    for start in partitions_list(spec, using=using):
        if period_next(start, spec.interval) > before:
            continue
        name = partition_name(spec, start)
        if archive_dir is not None:
            partition_archive(name, archive_dir=archive_dir, using=using)
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {qn(spec.table)} DETACH PARTITION {qn(name)}")
            cursor.execute(f"DROP TABLE {qn(name)}")
        log.info("partition dropped: %s", name)
        dropped.append(name)
    return dropped


def partition_archive(name: str, *, archive_dir: Path, using: str = "default") -> Path:
    """Write one partition to `<archive_dir>/<name>.tsv.gz` with COPY."""
    connection = connections[using]
    archive_dir.mkdir(parents=True, exist_ok=True)
    path = archive_dir / f"{name}.tsv.gz"
    partial = path.with_suffix(".gz.partial")
    qn = connection.ops.quote_name
    with connection.cursor() as cursor, gzip.open(partial, "wb") as out:
        raw: Any = cursor.cursor  # psycopg2's own cursor: Django's wrapper has no COPY
        raw.copy_expert(f"COPY {qn(name)} TO STDOUT WITH (FORMAT text, HEADER true)", out)
    partial.rename(path)
    log.info("partition archived: %s -> %s", name, path)
    return path


class PartitionTable(Operation):
    """Migration operation: on PostgreSQL, turn an existing table into one
    partitioned by range of `key`, with the same columns, indexes and
    outgoing foreign keys, its primary key extended with `key` (PostgreSQL
    wants the partition key in every unique constraint), and its rows moved
    over. Other databases keep the plain table. Foreign keys pointing to the
    table must be dropped before (db_constraint=False): PostgreSQL cannot
    check a reference to part of a partitioned table's key."""

    reduces_to_sql = False
    reversible = True

    def __init__(self, table: str, key: str, interval: str) -> None:
        self.table, self.key, self.interval = table, key, interval

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [self.table, self.key, self.interval], {})

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def describe(self) -> str:
        return f"Partition {self.table} by range of {self.key} (PostgreSQL)"

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        connection = schema_editor.connection
        if connection.vendor != "postgresql" or is_partitioned(self.table, using=connection.alias):
            return
        qn = connection.ops.quote_name
        table, old = self.table, f"{self.table}_unpartitioned"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN"
                " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass"
                " AND contype IN ('p', 'u'))",
                [table, table],
            )
            indexes = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype IN ('u', 'f', 'c')",
                [table],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'",
                [table],
            )
            (pk_name,) = cursor.fetchone()
            cursor.execute(f"ALTER TABLE {qn(table)} RENAME TO {qn(old)}")
            cursor.execute(
                f"CREATE TABLE {qn(table)} (LIKE {qn(old)} INCLUDING DEFAULTS INCLUDING IDENTITY"
                f" INCLUDING GENERATED) PARTITION BY RANGE ({qn(self.key)})"
            )
            cursor.execute(
                f"CREATE TABLE {qn(table + '_default')} PARTITION OF {qn(table)} DEFAULT"
            )
            spec = spec_for(table) or PartitionedTable(table, self.key, self.interval)
            if spec.id_unique:
                _id_index_create(cursor, table + "_default", qn)
            cursor.execute(f"SELECT min({qn(self.key)}) FROM {qn(old)}")
            (oldest,) = cursor.fetchone()
        today = datetime.now(UTC).date()
        partitions_ensure(
            spec,
            today=today,
            ahead=AHEAD[self.interval],
            since=min(oldest.date(), today) if oldest else today,
            using=connection.alias,
        )
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {qn(table)} SELECT * FROM {qn(old)}")
            _identity_restart(cursor, table=table, source=old, qn=qn)
            cursor.execute(f"DROP TABLE {qn(old)} CASCADE")
            cursor.execute(
                f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(pk_name)}"
                f" PRIMARY KEY (id, {qn(self.key)})"
            )
            for name, definition in constraints:
                if definition.startswith("UNIQUE") and self.key not in definition:
                    raise ValueError(f"{name} on {table} must include {self.key}: {definition}")
                cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")
            for definition in indexes:
                cursor.execute(_on_table(definition, table, qn))

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        # Back to one plain table holding every row, under the same names.
        connection = schema_editor.connection
        if connection.vendor != "postgresql" or not is_partitioned(
            self.table, using=connection.alias
        ):
            return
        qn = connection.ops.quote_name
        table, old = self.table, f"{self.table}_partitioned"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN"
                " (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                [table, table],
            )
            indexes = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f', 'c')",
                [table],
            )
            constraints = cursor.fetchall()
            cursor.execute(f"ALTER TABLE {qn(table)} RENAME TO {qn(old)}")
            cursor.execute(
                f"CREATE TABLE {qn(table)} (LIKE {qn(old)} INCLUDING DEFAULTS INCLUDING IDENTITY"
                " INCLUDING GENERATED)"
            )
            cursor.execute(f"INSERT INTO {qn(table)} SELECT * FROM {qn(old)}")
            _identity_restart(cursor, table=table, source=old, qn=qn)
            cursor.execute(f"DROP TABLE {qn(old)} CASCADE")
            for name, definition in constraints:
                if definition.startswith("PRIMARY KEY"):
                    definition = "PRIMARY KEY (id)"
                cursor.execute(f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(name)} {definition}")
            for definition in indexes:
                cursor.execute(_on_table(definition, table, qn))


def _on_table(definition: str, table: str, qn: Any) -> str:
    """An index definition from pg_indexes, pointed at the new table of the same name."""
    for form in (f" ON ONLY public.{table} ", f" ON public.{table} "):
        definition = definition.replace(form, f" ON {qn(table)} ")
    return definition


def _identity_restart(cursor: Any, *, table: str, source: str, qn: Any) -> None:
    """Continue the new table's identity columns after the rows copied from `source`."""
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attidentity <> ''",
        [table],
    )
    for (column,) in cursor.fetchall():
        cursor.execute(f"SELECT coalesce(max({qn(column)}), 0) + 1 FROM {qn(source)}")
        (restart,) = cursor.fetchone()
        cursor.execute(f"ALTER TABLE {qn(table)} ALTER COLUMN {qn(column)} RESTART WITH {restart}")


AHEAD = {MONTH: 3, DAY: 7}


def partitions_maintain(*, today: date, using: str = "default") -> dict[str, list[str]]:
    """Create partitions ahead and drop those past retention: tracking after
    TRACKING_RETENTION_DAYS, archived to TRACKING_ARCHIVE_DIR first; the
    outbox, deliveries and attempts after OUTBOX_RETENTION_DAYS. Returns
    what was created and dropped. Idempotent; nothing on SQLite."""
    from django.conf import settings

    conf = settings.AMUR
    created: list[str] = []
    dropped: list[str] = []
    for spec in TABLES:
        created += partitions_ensure(spec, today=today, ahead=AHEAD[spec.interval], using=using)
        if spec is TRACKING:
            before = today - timedelta(days=conf["TRACKING_RETENTION_DAYS"])
            archive: Path | None = Path(conf["TRACKING_ARCHIVE_DIR"])
        else:
            before = today - timedelta(days=conf["OUTBOX_RETENTION_DAYS"])
            archive = None
        dropped += partitions_drop(spec, before=before, archive_dir=archive, using=using)
    return {"created": created, "dropped": dropped}

"""Hand-written SQL where the ORM cannot say it in one statement (INSERT ... ON
CONFLICT DO NOTHING RETURNING), on the bulk paths (a courier batch, the
outbox), and on the checkout statements whose ORM twins cost a real share of
the request (bench/rawsql_cost.py measures each; docs/architecture.md keeps
the figures). The rows still become model instances, converted as the ORM
would convert them (on SQLite a raw cursor returns decimals and datetimes as
text). tests/test_rawsql.py checks each use against its ORM twin."""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Field, Model, QuerySet

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class Columns(Generic[M]):
    """A model's concrete columns, to select them in raw SQL and load the row."""

    model: type[M]
    fields: tuple[Field[Any, Any], ...]
    attnames: tuple[str, ...]

    def select(self, alias: str) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{alias}.{quote(f.column or f.attname)}" for f in self.fields)

    def load(self, row: Sequence[Any], start: int = 0) -> M:
        """The instance held by row[start : start + len(self.fields)]."""
        values = list(row[start : start + len(self.fields)])
        for index, convert in _converters(self.model, connection.vendor):
            values[index] = convert(values[index])
        return self.model.from_db(connection.alias, list(self.attnames), values)


@functools.cache
def columns(model: type[M]) -> Columns[M]:
    fields = tuple(model._meta.concrete_fields)
    return Columns(model=model, fields=fields, attnames=tuple(f.attname for f in fields))


@functools.cache
def _converters(model: type[Model], vendor: str) -> list[tuple[int, Callable[[Any], Any]]]:
    # The vendor is part of the key only so a test run switching databases
    # cannot reuse another backend's converters.
    out: list[tuple[int, Callable[[Any], Any]]] = []
    for index, field in enumerate(model._meta.concrete_fields):
        col = field.get_col(model._meta.db_table)
        chain: list[Converter] = [
            *connection.ops.get_db_converters(col),
            *field.get_db_converters(connection),
        ]
        if chain:
            out.append((index, functools.partial(_convert, tuple(chain), col)))
    return out


def _convert(chain: tuple[Converter, ...], col: Any, value: Any) -> Any:
    for converter in chain:
        value = converter(value, col, connection)
    return value


def placeholders(count: int) -> str:
    """An IN list's placeholders, "%s, %s, ...": portable, unlike PostgreSQL's = ANY(array)."""
    return ", ".join(["%s"] * count)


def insert_rows(
    model: type[Model],
    attnames: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    returning: Sequence[str] = ("id",),
    skip_conflicts_on: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """INSERT the rows (values in the order of `attnames`, prepared as the ORM
    prepares them) in one statement and return the `returning` columns, row by
    row in the order given. With `skip_conflicts_on`, a row clashing with a
    unique constraint on those columns is skipped (ON CONFLICT DO NOTHING) and
    returns nothing. Fields the ORM fills itself (auto_now_add) must be given.
    The statement's text is kept per shape (model, columns, number of rows).
    Meant for the few rows of one request: nothing splits a large batch to
    stay under a database's limit on parameters."""
    if not rows:
        return []
    fields = _fields(model, tuple(attnames))
    sql = _insert_sql(model, tuple(attnames), len(rows), tuple(returning), tuple(skip_conflicts_on))
    params = [_prep(field, value) for row in rows for field, value in zip(fields, row, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(r) for r in cursor.fetchall()] if returning else []


# Above this many rows instances_insert leaves the work to bulk_create, which
# splits a batch to stay under the database's limit on parameters.
INSTANCES_INSERT_ROWS = 100


def instances_insert(objs: Sequence[M]) -> Sequence[M]:
    """bulk_create for the few new instances of one request: one INSERT
    ... RETURNING of every concrete column, fields filled as bulk_create
    fills them (auto_now and auto_now_add), each instance given its id and
    marked saved. Measured on the checkout path: bulk_create's compiling
    and per-field preparation cost 0.4-0.6 ms per call in-process, and a
    placement makes five (the order, its lines, its event, the stock
    movements and reservations); this costs a third of that. Sends no
    signals, as bulk_create does not. Larger batches go to bulk_create."""
    if not objs:
        return objs
    model = type(objs[0])
    if len(objs) > INSTANCES_INSERT_ROWS:
        return model._default_manager.bulk_create(objs, batch_size=1000)
    pk, fields = _insert_fields(model)
    rows = [[field.pre_save(obj, True) for field in fields] for obj in objs]
    returned = insert_rows(model, [f.attname for f in fields], rows, returning=(pk.attname,))
    for obj, (value,) in zip(objs, returned, strict=True):
        obj.pk = value
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


@functools.cache
def _insert_fields(model: type[Model]) -> tuple[Field[Any, Any], tuple[Field[Any, Any], ...]]:
    """The primary key, and the concrete columns an insert writes (all but a
    database-generated primary key)."""
    pk = model._meta.pk
    assert pk is not None
    fields = tuple(
        field
        for field in model._meta.concrete_fields
        if not (field.primary_key and field.db_returning)  # AutoField and kin
        and not getattr(field, "generated", False)
    )
    return pk, fields


def insert_select(
    model: type[Model],
    attnames: Sequence[str],
    query: QuerySet[Any],
    *,
    skip_conflicts_on: Sequence[str] = (),
) -> int:
    """INSERT INTO the model's table the rows a query selects, its values in
    the order of `attnames` (constants as annotations), in one statement that
    never brings them to Python, in the query's order (ids follow it); with
    `skip_conflicts_on` as insert_rows. Returns how many rows went in."""
    select, params = query.query.sql_with_params()
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)}"
        f" ({column_list(model, attnames)}) {select}"
    )
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({column_list(model, skip_conflicts_on)}) DO NOTHING"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


@functools.lru_cache(maxsize=256)
def _insert_sql(
    model: type[Model],
    attnames: tuple[str, ...],
    count: int,
    returning: tuple[str, ...],
    skip_conflicts_on: tuple[str, ...],
) -> str:
    one = f"({placeholders(len(attnames))})"
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)}"  # noqa: S608
        f" ({column_list(model, attnames)}) VALUES {', '.join([one] * count)}"
    )
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({column_list(model, skip_conflicts_on)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {column_list(model, returning)}"
    return sql


def _prep(field: Field[Any, Any], value: Any) -> Any:
    # What get_db_prep_save makes of None, and of whole numbers and text in
    # plain text and number columns, is the value itself: skipping it for them
    # spares a chain of calls per value.
    if value is None or (type(value) in _AS_IS and _plain(field)):
        return value
    return field.get_db_prep_save(value, connection)


_AS_IS = frozenset({int, str, bool})
# Column types whose prepared value is the int, str or bool given (not JSON,
# UUID on SQLite, dates or decimals).
_PLAIN_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SlugField",
        "SmallAutoField",
        "SmallIntegerField",
        "TextField",
    }
)


@functools.cache
def _plain(field: Field[Any, Any]) -> bool:
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    return target.get_internal_type() in _PLAIN_TYPES


@functools.cache
def _fields(model: type[Model], attnames: tuple[str, ...]) -> list[Field[Any, Any]]:
    return [_field(model, name) for name in attnames]


def _field(model: type[Model], attname: str) -> Field[Any, Any]:
    field = model._meta.get_field(attname)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{attname} is not a column")
    return field


def column_list(model: type[Model], attnames: Sequence[str]) -> str:
    """The quoted columns of the fields named (attnames: "user_id", not "user")."""
    quote = connection.ops.quote_name
    return ", ".join(quote(_field(model, name).column or name) for name in attnames)


# COPY ... FROM STDIN, on the bulk paths: several times cheaper for the server
# than an INSERT of the same rows, and the client sends one text instead of
# adapting each value. Fewer rows go in with one INSERT: COPY's setup costs
# the server more than it saves on a handful.
COPY_FROM_ROWS = 20
COPY_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: str) -> str:
    """Free text as one field of COPY's text format."""
    return value.translate(_COPY_ESCAPES)


def copy_available() -> bool:
    """Whether copy_in can run here: PostgreSQL through psycopg2."""
    driver = getattr(connection, "Database", None)  # the DB-API module in use
    return connection.vendor == "postgresql" and getattr(driver, "__name__", "") == "psycopg2"


def copy_in(*, table: str, columns: Sequence[str], text: str) -> None:
    """Write `text` (COPY text format: a line per row, fields in `columns`'
    order, free text through copy_text) into `table` in the caller's
    transaction. Only where copy_available()."""
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors:
        # A debug cursor (DEBUG, or a test counting queries) logs the COPY as
        # it logs any other statement, so counts compare like with like.
        debug_sql = getattr(cursor, "debug_sql", None)
        with debug_sql(sql) if debug_sql else contextlib.nullcontext():
            cursor.cursor.copy_expert(sql, io.StringIO(text))


def ids_take(*, table: str, count: int) -> list[int]:
    """`count` new ids from the sequence behind `table`'s id column
    (PostgreSQL), ascending: rows written with COPY carry their ids."""
    with connection.cursor() as cursor:
        # The sequence looked up once (a MATERIALIZED CTE): called per id, the
        # lookup cost five times the ids themselves.
        cursor.execute(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS seq)"
            " SELECT nextval(s.seq) FROM s, generate_series(1, %s)",
            [table, count],
        )
        return sorted(row_id for (row_id,) in cursor.fetchall())

"""Hand-written SQL for the few hot paths where compiling an ORM query costs
more than running it (checkout runs a dozen statements per order). The rows
still become model instances, converted as the ORM would convert them (on
SQLite a raw cursor returns decimals and datetimes as text)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Field, Model

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
    """ "%s, %s, ..." for an IN list: portable, unlike PostgreSQL's = ANY(array)."""
    return ", ".join(["%s"] * count)

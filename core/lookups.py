"""`field__any_of=values`: membership in a list, sent to PostgreSQL as one
array parameter (`= ANY(%s)`) instead of one parameter per value.

A courier batch asks about a thousand tracking numbers and scan ids at once;
`__in` prepares, quotes and binds each value separately, which cost more
than the query itself. On other databases it is a plain `IN (...)`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignObject, Lookup
from django.db.models.sql.compiler import SQLCompiler


@Field.register_lookup
class AnyOf(Lookup):
    lookup_name = "any_of"
    # The values go to the database as they are: plain str or int.
    prepare_rhs = False

    def _values(self) -> list[Any]:
        if not isinstance(self.rhs, Iterable) or isinstance(self.rhs, str | bytes):
            raise TypeError("any_of takes a list of values")
        values = list(self.rhs)
        if not values:
            raise EmptyResultSet
        return values

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = self._values()
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", (*lhs_params, *values)

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, Any]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, self._values())


# Relations keep a lookup table of their own (the value is the related id).
ForeignObject.register_lookup(AnyOf)

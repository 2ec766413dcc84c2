"""Reads that tolerate lag go to a read replica (DATABASE_REPLICA_URL).

Only code that says so reads from the replica: `with replica_reads():` (or
the `ReplicaReadsMixin` on a view) routes the ORM's reads in that block to
the `replica` alias; writes, and every read elsewhere, stay on the primary,
so a command never reads its own writes from a replica that lags. Used for
the public tracking reads, the storefront's catalogue lists and the admin
lists of the large tables. Without a replica configured, everything reads
the primary. Hand-written SQL on `django.db.connection` is the primary's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings

REPLICA = "replica"
_lag_tolerant: ContextVar[bool] = ContextVar("amur_lag_tolerant", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES and bool(settings.READ_REPLICA_ENABLED)


@contextmanager
def replica_reads() -> Iterator[None]:
    """Route the ORM reads in this block to the replica, when there is one."""
    token = _lag_tolerant.set(True)
    try:
        yield
    finally:
        _lag_tolerant.reset(token)


class ReplicaRouter:
    """Django database router: see the module's docstring."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        instance = hints.get("instance")
        if instance is not None and instance._state.db:
            return str(instance._state.db)
        if _lag_tolerant.get() and replica_configured():
            return REPLICA
        return None

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # One database seen through two aliases: any two rows may relate.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == "default"


class ReplicaReadsMixin:
    """For views whose reads tolerate lag: the whole request reads the replica."""

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with replica_reads():
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

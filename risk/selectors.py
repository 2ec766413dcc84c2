from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from core.rawsql import columns, placeholders
from orders.models import Order
from risk.models import RiskHold, RiskRule
from risk.rules import Rule


def _rule(r: RiskRule) -> Rule:
    return Rule(code=r.code, kind=r.kind, limit=r.limit, account_age_days=r.account_age_days)


def risk_rules_active(*, kinds: Iterable[str]) -> list[Rule]:
    """Read on every check, uncached: an edit in the admin applies to the next order."""
    return [
        _rule(r)
        for r in RiskRule.objects.filter(is_active=True, kind__in=list(kinds)).order_by("id")
    ]


def risk_rules_active_and_orders_since(
    *, kinds: Iterable[str], buyer_id: int, since: datetime
) -> tuple[list[Rule], int]:
    """The active rules of these kinds (uncached, as risk_rules_active) and
    the buyer's orders placed after `since`, in one hand-written query: this
    runs on every checkout, and its ORM twins (the rules, then a count) cost
    0.94-0.99 ms against 0.12-0.2 ms, 7 % of a checkout request
    (bench/rawsql_cost.py, 2026-12-02). With no rule active the count is not
    needed: 0."""
    kinds = sorted(kinds)
    cols = columns(RiskRule)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            # Only table and column names from the models go into the text.
            f"SELECT {cols.select('r')}, (SELECT COUNT(*) FROM {quote(Order._meta.db_table)} o"  # noqa: S608
            " WHERE o.buyer_id = %s AND o.created_at > %s)"
            f" FROM {quote(RiskRule._meta.db_table)} r"
            f" WHERE r.is_active AND r.kind IN ({placeholders(len(kinds))}) ORDER BY r.id",
            [buyer_id, connection.ops.adapt_datetimefield_value(since), *kinds],
        )
        rows = cursor.fetchall()
    return [_rule(cols.load(row)) for row in rows], rows[0][-1] if rows else 0


def risk_hold_latest(*, order_id: int) -> RiskHold | None:
    return RiskHold.objects.filter(order_id=order_id).order_by("-id").first()

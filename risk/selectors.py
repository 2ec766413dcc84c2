from __future__ import annotations

from collections.abc import Iterable

from risk.models import RiskHold, RiskRule
from risk.rules import Rule


def risk_rules_active(*, kinds: Iterable[str]) -> list[Rule]:
    """Read on every check, uncached: an edit in the admin applies to the next order."""
    return [
        Rule(code=r.code, kind=r.kind, limit=r.limit, account_age_days=r.account_age_days)
        for r in RiskRule.objects.filter(is_active=True, kind__in=list(kinds)).order_by("id")
    ]


def risk_hold_latest(*, order_id: int) -> RiskHold | None:
    return RiskHold.objects.filter(order_id=order_id).order_by("-id").first()

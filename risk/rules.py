"""Risk evaluation as a pure function: rules and facts in, tripped rules out.

No database access here, so every threshold is testable without orders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext

from risk.models import RuleKind

# Placement knows the buyer and the total; only the card payment knows the card.
PLACEMENT_KINDS = frozenset({RuleKind.ORDERS_PER_HOUR, RuleKind.NEW_ACCOUNT_CAP, RuleKind.COD_CAP})
PAYMENT_KINDS = frozenset({RuleKind.CARD_COUNTRY})


@dataclass(frozen=True)
class Rule:
    code: str
    kind: str
    limit: Decimal | None = None
    account_age_days: int | None = None


@dataclass(frozen=True)
class Facts:
    """What is known about an order at the moment of the check; None when
    unknown at that stage (a rule needing it does not apply)."""

    orders_last_hour: int | None = None  # the buyer's, this order included
    account_age: timedelta | None = None
    total_rub: Decimal | None = None
    payment_method: str | None = None
    card_country: str | None = None
    delivery_country: str | None = None


@dataclass(frozen=True)
class Trip:
    rule: str
    kind: str
    observed: str
    limit: str = ""

    def as_data(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "observed": self.observed,
            "limit": self.limit,
        }


def _over(value: Decimal | int | None, limit: Decimal | None) -> bool:
    return value is not None and limit is not None and Decimal(value) > limit


def _trip(rule: Rule, facts: Facts) -> Trip | None:
    limit = "" if rule.limit is None else str(rule.limit)
    if rule.kind == RuleKind.ORDERS_PER_HOUR:
        if _over(facts.orders_last_hour, rule.limit):
            count = format(Decimal(limit).normalize(), "f")  # a count, not money: 5, not 5.00
            return Trip(rule.code, rule.kind, str(facts.orders_last_hour), count)
    elif rule.kind == RuleKind.NEW_ACCOUNT_CAP:
        young = (
            facts.account_age is not None
            and rule.account_age_days is not None
            and facts.account_age < timedelta(days=rule.account_age_days)
        )
        if young and _over(facts.total_rub, rule.limit):
            return Trip(rule.code, rule.kind, str(facts.total_rub), limit)
    elif rule.kind == RuleKind.COD_CAP:
        if facts.payment_method == "cod" and _over(facts.total_rub, rule.limit):
            return Trip(rule.code, rule.kind, str(facts.total_rub), limit)
    elif rule.kind == RuleKind.CARD_COUNTRY:
        known = facts.card_country is not None and facts.delivery_country is not None
        if known and facts.card_country != facts.delivery_country:
            return Trip(rule.code, rule.kind, f"{facts.card_country}/{facts.delivery_country}")
    return None


def risk_evaluate(*, rules: Iterable[Rule], facts: Facts) -> list[Trip]:
    """The rules the facts trip, in the order given. A limit is the largest
    value allowed: a value equal to it passes, anything above trips."""
    return [trip for rule in rules if (trip := _trip(rule, facts)) is not None]


def trip_describe(data: dict[str, Any]) -> str:
    """One line for staff, in the active language, from a stored trip."""
    kind = data.get("kind", "")
    label = str(RuleKind(kind).label) if kind in RuleKind.values else kind
    if kind == RuleKind.CARD_COUNTRY:
        card, _slash, delivery = str(data.get("observed", "")).partition("/")
        detail = gettext("card %(card)s, delivery %(delivery)s") % {
            "card": card,
            "delivery": delivery,
        }
    else:
        detail = gettext("%(observed)s, limit %(limit)s") % {
            "observed": data.get("observed", ""),
            "limit": data.get("limit", ""),
        }
    return f"{label} ({data.get('rule', '')}): {detail}"

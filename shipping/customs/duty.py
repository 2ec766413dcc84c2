"""Import duty on a parcel, from the rule in force: a pure function over Decimals."""

from __future__ import annotations

from decimal import Decimal

from shipping.customs.models import DutyRule
from shipping.linehaul.pricing import ZERO


def duty_eur(*, rule: DutyRule, value_eur: Decimal, weight_kg: Decimal) -> Decimal:
    """Duty on one parcel: a share of the value over the threshold, at least
    a minimum per kg over the weight threshold; the higher when both apply."""
    excess_value = max(ZERO, value_eur - rule.value_threshold_eur)
    excess_weight = max(ZERO, weight_kg - rule.weight_threshold_kg)
    by_value = excess_value * rule.rate_on_excess_value
    by_weight = excess_weight * rule.min_eur_per_excess_kg
    return max(by_value, by_weight)

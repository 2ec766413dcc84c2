"""Reads of the duty rules."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext_lazy as _

from core.cache import ReferenceCache
from core.errors import ValidationFailed
from shipping.customs.duty import DutyTerms
from shipping.customs.models import DutyRule

_duty_rules = ReferenceCache[DutyTerms | None](seconds=30)


def _load(on: date) -> DutyTerms | None:
    rule = (
        DutyRule.objects.filter(valid_from__lte=on)
        .prefetch_related("exclusions")
        .order_by("-valid_from")
        .first()
    )
    if rule is None:
        return None
    return DutyTerms.of(rule, [e.hs_prefix for e in rule.exclusions.all()])


def duty_rule_in_force(*, on: date) -> DutyTerms:
    """The terms of the rule in force on a day (an order placed that day)."""
    terms = _duty_rules.get(on, lambda: _load(on))
    if terms is None:
        raise ValidationFailed(_("No import duty rule is in force."), code="no_duty_rule")
    return terms

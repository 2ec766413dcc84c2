"""Reads of the duty rules."""

from __future__ import annotations

from datetime import date

from django.utils.translation import gettext_lazy as _

from core.cache import ReferenceCache
from core.errors import ValidationFailed
from shipping.customs.models import DutyRule

_duty_rules = ReferenceCache[DutyRule | None](seconds=30)


def duty_rule_in_force(*, on: date) -> DutyRule:
    rule = _duty_rules.get(
        on, lambda: DutyRule.objects.filter(valid_from__lte=on).order_by("-valid_from").first()
    )
    if rule is None:
        raise ValidationFailed(_("No import duty rule is in force."), code="no_duty_rule")
    return rule

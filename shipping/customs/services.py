"""Writes of customs reference data."""

from __future__ import annotations

import importlib

from django.apps import apps

# The rules ship as a data migration; this re-creates them, from the same
# code, where a test or the demo removed them.
_SEED = "shipping.migrations.0010_duty_rule_2026_07_01"


def duty_rules_seed() -> None:
    """The shipped duty rules (2020 and 2026-07-01) and their excluded goods."""
    importlib.import_module(_SEED).add_rule(apps, None)

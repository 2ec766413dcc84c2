from __future__ import annotations

from django.contrib import admin

from shipping.customs.models import DutyRule


@admin.register(DutyRule)
class DutyRuleAdmin(admin.ModelAdmin):
    list_display = (
        "valid_from",
        "value_threshold_eur",
        "weight_threshold_kg",
        "rate_on_excess_value",
        "min_eur_per_excess_kg",
        "note",
    )

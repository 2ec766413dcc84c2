from __future__ import annotations

from django.contrib import admin

from shipping.customs.models import DutyExclusion, DutyRule


class DutyExclusionInline(admin.TabularInline):
    model = DutyExclusion
    extra = 0
    fields = ("hs_prefix", "description")


@admin.register(DutyRule)
class DutyRuleAdmin(admin.ModelAdmin):
    """Rules are data: a new row with a future valid_from takes over on its
    day (checkout reads it within 30 s); docs/customs-duty.md explains the
    fields."""

    list_display = (
        "valid_from",
        "scope",
        "value_threshold_eur",
        "weight_threshold_kg",
        "value_basis",
        "rate",
        "weight_basis",
        "min_eur_per_kg",
        "import_vat_rate",
        "note",
    )
    inlines = [DutyExclusionInline]

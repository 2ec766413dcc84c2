from datetime import date
from decimal import Decimal

from django.db import migrations

RULE_2020 = date(2020, 1, 1)
RULE_2026 = date(2026, 7, 1)
# Named in the news of the decision (Kazinform, 2026-01-12); the full list is
# in the decision's annex: operators add its HS codes in the admin.
EXCLUDED_2026 = [
    ("8407", "Spark-ignition internal combustion piston engines"),
    ("8408", "Compression-ignition internal combustion piston engines (diesel)"),
    ("9402", "Medical, surgical, dental or veterinary furniture"),
]


def add_rule(apps, schema_editor):
    DutyRule = apps.get_model("shipping", "DutyRule")
    DutyExclusion = apps.get_model("shipping", "DutyExclusion")
    # Made by 0002; here too so that duty_rules_seed() can bring both back.
    DutyRule.objects.get_or_create(
        valid_from=RULE_2020,
        defaults={
            "value_threshold_eur": Decimal("200.00"),
            "weight_threshold_kg": Decimal("31.000"),
            "rate": Decimal("0.1500"),
            "min_eur_per_kg": Decimal("2.00"),
            "note": "Personal imports per parcel: EUR 200 and 31 kg,"
            " 15 % (at least EUR 2/kg) above",
        },
    )
    DutyRule.objects.filter(valid_from=RULE_2020).update(
        scope="parcel",
        value_basis="excess",
        weight_basis="excess",
        source="EEC Council decision No. 107 of 2017-12-20",
    )
    rule, _created = DutyRule.objects.get_or_create(
        valid_from=RULE_2026,
        defaults={
            "scope": "purchase",
            "value_threshold_eur": Decimal("200.00"),
            "weight_threshold_kg": None,
            "value_basis": "whole",
            "rate": Decimal("0.0500"),
            "weight_basis": "whole",
            "min_eur_per_kg": Decimal("1.00"),
            "source": "EEC Council decisions of 2026-01-12 (Interfax and 24.kg, 2026-01-12/13)",
            "note": "E-commerce goods bought by individuals: above EUR 200 per purchase,"
            " 5 % of the whole value, at least EUR 1/kg",
        },
    )
    for prefix, description in EXCLUDED_2026:
        DutyExclusion.objects.get_or_create(
            rule=rule, hs_prefix=prefix, defaults={"description": description}
        )


def remove_rule(apps, schema_editor):
    apps.get_model("shipping", "DutyRule").objects.filter(valid_from=RULE_2026).delete()


class Migration(migrations.Migration):
    dependencies = [("shipping", "0009_duty_rule_bases_scope_exclusions_parcel_duty")]
    operations = [migrations.RunPython(add_rule, remove_rule)]

from datetime import date
from decimal import Decimal

from django.db import migrations


def add_rule(apps, schema_editor):
    DutyRule = apps.get_model("shipping", "DutyRule")
    DutyRule.objects.get_or_create(
        valid_from=date(2020, 1, 1),
        defaults={
            "value_threshold_eur": Decimal("200.00"),
            "weight_threshold_kg": Decimal("31.000"),
            "rate_on_excess_value": Decimal("0.1500"),
            "min_eur_per_excess_kg": Decimal("2.00"),
            "note": "Personal imports per parcel: EUR 200 and 31 kg, 15 % (at least EUR 2/kg) above",
        },
    )


def remove_rule(apps, schema_editor):
    apps.get_model("shipping", "DutyRule").objects.filter(valid_from=date(2020, 1, 1)).delete()


class Migration(migrations.Migration):
    dependencies = [("shipping", "0001_initial")]
    operations = [migrations.RunPython(add_rule, remove_rule)]

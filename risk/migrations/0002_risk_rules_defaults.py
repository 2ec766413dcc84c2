from decimal import Decimal

from django.db import migrations

# Starting points for operators to tune in the admin.
DEFAULTS = [
    {"code": "orders-per-hour", "kind": "orders_per_hour", "limit": Decimal("5")},
    {
        "code": "new-account-cap",
        "kind": "new_account_cap",
        "limit": Decimal("30000.00"),
        "account_age_days": 7,
    },
    {"code": "card-country", "kind": "card_country", "limit": None},
    {"code": "cod-cap", "kind": "cod_cap", "limit": Decimal("50000.00")},
]


def seed(apps, schema_editor):
    RiskRule = apps.get_model("risk", "RiskRule")
    for row in DEFAULTS:
        RiskRule.objects.get_or_create(code=row["code"], defaults=row)


def unseed(apps, schema_editor):
    apps.get_model("risk", "RiskRule").objects.filter(
        code__in=[row["code"] for row in DEFAULTS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("risk", "0001_risk_rules_and_holds")]

    operations = [migrations.RunPython(seed, unseed)]

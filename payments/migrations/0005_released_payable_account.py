"""The released merchant payable (see payments/ledger.py and payments/settlement.py)."""

from django.db import migrations

CODE = "merchant_payable_released"


def create_account(apps, schema_editor):
    LedgerAccount = apps.get_model("payments", "LedgerAccount")
    LedgerAccount.objects.get_or_create(
        code=CODE,
        defaults={
            "name": "Payable to merchants, released for payout",
            "kind": "liability",
            "currency": "RUB",
            "per_merchant": True,
        },
    )


def remove_account(apps, schema_editor):
    LedgerAccount = apps.get_model("payments", "LedgerAccount")
    LedgerAccount.objects.filter(code=CODE, entries__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("payments", "0004_settlement_statements")]

    operations = [migrations.RunPython(create_account, remove_account)]

"""Cash on delivery: the accounts for cash couriers remit and for cash that
matches no amount due, and their transaction kinds."""

from django.db import migrations, models

ACCOUNTS = [
    # code, name, kind
    ("cash_at_operator", "Cash remitted by couriers", "asset"),
    ("cod_cash_unmatched", "Cash collected not matching the cash due", "liability"),
]


def create_accounts(apps, schema_editor):
    LedgerAccount = apps.get_model("payments", "LedgerAccount")
    for code, name, kind in ACCOUNTS:
        LedgerAccount.objects.get_or_create(
            code=code,
            defaults={"name": name, "kind": kind, "currency": "RUB", "per_merchant": False},
        )


def remove_accounts(apps, schema_editor):
    LedgerAccount = apps.get_model("payments", "LedgerAccount")
    LedgerAccount.objects.filter(code__in=[row[0] for row in ACCOUNTS], entries__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0007_payment_card_country"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ledgertransaction",
            name="kind",
            field=models.CharField(
                choices=[
                    ("capture", "Card capture"),
                    ("cod_collection", "Cash collected on delivery"),
                    ("refund", "Refund"),
                    ("cod_unmatched", "Cash collected not matching the cash due"),
                    ("cod_remittance", "Cash remitted by a courier"),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(create_accounts, remove_accounts),
    ]

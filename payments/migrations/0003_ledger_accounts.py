"""The chart of accounts of the payments ledger (see payments/ledger.py)."""

from django.db import migrations

CHART = [
    # code, name, kind, per_merchant
    ("buyer_payments_in_transit", "Buyer card payments in transit", "asset", False),
    ("courier_cash_in_hand", "Cash held by couriers", "asset", False),
    ("merchant_payable", "Payable to merchants", "liability", True),
    ("duty_payable", "Import duty payable", "liability", False),
    ("refunds_payable", "Refunds owed to buyers by bank transfer", "liability", False),
    ("shipping_revenue", "Shipping revenue", "revenue", False),
    ("platform_fee", "Platform fee revenue", "revenue", False),
    ("fx_difference", "Exchange differences", "expense", False),
]


def create_accounts(apps, schema_editor):
    LedgerAccount = apps.get_model("payments", "LedgerAccount")
    for code, name, kind, per_merchant in CHART:
        LedgerAccount.objects.get_or_create(
            code=code,
            defaults={"name": name, "kind": kind, "currency": "RUB", "per_merchant": per_merchant},
        )


def remove_accounts(apps, schema_editor):
    LedgerAccount = apps.get_model("payments", "LedgerAccount")
    LedgerAccount.objects.filter(code__in=[row[0] for row in CHART], entries__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("payments", "0002_ledger_and_refunds")]

    operations = [migrations.RunPython(create_accounts, remove_accounts)]

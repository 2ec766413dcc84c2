"""Tracking events become partitions by month on PostgreSQL (core.partitions);
SQLite keeps a plain table. scan_id is unique with occurred_at, the
partition key."""

from django.db import migrations, models

from core.partitions import MONTH, PartitionTable


class Migration(migrations.Migration):
    dependencies = [
        ("shipping", "0014_returns"),
    ]

    operations = [
        migrations.AlterField(
            model_name="trackingevent",
            name="scan_id",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddConstraint(
            model_name="trackingevent",
            constraint=models.UniqueConstraint(
                fields=("scan_id", "occurred_at"), name="tracking_scan_once"
            ),
        ),
        PartitionTable("shipping_trackingevent", "occurred_at", MONTH),
    ]

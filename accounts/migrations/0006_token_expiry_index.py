"""The nightly purge deletes expired API tokens by their expiry; knox's
table has no index on it, so one is added here (knox's own migrations
are not ours to change)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_staff_preference"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [
        migrations.RunSQL(
            sql="CREATE INDEX IF NOT EXISTS knox_authtoken_expiry ON knox_authtoken (expiry)",
            reverse_sql="DROP INDEX IF EXISTS knox_authtoken_expiry",
        )
    ]

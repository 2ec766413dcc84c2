"""Each partition of the outbox and of the webhook deliveries gets a unique
index on id alone (core.partitions.PartitionedTable.id_unique); partitions
created from now on get it when they are created."""

from django.db import migrations

from core.partitions import DELIVERIES, OUTBOX, partition_id_indexes_ensure


def id_keys_create(apps, schema_editor):
    for spec in (OUTBOX, DELIVERIES):
        partition_id_indexes_ensure(spec, using=schema_editor.connection.alias)


def id_keys_drop(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT x.indexname FROM pg_indexes x JOIN pg_class c ON c.relname = x.tablename"
            " JOIN pg_inherits i ON i.inhrelid = c.oid"
            " WHERE i.inhparent = ANY(%s::regclass[]) AND x.indexname = c.relname || '_id_key'",
            [[OUTBOX.table, DELIVERIES.table]],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP INDEX {qn(name)}")


class Migration(migrations.Migration):
    dependencies = [("notifications", "0006_webhook_secret_encrypted")]

    operations = [migrations.RunPython(id_keys_create, id_keys_drop, elidable=False)]

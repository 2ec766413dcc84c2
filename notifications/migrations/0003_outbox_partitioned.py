"""The outbox, its deliveries and their attempts become partitions by day on
PostgreSQL (core.partitions); SQLite keeps plain tables."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

from core.partitions import DAY, PartitionTable


def event_created_at_fill(apps, schema_editor):
    delivery = apps.get_model("notifications", "WebhookDelivery")
    event = apps.get_model("notifications", "OutboxEvent")
    delivery.objects.update(
        event_created_at=Subquery(event.objects.filter(id=OuterRef("event_id")).values("created_at"))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_outboxevent_audience_ids_alter_outboxevent_subject"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="notifications.outboxevent",
            ),
        ),
        migrations.AlterField(
            model_name="webhookattempt",
            name="delivery",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="log",
                to="notifications.webhookdelivery",
            ),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="event_created_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunPython(event_created_at_fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event_created_at",
            field=models.DateTimeField(),
        ),
        migrations.RemoveConstraint(
            model_name="webhookdelivery", name="webhook_delivery_once_per_subscription"
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.UniqueConstraint(
                fields=("event", "subscription", "event_created_at"),
                name="webhook_delivery_once_per_subscription",
            ),
        ),
        migrations.RemoveConstraint(model_name="webhookattempt", name="webhook_attempt_number"),
        migrations.AddConstraint(
            model_name="webhookattempt",
            constraint=models.UniqueConstraint(
                fields=("delivery", "number", "requested_at"), name="webhook_attempt_number"
            ),
        ),
        PartitionTable("notifications_outboxevent", "created_at", DAY),
        PartitionTable("notifications_webhookdelivery", "event_created_at", DAY),
        PartitionTable("notifications_webhookattempt", "requested_at", DAY),
    ]

"""Webhook signing secrets are encrypted at rest: the column becomes text and
every stored secret is replaced with its Fernet token (FIELD_ENCRYPTION_KEYS).
Reversible: going back writes the secrets out in plain text again."""

from django.db import migrations

import core.fields


def _rewrite(apps, schema_editor, change):
    table = schema_editor.connection.ops.quote_name("notifications_webhooksubscription")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, secret FROM {table}")  # noqa: S608
        rows = cursor.fetchall()
        for row_id, value in rows:
            cursor.execute(
                f"UPDATE {table} SET secret = %s WHERE id = %s",  # noqa: S608
                [change(value), row_id],
            )


def _encrypt(value):
    try:
        core.fields.decrypt_text(value)
    except core.fields.UnreadableField:
        return core.fields.encrypt_text(value)
    return value  # already a token (a second run)


def encrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, _encrypt)


def decrypt(apps, schema_editor):
    _rewrite(apps, schema_editor, core.fields.decrypt_text)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0005_email"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhooksubscription",
            name="secret",
            field=core.fields.EncryptedTextField(editable=False),
        ),
        migrations.RunPython(encrypt, decrypt),
    ]

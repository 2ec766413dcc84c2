"""API tokens move to django-rest-knox: each existing token becomes a knox
token with the same key (clients keep working), stored as its digest and
expiring API_TOKEN_TTL_HOURS from now; the plain-text rows are deleted.
Going back cannot restore the keys (only digests are kept): it leaves the
knox tokens, and clients log in again."""

from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS


def move(apps, schema_editor):
    Token = apps.get_model("authtoken", "Token")
    AuthToken = apps.get_model("knox", "AuthToken")
    expiry = timezone.now() + settings.REST_KNOX["TOKEN_TTL"]
    AuthToken.objects.bulk_create(
        [
            AuthToken(
                digest=hash_token(token.key),
                token_key=token.key[: CONSTANTS.TOKEN_KEY_LENGTH],
                user_id=token.user_id,
                expiry=expiry,
            )
            for token in Token.objects.all()
        ],
        ignore_conflicts=True,
    )
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_buyer_identity_consent_staff_country"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(move, migrations.RunPython.noop)]

"""core.fields: identity documents are encrypted at rest with a rotatable key."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from accounts.models import BuyerIdentity
from core.fields import UnreadableField
from tests.conftest import World
from tests.factories import IDENTITY, BuyerFactory, UserFactory

pytestmark = pytest.mark.django_db


def stored(identity_id: int) -> tuple[str, ...]:
    """The row as the database holds it."""
    table = connection.ops.quote_name(BuyerIdentity._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT passport_series, passport_number, passport_issued_on, birth_date, inn"  # noqa: S608
            f" FROM {table} WHERE id = %s",
            [identity_id],
        )
        return tuple(cursor.fetchone())


def test_the_database_holds_only_tokens_and_the_model_the_values() -> None:
    buyer = BuyerFactory.create()
    raw = stored(buyer.identity.id)
    for value in IDENTITY.values().values():
        assert all(value not in column for column in raw)
    assert all(column.startswith("gAAAAA") for column in raw)  # Fernet tokens
    assert BuyerIdentity.objects.get(id=buyer.identity.id).identity() == IDENTITY


def test_a_new_key_in_front_reads_old_rows_and_rotation_rewrites_them() -> None:
    buyer = BuyerFactory.create()
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    before = stored(buyer.identity.id)
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, old_key]):
        assert BuyerIdentity.objects.get(id=buyer.identity.id).identity() == IDENTITY
        call_command("encrypted_fields_rotate", verbosity=0)
        after = stored(buyer.identity.id)
        assert all(a != b for a, b in zip(after, before, strict=True))
    # Rotated rows open with the new key alone, and no longer with the old one.
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):
        assert BuyerIdentity.objects.get(id=buyer.identity.id).identity() == IDENTITY
    with override_settings(FIELD_ENCRYPTION_KEYS=[old_key]), pytest.raises(UnreadableField):
        BuyerIdentity.objects.get(id=buyer.identity.id)


def test_a_row_no_key_opens_is_an_error_not_the_token() -> None:
    buyer = BuyerFactory.create()
    with (
        override_settings(FIELD_ENCRYPTION_KEYS=[Fernet.generate_key().decode()]),
        pytest.raises(UnreadableField),
    ):
        BuyerIdentity.objects.get(id=buyer.identity.id)


def test_encrypted_fields_cannot_be_filtered_by_value(world: World) -> None:
    with pytest.raises(FieldError, match="only the isnull lookup"):
        list(BuyerIdentity.objects.filter(inn=IDENTITY.inn))
    assert BuyerIdentity.objects.filter(inn__isnull=False).count() == 2  # world's two buyers


def test_dates_come_back_as_dates() -> None:
    saved = BuyerIdentity.objects.get(id=BuyerFactory.create().identity.id)
    assert saved.birth_date == date(1990, 5, 17)
    assert saved.passport_issued_on == date(2015, 2, 10)


def stored_secret(subscription_id: int) -> str:
    table = connection.ops.quote_name("notifications_webhooksubscription")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret FROM {table} WHERE id = %s", [subscription_id])  # noqa: S608
        return str(cursor.fetchone()[0])


def test_webhook_secrets_are_encrypted_at_rest_and_shown_once(world: World) -> None:
    from django.test import Client

    from notifications.models import WebhookSubscription
    from tests.conftest import client_for

    owner = world.buyer.user
    api = client_for(owner)
    created = api.post(
        "/api/v1/webhooks/", {"url": "https://shop.example/hook", "event_types": []}, format="json"
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    subscription = WebhookSubscription.objects.get(id=created.json()["id"])
    raw = stored_secret(subscription.id)
    assert raw.startswith("gAAAAA") and secret not in raw
    assert subscription.secret == secret  # deliveries are signed with it
    # Never again: not listed, not in the admin.
    listed = api.get("/api/v1/webhooks/")
    assert listed.status_code == 200 and secret not in listed.content.decode()
    staff = UserFactory.create(email="ops@amur.local", is_staff=True, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    page = admin.get(f"/admin/notifications/webhooksubscription/{subscription.id}/change/")
    assert page.status_code == 200
    assert secret not in page.content.decode() and raw not in page.content.decode()
    # Rotation re-encrypts them with the other keys.
    new_key = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, *settings.FIELD_ENCRYPTION_KEYS]):
        call_command("encrypted_fields_rotate")
        assert Fernet(new_key).decrypt(stored_secret(subscription.id).encode()).decode() == secret


def test_the_migration_encrypts_secrets_stored_in_plain_text(world: World) -> None:
    import importlib

    from notifications.models import WebhookSubscription

    migration = importlib.import_module("notifications.migrations.0006_webhook_secret_encrypted")
    subscription = WebhookSubscription.objects.create(
        owner=world.buyer.user, url="https://shop.example/hook", secret="whsec_cGxhaW4="
    )
    table = connection.ops.quote_name("notifications_webhooksubscription")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET secret = %s WHERE id = %s",  # noqa: S608
            ["whsec_cGxhaW4=", subscription.id],
        )
    schema_editor = connection.schema_editor(atomic=False)
    migration.encrypt(None, schema_editor)
    token = stored_secret(subscription.id)
    assert token.startswith("gAAAAA")
    migration.encrypt(None, schema_editor)  # a second run leaves tokens alone
    assert stored_secret(subscription.id) == token
    subscription.refresh_from_db()
    assert subscription.secret == "whsec_cGxhaW4="
    migration.decrypt(None, schema_editor)
    assert stored_secret(subscription.id) == "whsec_cGxhaW4="

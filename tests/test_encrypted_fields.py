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
from tests.factories import IDENTITY, BuyerFactory

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

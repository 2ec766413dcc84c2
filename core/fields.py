"""Model fields encrypted at rest with Fernet (cryptography's MultiFernet).

The keys are settings.FIELD_ENCRYPTION_KEYS, newest first: new values are
encrypted with the first, every key decrypts, so a key is rotated by putting
a new one in front, running `manage.py encrypted_fields_rotate` and then
dropping the old one. The database and anything that logs SQL see only the
token. A token no key opens is an error, never shown as if it were the value:
the data is unreadable until the right key is configured.

Written here rather than taken from a package: django-fernet-encrypted-fields
derives its keys from SECRET_KEY (rotating the site key would lose the data)
and hands back the raw token when decryption fails."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models


class UnreadableField(ImproperlyConfigured):
    """A stored token that none of FIELD_ENCRYPTION_KEYS decrypts."""


@functools.lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty.")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key."
        ) from error


def field_fernet() -> MultiFernet:
    """The MultiFernet of the configured keys (tests may override the setting)."""
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt_text(value: str) -> str:
    return field_fernet().encrypt(value.encode()).decode("ascii")


def decrypt_text(token: str) -> str:
    try:
        return field_fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeEncodeError) as error:
        raise UnreadableField(
            "An encrypted field cannot be read with FIELD_ENCRYPTION_KEYS."
        ) from error


class EncryptedMixin:
    """Stored as a Fernet token in a text column; "" and None as they are.

    Only `isnull` lookups work: each encryption of a value differs, so an
    equality filter would never match and must not look as if it could."""

    name: str

    def get_internal_type(self) -> str:
        return "TextField"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return self.to_python(decrypt_text(value))  # type: ignore[attr-defined]

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)  # type: ignore[attr-defined]
        if value is None or value == "":
            return value
        return encrypt_text(value.isoformat() if isinstance(value, date) else str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise FieldError(f"Encrypted field {self.name!r} supports only the isnull lookup.")
        return super().get_lookup(lookup_name)  # type: ignore[misc]


class EncryptedTextField(EncryptedMixin, models.TextField):
    pass


class EncryptedDateField(EncryptedMixin, models.DateField):
    """A date, stored as the token of its ISO form."""


def encrypted_fields_rotate(batch: int = 500) -> dict[str, int]:
    """Re-encrypt the encrypted columns of every model with the first key
    (read with whichever key opens them, written with the first); returns
    the rows rewritten per model."""
    done: dict[str, int] = {}
    for model in apps.get_models():
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedMixin)]
        if not names:
            continue
        count = 0
        rows = model._base_manager.only("pk", *names).order_by("pk")
        for row in rows.iterator(chunk_size=batch):
            # save() with update_fields writes those columns only: no auto_now.
            row.save(update_fields=names)
            count += 1
        done[model._meta.label] = count
    return done

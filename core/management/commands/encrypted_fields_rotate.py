"""manage.py encrypted_fields_rotate: re-encrypt every encrypted field with
the first of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first (FIELD_ENCRYPTION_KEYS=new,old), deploy, run
this command, then drop the old key. Until it has run, the old key must stay
in the list, or the rows it encrypted cannot be read."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from core.fields import encrypted_fields_rotate


class Command(BaseCommand):
    help = "Re-encrypt every encrypted model field with the first FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        for label, count in encrypted_fields_rotate().items():
            self.stdout.write(f"{label}: {count} rows re-encrypted")

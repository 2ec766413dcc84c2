"""manage.py recipients_anonymise: erase the recipients' personal data of
orders closed longer than RECIPIENT_DATA_RETENTION_DAYS ago (beat runs it
daily; running it again changes nothing)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from orders.retention import recipients_anonymise


class Command(BaseCommand):
    help = "Anonymise the recipients of orders closed longer than the retention period ago."

    def handle(self, *args: Any, **options: Any) -> None:
        count = recipients_anonymise(now=timezone.now())
        self.stdout.write(f"{count} orders anonymised")

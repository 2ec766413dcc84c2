from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from core.partitions import partitions_maintain


class Command(BaseCommand):
    help = (
        "PostgreSQL: create the time partitions ahead and drop those past retention"
        " (tracking archived first). Beat runs it daily; nothing to do on SQLite."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = partitions_maintain(today=timezone.now().date())
        for name in done["created"]:
            self.stdout.write(f"created {name}")
        for name in done["dropped"]:
            self.stdout.write(f"dropped {name}")

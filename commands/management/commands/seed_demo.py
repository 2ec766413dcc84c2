from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from commands.demo import demo_seed


class Command(BaseCommand):
    help = "Create the demo operator: merchants, products, warehouses, lanes, departures, people."

    def handle(self, *args: Any, **options: Any) -> None:
        summary = demo_seed()
        self.stdout.write(self.style.SUCCESS("Demo data in place."))
        self.stdout.write(f"Sample tracking number: {summary.sample_tracking_number}")

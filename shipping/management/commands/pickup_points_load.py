"""Load pickup points from a JSON or CSV file (one point per object or row,
the fields of shipping.lastmile.models.PickupPoint), or from the carriers'
own lists (--sync)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shipping.lastmile.services import DEMO_POINTS_FILE, pickup_points_load, pickup_points_read


class Command(BaseCommand):
    help = "Load pickup points from a JSON or CSV file (default: the demo sample), or --sync."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default=str(DEMO_POINTS_FILE))
        parser.add_argument(
            "--sync",
            action="store_true",
            help="Fetch each configured carrier's points through its adapter instead.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["sync"]:
            from shipping.lastmile.sync import pickup_points_sync

            for carrier, outcome in pickup_points_sync().items():
                self.stdout.write(f"{carrier}: {outcome}")
            return
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"No file {path}")
        try:
            result = pickup_points_load(points=pickup_points_read(path))
        except (KeyError, ValueError, TypeError) as exc:
            raise CommandError(f"Bad point in {path}: {exc}") from exc
        self.stdout.write(f"{result.created} created, {result.updated} updated")

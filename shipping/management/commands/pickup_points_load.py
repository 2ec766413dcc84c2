"""Load pickup points from a JSON or CSV file (one point per object or row,
the fields of shipping.lastmile.models.PickupPoint), or from the carriers'
own lists (--sync)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shipping.lastmile.services import pickup_points_load

DEMO_FILE = Path(__file__).resolve().parents[2] / "lastmile" / "data" / "pickup_points_demo.json"


def _read(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            for name in ("max_weight_g", "max_length_mm", "max_width_mm", "max_height_mm"):
                row[name] = int(row[name]) if row.get(name) else None
            row["cash_allowed"] = str(row.get("cash_allowed", "")).lower() in ("1", "true", "yes")
        return rows
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise CommandError("The file must hold a list of points.")
    return data


class Command(BaseCommand):
    help = "Load pickup points from a JSON or CSV file (default: the demo sample), or --sync."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", default=str(DEMO_FILE))
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
            result = pickup_points_load(points=_read(path))
        except (KeyError, ValueError) as exc:
            raise CommandError(f"Bad point in {path}: {exc}") from exc
        self.stdout.write(f"{result.created} created, {result.updated} updated")

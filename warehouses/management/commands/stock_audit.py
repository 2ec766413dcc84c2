"""Check that every stock level is the sum of its movements, and that its
reserved units are those its active reservations hold.

Prints each level that differs and a summary; exits with status 1 when any
level differs (for cron and CI), 0 otherwise. Changes nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from warehouses.selectors import stock_audit_differences, stock_levels_count


class Command(BaseCommand):
    help = (
        "Compare every stock level with the sum of its movements and with its active"
        " reservations; exit 1 on any difference."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        differences = stock_audit_differences()
        checked = stock_levels_count()
        for d in differences:
            self.stdout.write(
                f"{d.warehouse} {d.sku}: on_hand stored {d.on_hand} recomputed "
                f"{d.ledger_on_hand}, reserved stored {d.reserved} recomputed {d.ledger_reserved}"
                f", in active reservations {d.reservations_active}"
            )
        if differences:
            raise CommandError(
                f"{len(differences)} of {checked} stock levels differ from their movements"
                " or active reservations."
            )
        self.stdout.write(f"All {checked} stock levels match their movements and reservations.")

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from commands.demo import demo_seed


class Command(BaseCommand):
    help = "Print where the demo is served and how to log in."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = demo_seed()  # idempotent: reads what is there
        base = f"http://{options['host']}:{options['port']}"
        lines = [
            "",
            "Amur is starting on " + base,
            f"  Admin:           {base}/admin/  ({summary.admin_email} / {summary.admin_password})",
            f"  API docs:        {base}/api/docs/   (schema: {base}/api/schema/)",
            f"  Buyer login:     {summary.buyer_email} / {summary.buyer_password}",
            f"  Buyer token:     Authorization: Token {summary.buyer_token}",
            f"  Sample parcel:   {summary.sample_tracking_number}",
            f"                   {base}/api/v1/tracking/{summary.sample_tracking_number}/",
            f"                   {base}/track/{summary.sample_tracking_number}",
            "",
        ]
        self.stdout.write("\n".join(lines))

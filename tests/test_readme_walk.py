"""The README's cart-to-order walk, run as written (bash, curl, jq) against
a live server with the demo data: every command must answer 2xx."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from orders.models import Order
from payments.models import Payment

README = Path(__file__).resolve().parent.parent / "README.md"
DEMO_API = "API=http://127.0.0.1:8000/api/v1"


def readme_walk() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- walk:start -->\n```sh\n(.*?)```\n<!-- walk:end -->", text, re.DOTALL)
    assert match is not None, "the README has no walk block"
    return match.group(1)


def test_the_walk_talks_to_the_demo_server() -> None:
    walk = readme_walk()
    assert walk.startswith(DEMO_API + "\n")
    steps = ["checkout/quote/", "auth/register/", "auth/token/", "orders/", "/pay/", "tracking/"]
    assert [walk.index(step) for step in steps] == sorted(walk.index(step) for step in steps)
    assert "Idempotency-Key: " in walk


@pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq on the PATH"
)
@pytest.mark.django_db(transaction=True)
def test_every_command_of_the_walk_works(live_server: Any) -> None:
    call_command("seed_demo", verbosity=0)
    script = readme_walk().replace(DEMO_API, f"API={live_server.url}/api/v1", 1)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    order = Order.objects.get(buyer__user__email="maria@example.ru")
    # The first answer printed: the guest's delivery option, then the totals.
    decoder = json.JSONDecoder()
    delivery, end = decoder.raw_decode(done.stdout)
    totals, _end = decoder.raw_decode(done.stdout[end:].lstrip())
    assert delivery["kind"] == "door"
    assert (order.region, order.status, order.total_rub) == (
        "RU-MOW",
        "packed",
        Decimal(totals["total"]),
    )
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.amount) == ("captured", order.total_rub)
    tracking = json.loads(done.stdout.strip().splitlines()[-1])
    assert tracking["tracking_number"] == order.parcels.get().tracking_number
    assert tracking["status_display"] == "Получена информация об отправлении"

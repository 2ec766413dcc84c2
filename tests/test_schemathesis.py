"""schemathesis run --checks all (every check it has: server errors, status
codes, content types, headers, response schemas, schema-valid requests
accepted and schema-violating ones refused, stateful links) against a live
server, as a buyer, with the pinned schemathesis: no failure of any kind.

tests/schemathesis.toml names, per operation, the refusals a schema cannot
express (a well-formed SKU that does not exist, a wrong INN check digit)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.conftest import World
from tests.factories import token_for

CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
CLI = Path(sys.executable).parent / "schemathesis"


@pytest.mark.django_db(transaction=True)
def test_schemathesis_with_all_checks_finds_nothing(live_server: Any, world: World) -> None:
    cli = str(CLI) if CLI.exists() else shutil.which("schemathesis")
    assert cli is not None, "schemathesis is pinned in pyproject.toml"
    done = subprocess.run(
        [
            cli,
            "--config-file",
            str(CONFIG),
            "run",
            f"{live_server.url}/api/schema/",
            "--checks",
            "all",
            # Four generated cases an operation, on top of the coverage phase's
            # own: eight found nothing more and took a quarter longer.
            "--max-examples",
            "4",
            "--seed",
            "20261202",
            # The embedded SQLite database takes one writer; PostgreSQL two
            # workers, one per core. (Four ran faster but hit CPython 3.11's
            # "AST constructor recursion depth mismatch" in schemathesis' own
            # threads.)
            "--workers",
            "2" if connection.vendor == "postgresql" else "1",
            "--max-failures",
            "50",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={
            **os.environ,
            "AMUR_BUYER_TOKEN": token_for(world.buyer.user),
            "AMUR_REVOKED_TOKEN": token_for(world.other_buyer.user),
        },
    )
    summary = done.stdout[done.stdout.find("=== SUMMARY") :] if "SUMMARY" in done.stdout else ""
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-2000:]
    assert "Failures:" not in summary and "Errors:" not in summary, summary

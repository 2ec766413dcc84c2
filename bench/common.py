"""Shared plumbing for the benchmarks: a throwaway PostgreSQL database, a
seeded operator, and a gunicorn server on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import requests

ROOT = Path(__file__).resolve().parent.parent


def database_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the benchmark makes its own database).")
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_recreate(url: str) -> None:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def django_env(url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "LOG_LEVEL": "WARNING",
        "AUTH_THROTTLE_RATE": "100000/min",
        # As deployed: DEBUG off (on, Django keeps a copy of every SQL query).
        "DEBUG": "0",
    }
    return env


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def seed_run(env: dict[str, str], script: str, *args: str) -> dict:
    """Run a seeding script of bench/ and return the JSON of its last line."""
    out = subprocess.run(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(env: dict[str, str], workers: int) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "ecommerce.wsgi",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def celery_workers(env: dict[str, str], count: int, concurrency: int) -> list[subprocess.Popen]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "ecommerce",
                "worker",
                "--loglevel=WARNING",
                f"--concurrency={concurrency}",
                "-n",
                f"bench{i}-{os.getpid()}@%h",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
        )
        for i in range(count)
    ]

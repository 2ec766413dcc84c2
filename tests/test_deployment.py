"""The deployment files and production mode.

docker-compose.yml is read as YAML (and checked by `docker compose config` where Docker is
installed); production settings are checked with `manage.py check --deploy` in a subprocess,
since settings are read once per process. None of this needs a database.
"""

from __future__ import annotations

import os
import re
import runpy
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet

from core.queues import QUEUES
from ecommerce.settings import (
    DEV_FIELD_ENCRYPTION_KEY,
    DEV_SANDBOX_WEBHOOK_SECRET,
    DEV_SECRET_KEY,
)

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
WORKERS = tuple(f"worker-{queue}" for queue in QUEUES)
SERVICES = {"migrate", "web", *WORKERS, "beat", "flower", "pgbouncer", "db", "redis"}
# Long-running services (the migrate job runs once and exits).
RUNNING = SERVICES - {"migrate"}
APP_SERVICES = ("web", *WORKERS, "beat")
# Settings read from the environment that would make the subprocess depend on the caller's
# environment (CI exports DATABASE_URL and REDIS_URL, for one).
ENV_CLEARED = (
    "SECRET_KEY",
    "DEBUG",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "STATIC_ROOT",
    "EMAIL_BACKEND",
    "FIELD_ENCRYPTION_KEYS",
    "PAYMENT_PROVIDER",
    "SANDBOX_WEBHOOK_SECRET",
    "AMUR_DEMO_STACK",
    "YOOKASSA_SHOP_ID",
    "YOOKASSA_SECRET_KEY",
    "WEBHOOK_ALLOW_PRIVATE_URLS",
    "SENTRY_DSN",
)


# docker-compose.yml


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    svc = compose["services"][name]
    assert isinstance(svc, dict), f"service {name} is not a mapping"
    return svc


def container_ports(svc: dict[str, Any]) -> set[int]:
    """Container-side ports of a service's `ports`, short ("127.0.0.1:8000:8000") or long form."""
    found = set()
    for entry in svc.get("ports", []):
        if isinstance(entry, dict):
            target = entry["target"]
        else:
            target = str(entry).split("/")[0].rsplit(":", 1)[-1]
        found.add(int(target))
    return found


def test_compose_names_every_service_and_a_worker_per_queue(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == SERVICES
    for queue in QUEUES:
        command = service(compose, f"worker-{queue}")["command"]
        assert command[:4] == ["celery", "-A", "ecommerce", "worker"]
        assert command[command.index("-Q") + 1] == queue
        assert command[command.index("-n") + 1] == f"{queue}@%h"
        healthcheck = " ".join(service(compose, f"worker-{queue}")["healthcheck"]["test"])
        assert f"-d {queue}@$$HOSTNAME" in healthcheck


@pytest.mark.parametrize("name", sorted(RUNNING))
def test_every_service_has_a_healthcheck(compose: dict[str, Any], name: str) -> None:
    healthcheck = service(compose, name).get("healthcheck")
    assert isinstance(healthcheck, dict), f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False)
    test = healthcheck.get("test")
    assert test, f"{name}'s healthcheck has no test"
    if isinstance(test, list):
        assert test[0] in {"CMD", "CMD-SHELL"}, f"{name}'s healthcheck test is {test!r}"
        assert len(test) > 1


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_the_migrations_and_healthy_services(
    compose: dict[str, Any], name: str
) -> None:
    depends_on = service(compose, name).get("depends_on")
    # The list form of depends_on cannot say "healthy": it only orders the starts.
    assert isinstance(depends_on, dict), f"{name} needs depends_on with conditions"
    assert depends_on == {
        "pgbouncer": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert service(compose, "pgbouncer")["depends_on"] == {"db": {"condition": "service_healthy"}}


def test_web_publishes_port_8000(compose: dict[str, Any]) -> None:
    assert 8000 in container_ports(service(compose, "web"))


def test_migrate_is_a_one_off_job_and_web_only_serves(compose: dict[str, Any]) -> None:
    migrate = service(compose, "migrate")
    assert migrate["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert migrate["restart"] == "no"
    # Straight to PostgreSQL, not through the transaction pooler.
    assert migrate["environment"]["DATABASE_URL"] == "postgres://amur:amur@db:5432/amur"
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert service(compose, "web")["command"] == [
        "gunicorn",
        "--config",
        "gunicorn.conf.py",
        "ecommerce.wsgi",
    ]
    for name in APP_SERVICES:
        assert "migrate" not in " ".join(service(compose, name)["command"]), name


def test_pgbouncer_pools_by_transaction_and_flower_watches_the_broker(
    compose: dict[str, Any],
) -> None:
    pgbouncer = service(compose, "pgbouncer")["environment"]
    assert (pgbouncer["POOL_MODE"], pgbouncer["DB_HOST"], pgbouncer["LISTEN_PORT"]) == (
        "transaction",
        "db",
        "6432",
    )
    flower = service(compose, "flower")["command"]
    assert "--broker=redis://redis:6379/0" in flower and "flower" in flower


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_run_in_production_mode(compose: dict[str, Any], name: str) -> None:
    env = service(compose, name)["environment"]
    assert isinstance(env, dict)
    assert str(env["AMUR_PRODUCTION"]) == "1"
    assert str(env["DEBUG"]) == "0"
    assert env["DATABASE_URL"] == "postgres://amur:amur@pgbouncer:6432/amur"
    assert str(env["DATABASE_TRANSACTION_POOLING"]) == "1"
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    # Production mode refuses the development key and keys under 50 characters: the demo
    # default must pass, or the stack would not start without SECRET_KEY set.
    match = re.fullmatch(r"\$\{SECRET_KEY:-(?P<default>[^}]+)\}", str(env["SECRET_KEY"]))
    assert match, f"SECRET_KEY is {env['SECRET_KEY']!r}, expected ${{SECRET_KEY:-default}}"
    assert len(match["default"]) >= 50
    assert match["default"] != DEV_SECRET_KEY


def docker_compose() -> list[str] | None:
    """`docker compose` (the plugin) or the older `docker-compose`, whichever answers;
    `config` reads the file and needs no daemon."""
    candidates = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    if shutil.which("docker-compose"):
        candidates.append(["docker-compose"])
    for command in candidates:
        try:
            version = subprocess.run(
                [*command, "version"],
                capture_output=True,
                text=True,
                timeout=30,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if version.returncode == 0:
            return command
    return None


def test_docker_compose_config_accepts_the_file() -> None:
    command = docker_compose()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {name: value for name, value in os.environ.items() if name != "SECRET_KEY"}
    result = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    listed = subprocess.run(
        [*command, "-f", str(COMPOSE_FILE), "config", "--services"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert set(listed.stdout.split()) == SERVICES


# Dockerfile and gunicorn.conf.py


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            pairs.append((instruction.upper(), args.strip()))
    return pairs


def test_dockerfile_runs_as_non_root_with_gunicorn() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    users = [args for instruction, args in instructions if instruction == "USER"]
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    cmd = [args for instruction, args in instructions if instruction == "CMD"][-1]
    assert "gunicorn" in cmd
    assert "ecommerce.wsgi" in cmd


def test_dockerfile_collects_static_files_for_the_production_storage() -> None:
    # Production uses the manifest storage: files collected without it have no manifest,
    # and every page that links a static file fails.
    runs = [args for instruction, args in dockerfile_instructions() if instruction == "RUN"]
    collect = [args for args in runs if "collectstatic" in args]
    assert collect, "the image does not collect static files"
    assert "AMUR_PRODUCTION=1" in collect[0]


def gunicorn_config(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("PORT", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_config(monkeypatch)
    assert config["bind"] == "0.0.0.0:8000"
    assert 3 <= config["workers"] <= 8
    assert config["timeout"] == 30
    assert config["accesslog"] == "-"


def test_gunicorn_reads_port_and_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_config(monkeypatch, PORT="9000", WEB_CONCURRENCY="3")
    assert config["bind"] == "0.0.0.0:9000"
    assert config["workers"] == 3


# Production mode


def production_env(
    var_dir: Path, secret_key: str | None, field_keys: str | None = "generate"
) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in ENV_CLEARED}
    if field_keys == "generate":
        field_keys = Fernet.generate_key().decode()
    if field_keys is not None:
        env["FIELD_ENCRYPTION_KEYS"] = field_keys
    env.update(
        AMUR_PRODUCTION="1",
        PAYMENT_PROVIDER="yookassa",
        YOOKASSA_SHOP_ID="123456",
        YOOKASSA_SECRET_KEY="live_" + secrets.token_hex(16),
        SANDBOX_WEBHOOK_SECRET="whsec_" + secrets.token_hex(24),
        ALLOWED_HOSTS="amur.example",
        METRICS_TOKEN=secrets.token_urlsafe(24),
        AMUR_VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="ecommerce.settings",
    )
    if secret_key is not None:
        env["SECRET_KEY"] = secret_key
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    secret_key = secrets.token_hex(32)
    assert len(secret_key) == 64
    result = check_deploy(production_env(tmp_path, secret_key))
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize(
    "secret_key",
    [None, DEV_SECRET_KEY, "x" * 49],
    ids=["unset", "development-key", "49-characters"],
)
def test_production_refuses_a_weak_secret_key(tmp_path: Path, secret_key: str | None) -> None:
    result = check_deploy(production_env(tmp_path, secret_key))
    assert result.returncode != 0, result.stdout
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    "field_keys",
    [
        None,
        DEV_FIELD_ENCRYPTION_KEY,
        f"{Fernet.generate_key().decode()},{DEV_FIELD_ENCRYPTION_KEY}",
    ],
    ids=["unset", "development-key", "development-key-kept-for-rotation"],
)
def test_production_refuses_the_development_encryption_key(
    tmp_path: Path, field_keys: str | None
) -> None:
    result = check_deploy(production_env(tmp_path, secrets.token_hex(32), field_keys))
    assert result.returncode != 0, result.stdout
    assert "FIELD_ENCRYPTION_KEYS set to your own Fernet keys" in result.stderr


def test_production_refuses_a_value_that_is_not_a_fernet_key(tmp_path: Path) -> None:
    result = check_deploy(production_env(tmp_path, secrets.token_hex(32), "not-a-key"))
    assert result.returncode != 0, result.stdout
    assert "not a Fernet key" in result.stderr


def test_the_compose_demo_encryption_key_is_not_the_development_one(
    compose: dict[str, Any],
) -> None:
    env = service(compose, "web")["environment"]
    match = re.fullmatch(
        r"\$\{FIELD_ENCRYPTION_KEYS:-(?P<default>[^}]+)\}", env["FIELD_ENCRYPTION_KEYS"]
    )
    assert match, env["FIELD_ENCRYPTION_KEYS"]
    assert match["default"] != DEV_FIELD_ENCRYPTION_KEY
    Fernet(match["default"])  # a valid key, or production mode would not start


# README


def settings_variables() -> set[str]:
    """Every environment variable the settings and gunicorn.conf.py read."""
    found: set[str] = set()
    for path in (ROOT / "ecommerce" / "settings.py", ROOT / "gunicorn.conf.py"):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'(?:environ\.get|env_bool|env_list)\(\s*"([A-Z0-9_]+)"', text))
    return found


def test_the_readme_configuration_table_lists_every_variable() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    variables = settings_variables()
    assert len(variables) >= 40
    assert variables - listed == set()


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"PAYMENT_PROVIDER": "sandbox"}, "amur.E004"),
        ({"SANDBOX_WEBHOOK_SECRET": DEV_SANDBOX_WEBHOOK_SECRET}, "amur.E003"),
        ({"YOOKASSA_SECRET_KEY": ""}, "amur.E005"),
        ({"WEBHOOK_ALLOW_PRIVATE_URLS": "1"}, "amur.E007"),
        ({"METRICS_TOKEN": ""}, "amur.E008"),
    ],
    ids=[
        "sandbox-provider",
        "sandbox-secret",
        "yookassa-without-key",
        "private-webhooks",
        "open-metrics",
    ],
)
def test_production_refuses_development_settings(
    tmp_path: Path, changes: dict[str, str], refusal: str
) -> None:
    env = {**production_env(tmp_path, secrets.token_hex(32)), **changes}
    result = check_deploy(env)
    assert result.returncode != 0, result.stdout
    assert refusal in result.stderr
    # gunicorn runs no system checks: the WSGI module refuses by itself, and so does Celery.
    for code in (
        "import ecommerce.wsgi",
        "from ecommerce.celery import app; from celery import signals;"
        " signals.worker_init.send(sender=None)",
    ):
        started = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert started.returncode != 0, code
        assert "AMUR_PRODUCTION=1 refuses to start" in started.stderr, started.stderr


def test_the_compose_demo_may_use_the_sandbox_with_its_own_secret(tmp_path: Path) -> None:
    env = production_env(tmp_path, secrets.token_hex(32))
    # As docker-compose.yml runs it: no scraper token either.
    env.update(PAYMENT_PROVIDER="sandbox", AMUR_DEMO_STACK="1", METRICS_TOKEN="")
    result = check_deploy(env)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"

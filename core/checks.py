"""System checks that keep a production deployment from starting with
anything made for development: the sandbox card provider, the published
development secrets, DEBUG, private webhook addresses, open metrics.

Registered in CoreConfig.ready: `manage.py` commands (migrate, check) run
them, and ecommerce/wsgi.py and the Celery worker and beat run them at start
(production_refusals), so gunicorn and Celery refuse to start as well.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


def _problems() -> list[tuple[str, str]]:
    """(id, message) of every development setting left in production."""
    if not settings.PRODUCTION:
        return []
    # The published development values, named in the settings module.
    dev_secret_key = settings.DEV_SECRET_KEY
    dev_field_key = settings.DEV_FIELD_ENCRYPTION_KEY
    dev_sandbox_secret = settings.DEV_SANDBOX_WEBHOOK_SECRET
    amur = settings.AMUR
    found = []
    if dev_secret_key == settings.SECRET_KEY:
        found.append(("amur.E001", "SECRET_KEY is the development key."))
    if dev_field_key in settings.FIELD_ENCRYPTION_KEYS:
        found.append(("amur.E002", "FIELD_ENCRYPTION_KEYS holds the development key."))
    if amur["SANDBOX_WEBHOOK_SECRET"] == dev_sandbox_secret:
        found.append(("amur.E003", "SANDBOX_WEBHOOK_SECRET is the published development secret."))
    if amur["PAYMENT_PROVIDER"] == "sandbox" and not settings.DEMO_STACK:
        found.append(
            (
                "amur.E004",
                "PAYMENT_PROVIDER is the sandbox: no card is ever charged."
                " Set PAYMENT_PROVIDER=yookassa (AMUR_DEMO_STACK=1 only for a local demo).",
            )
        )
    if amur["PAYMENT_PROVIDER"] == "yookassa" and not (
        amur["YOOKASSA_SHOP_ID"] and amur["YOOKASSA_SECRET_KEY"]
    ):
        found.append(("amur.E005", "PAYMENT_PROVIDER=yookassa needs YOOKASSA_SHOP_ID and _KEY."))
    if settings.DEBUG:
        found.append(("amur.E006", "DEBUG is on."))
    if amur["WEBHOOK_ALLOW_PRIVATE_URLS"]:
        found.append(
            ("amur.E007", "WEBHOOK_ALLOW_PRIVATE_URLS is on: subscribers could reach inside.")
        )
    if not settings.METRICS_TOKEN and not settings.DEMO_STACK:
        found.append(
            (
                "amur.E008",
                "METRICS_TOKEN is unset: /metrics (order, queue and outbox figures)"
                " would answer anyone.",
            )
        )
    return found


@register("amur_production")
def production_settings_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    return [
        Error(f"AMUR_PRODUCTION=1: {message}", id=check_id) for check_id, message in _problems()
    ]


def production_refusals() -> None:
    """Raise at start-up where Django's checks do not run (gunicorn, Celery)."""
    problems = _problems()
    if problems:
        raise ImproperlyConfigured(
            "AMUR_PRODUCTION=1 refuses to start: " + " ".join(m for _id, m in problems)
        )

"""Sentry's SDK, optional (SENTRY_DSN), with personal data scrubbed: Amur
holds recipients' passports, phones and addresses (152-FZ), and none of it
may leave for an error tracker abroad."""

from __future__ import annotations

import os
from typing import Any

# Keys whose values are personal data or credentials wherever they appear.
SCRUBBED_KEYS = {
    "authorization",
    "cookie",
    "set-cookie",
    "x-forwarded-for",
    "x-real-ip",
    "email",
    "phone",
    "password",
    "token",
    "secret",
    "recipient_name",
    "recipient_phone",
    "street",
    "passport",
    "inn",
    "identity",
}
FILTERED = "[Filtered]"


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: FILTERED if str(key).lower() in SCRUBBED_KEYS else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def sentry_scrub(event: dict[str, Any], hint: Any = None) -> dict[str, Any]:
    """before_send: no request body, cookies or query string, the user as an
    id only, and any personal field anywhere else filtered."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    return _scrub(event)


def sentry_init(dsn: str, environment: str) -> None:
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        send_default_pii=False,
        max_request_body_size="never",
        before_send=sentry_scrub,  # type: ignore[arg-type]
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )

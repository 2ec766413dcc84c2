"""Standard Webhooks signatures: v1,base64(HMAC-SHA256(secret, "id.timestamp.body"))."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw)


def signature_compute(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_verify(*, secret: str, msg_id: str, timestamp: int, body: bytes, header: str) -> bool:
    expected = signature_compute(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
    # The header may carry several space-separated signatures (key rotation).
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())


def headers_build(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_compute(
            secret=secret, msg_id=msg_id, timestamp=timestamp, body=body
        ),
        "content-type": "application/json",
    }

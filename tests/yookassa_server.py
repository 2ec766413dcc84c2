"""A local stand-in for the part of YooKassa's API v3 that Amur uses, for the
SDK to talk to in tests: payments (create, read, capture, cancel) and refunds,
with Basic auth and Idempotence-Key replay. The test plays the buyer and the
bank with `confirm` and `decline`."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SHOP_ID = "100500"
SECRET_KEY = "test_secret_key"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeYooKassa:
    url: str = ""
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, key
    replies: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the buyer and the bank ---------------------------------------------

    def confirm(self, payment_id: str) -> None:
        """The buyer passed 3-D Secure: the money is held for capture."""
        with self.lock:
            payment = self.payments[payment_id]
            assert payment["status"] == "pending"
            payment.update(status="waiting_for_capture", paid=True)
            payment.pop("confirmation", None)

    def decline(self, payment_id: str, reason: str) -> None:
        with self.lock:
            payment = self.payments[payment_id]
            payment.update(
                status="canceled",
                cancellation_details={"party": "payment_network", "reason": reason},
            )
            payment.pop("confirmation", None)

    def paths(self, method: str) -> list[str]:
        with self.lock:
            return [path for m, path, _key in self.requests if m == method]

    # --- the API ------------------------------------------------------------

    def handle(self, method: str, path: str, key: str, body: Any) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if parts[:1] != ["v3"]:
            return 404, _error("not_found", "No such resource")
        parts = parts[1:]
        if method == "GET" and len(parts) == 2 and parts[0] in ("payments", "refunds"):
            found = (self.payments if parts[0] == "payments" else self.refunds).get(parts[1])
            return (200, found) if found else (404, _error("not_found", "Not found"))
        if method != "POST":
            return 405, _error("invalid_request", "Method not allowed")
        if not key:
            return 400, _error("invalid_request", "Idempotence-Key header is required")
        if (method + path, key) in self.replies:
            return self.replies[(method + path, key)]
        reply = self._post(parts, body)
        self.replies[(method + path, key)] = reply
        return reply

    def _post(self, parts: list[str], body: Any) -> tuple[int, dict[str, Any]]:
        if parts == ["payments"]:
            payment_id = str(uuid.uuid4())
            payment = {
                "id": payment_id,
                "status": "pending",
                "paid": False,
                "amount": body["amount"],
                "description": body.get("description", ""),
                "metadata": body.get("metadata", {}),
                "created_at": _now(),
                "test": True,
                "refundable": False,
                "confirmation": {
                    "type": "redirect",
                    "return_url": body["confirmation"]["return_url"],
                    "confirmation_url": f"{self.url}/checkout/confirm/{payment_id}",
                },
            }
            self.payments[payment_id] = payment
            return 200, payment
        if parts == ["refunds"]:
            paid = self.payments.get(body.get("payment_id", ""))
            if paid is None or paid["status"] != "succeeded":
                return 400, _error("invalid_request", "Payment cannot be refunded")
            refund = {
                "id": str(uuid.uuid4()),
                "payment_id": paid["id"],
                "status": "succeeded",
                "amount": body["amount"],
                "created_at": _now(),
            }
            self.refunds[refund["id"]] = refund
            return 200, refund
        if len(parts) == 3 and parts[0] == "payments" and parts[2] in ("capture", "cancel"):
            held = self.payments.get(parts[1])
            if held is None:
                return 404, _error("not_found", "Payment not found")
            if held["status"] != "waiting_for_capture":
                return 400, _error("invalid_request", "Payment is not waiting for capture")
            if parts[2] == "capture":
                if body and Decimal(body["amount"]["value"]) != Decimal(held["amount"]["value"]):
                    return 400, _error("invalid_request", "Partial capture is not supported here")
                held.update(status="succeeded", captured_at=_now(), refundable=True)
            else:
                held.update(
                    status="canceled",
                    cancellation_details={"party": "merchant", "reason": "canceled_by_merchant"},
                )
            return 200, held
        return 404, _error("not_found", "No such resource")


def _error(code: str, description: str) -> dict[str, Any]:
    return {"type": "error", "id": str(uuid.uuid4()), "code": code, "description": description}


@contextmanager
def yookassa_server() -> Iterator[FakeYooKassa]:
    fake = FakeYooKassa()
    expected = "Basic " + base64.b64encode(f"{SHOP_ID}:{SECRET_KEY}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.headers.get("authorization") != expected:
                status, reply = 401, _error("invalid_credentials", "Authentication failed")
            else:
                key = self.headers.get("idempotence-key", "")
                with fake.lock:
                    fake.requests.append((method, self.path, key))
                    status, reply = fake.handle(method, self.path, key, json.loads(raw or b"null"))
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()

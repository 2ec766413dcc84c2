"""A local stand-in for the part of YooKassa's API v3 that Amur uses, for the
SDK to talk to in tests: payments (create, read, capture, cancel; cards in
two stages, SBP in one), refunds and 54-FZ receipts, with Basic auth and
Idempotence-Key replay. The test plays the buyer and the bank with
`confirm`, `decline` and `expire`, and the fiscal data operator with
`hold_receipts` and `receipts_register`.

As a shop on "Чеки от ЮKassa" is, it refuses a payment or refund without a
receipt, and any receipt YooKassa would refuse: no customer e-mail or phone,
a description over 128 characters, an unknown vat_code, payment_mode,
payment_subject or agent_type, agent data without a supplier, items that do
not add up to the money, a receipt request without settlements or for a
payment that did not succeed."""

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
from urllib.parse import parse_qs, urlsplit

SHOP_ID = "100500"
SECRET_KEY = "test_secret_key"

PAYMENT_MODES = {
    "full_prepayment",
    "partial_prepayment",
    "advance",
    "full_payment",
    "partial_payment",
    "credit",
    "credit_payment",
}
PAYMENT_SUBJECTS = {
    "commodity",
    "excise",
    "job",
    "service",
    "payment",
    "agent_commission",
    "composite",
    "another",
}
AGENT_TYPES = {
    "banking_payment_agent",
    "banking_payment_subagent",
    "payment_agent",
    "payment_subagent",
    "attorney",
    "commissioner",
    "agent",
}
SETTLEMENT_TYPES = {"cashless", "prepayment", "postpayment", "consideration"}


def _cents(money: Any) -> int:
    return int(Decimal(str(money["value"])) * 100)


def receipt_error(receipt: Any, amount_cents: int | None) -> str:
    """What YooKassa would answer to a bad receipt, or "" for a good one."""
    if not isinstance(receipt, dict):
        return "Receipt is missing or illegal"
    customer = receipt.get("customer") or {}
    if not (customer.get("email") or customer.get("phone")):
        return "Receipt customer must have an email or a phone"
    if "phone" in customer and not str(customer["phone"]).isdigit():
        return "Receipt customer phone must be digits only (ITU-T E.164)"
    items = receipt.get("items") or []
    if not items:
        return "Receipt items are missing"
    total = 0
    for index, item in enumerate(items):
        where = f"receipt.items[{index}]"
        description = item.get("description", "")
        if not isinstance(description, str) or not 1 <= len(description) <= 128:
            return f"{where}.description must have 1 to 128 characters"
        quantity = Decimal(str(item.get("quantity", "0")))
        if quantity <= 0:
            return f"{where}.quantity must be positive"
        if item.get("amount", {}).get("currency") != "RUB":
            return f"{where}.amount.currency must be RUB"
        if item.get("vat_code") not in range(1, 13):
            return f"{where}.vat_code must be 1 to 12"
        if item.get("payment_mode") not in PAYMENT_MODES:
            return f"{where}.payment_mode is unknown"
        if item.get("payment_subject") not in PAYMENT_SUBJECTS:
            return f"{where}.payment_subject is unknown"
        if "agent_type" in item:
            supplier = item.get("supplier") or {}
            if item["agent_type"] not in AGENT_TYPES:
                return f"{where}.agent_type is unknown"
            if not supplier.get("name"):
                return f"{where}.supplier.name is required with agent_type"
            if not str(supplier.get("phone", "0")).isdigit():
                return f"{where}.supplier.phone must be digits only (ITU-T E.164)"
            inn = supplier.get("inn", "")
            if inn and not (inn.isdigit() and len(inn) in (10, 12)):
                return f"{where}.supplier.inn must have 10 or 12 digits"
        total += int(Decimal(str(item["amount"]["value"])) * quantity * 100)
    if receipt.get("tax_system_code") not in range(1, 7):
        return "receipt.tax_system_code must be 1 to 6"
    if amount_cents is not None and total != amount_cents:
        return "Receipt items do not add up to the amount"
    return ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class FakeYooKassa:
    url: str = ""
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The fiscal data operator registers receipts at once unless held.
    hold_receipts: bool = False
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, key
    bodies: list[tuple[str, Any]] = field(default_factory=list)  # path, body of each POST
    replies: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the buyer and the bank ---------------------------------------------

    def confirm(self, payment_id: str) -> None:
        """The buyer passed 3-D Secure (the money is held for capture) or
        confirmed an SBP transfer in the bank's app (one stage: succeeded)."""
        with self.lock:
            payment = self.payments[payment_id]
            assert payment["status"] == "pending"
            if payment["capture"]:
                payment.update(status="succeeded", paid=True, captured_at=_now())
                self._succeeded(payment)
            else:
                payment.update(status="waiting_for_capture", paid=True)
            payment.pop("confirmation", None)

    def expire(self, payment_id: str) -> None:
        """The buyer never confirmed: YooKassa cancels the payment."""
        self.decline(payment_id, "expired_on_confirmation")

    def receipts_register(self) -> None:
        """The fiscal data operator registers every receipt waiting."""
        with self.lock:
            for receipt in self.receipts.values():
                if receipt["status"] == "pending" and self._payable(receipt):
                    receipt.update(status="succeeded", registered_at=_now())

    def _payable(self, receipt: dict[str, Any]) -> bool:
        """A payment's receipt is registered once its payment succeeded."""
        if receipt["type"] != "payment" or "settlements" in receipt:
            return True
        return self.payments[receipt["payment_id"]]["status"] == "succeeded"

    def _receipt(self, receipt: dict[str, Any], **links: str) -> dict[str, Any]:
        record = {
            "id": str(uuid.uuid4()),
            "status": "pending",
            "items": receipt["items"],
            "tax_system_code": receipt["tax_system_code"],
            **links,
        }
        if "settlements" in receipt:
            record["settlements"] = receipt["settlements"]
        self.receipts[record["id"]] = record
        if not self.hold_receipts and self._payable(record):
            record.update(status="succeeded", registered_at=_now())
        return record

    def _succeeded(self, payment: dict[str, Any]) -> None:
        if self.hold_receipts:
            return
        for receipt in self.receipts.values():
            if receipt.get("payment_id") == payment["id"] and receipt["status"] == "pending":
                receipt.update(status="succeeded", registered_at=_now())

    def receipts_of(self, **links: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r for r in self.receipts.values() if all(r.get(k) == v for k, v in links.items())
            ]

    def decline(self, payment_id: str, reason: str) -> None:
        with self.lock:
            payment = self.payments[payment_id]
            payment.update(
                status="canceled",
                cancellation_details={"party": "payment_network", "reason": reason},
                receipt_registration="canceled",
            )
            payment.pop("confirmation", None)
            for receipt in self.receipts.values():
                if receipt.get("payment_id") == payment_id and receipt["status"] == "pending":
                    receipt["status"] = "canceled"

    def sent(self, path: str) -> list[Any]:
        """The bodies POSTed to `path`, oldest first."""
        with self.lock:
            return [body for p, body in self.bodies if p == path]

    def paths(self, method: str) -> list[str]:
        with self.lock:
            return [path for m, path, _key in self.requests if m == method]

    # --- the API ------------------------------------------------------------

    def handle(self, method: str, path: str, key: str, body: Any) -> tuple[int, dict[str, Any]]:
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")
        if parts[:1] != ["v3"]:
            return 404, _error("not_found", "No such resource")
        parts = parts[1:]
        if method == "GET" and len(parts) == 2 and parts[0] in ("payments", "refunds", "receipts"):
            found = {"payments": self.payments, "refunds": self.refunds}.get(
                parts[0], self.receipts
            ).get(parts[1])
            return (200, found) if found else (404, _error("not_found", "Not found"))
        if method == "GET" and parts == ["receipts"]:
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            links = {k: query[k] for k in ("payment_id", "refund_id") if k in query}
            if not links:
                return 400, _error("invalid_request", "payment_id or refund_id is required")
            found_all = [
                r for r in self.receipts.values() if all(r.get(k) == v for k, v in links.items())
            ]
            return 200, {"type": "list", "items": found_all[::-1]}  # newest first
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
            error = receipt_error(body.get("receipt"), _cents(body["amount"]))
            if error:
                return 400, _error("invalid_request", error)
            method_data = body.get("payment_method_data") or {}
            sbp = method_data.get("type") == "sbp"
            if sbp and body.get("capture") is not True:
                return 400, _error("invalid_request", "SBP payments are one-stage: capture true")
            if not sbp and not body.get("payment_token"):
                return 400, _error("invalid_request", "payment_token is required")
            payment_id = str(uuid.uuid4())
            payment = {
                "id": payment_id,
                "status": "pending",
                "paid": False,
                "capture": bool(body.get("capture")),
                "amount": body["amount"],
                "description": body.get("description", ""),
                "metadata": body.get("metadata", {}),
                "payment_method": {"type": "sbp" if sbp else "bank_card", "id": payment_id},
                "created_at": _now(),
                "test": True,
                "refundable": False,
                "receipt_registration": "pending",
                "confirmation": {
                    "type": "redirect",
                    "return_url": body["confirmation"]["return_url"],
                    "confirmation_url": f"{self.url}/checkout/confirm/{payment_id}",
                },
            }
            self.payments[payment_id] = payment
            self._receipt(body["receipt"], type="payment", payment_id=payment_id)
            return 200, payment
        if parts == ["receipts"]:
            return self._receipt_post(body)
        if parts == ["refunds"]:
            paid = self.payments.get(body.get("payment_id", ""))
            if paid is None or paid["status"] != "succeeded":
                return 400, _error("invalid_request", "Payment cannot be refunded")
            error = receipt_error(body.get("receipt"), _cents(body["amount"]))
            if error:
                return 400, _error("invalid_request", error)
            refund = {
                "id": str(uuid.uuid4()),
                "payment_id": paid["id"],
                "status": "succeeded",
                "amount": body["amount"],
                "created_at": _now(),
                "receipt_registration": "pending",
            }
            self.refunds[refund["id"]] = refund
            self._receipt(body["receipt"], type="refund", refund_id=refund["id"])
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
                self._succeeded(held)
            else:
                held.update(
                    status="canceled",
                    cancellation_details={"party": "merchant", "reason": "canceled_by_merchant"},
                )
            return 200, held
        return 404, _error("not_found", "No such resource")

    def _receipt_post(self, body: Any) -> tuple[int, dict[str, Any]]:
        """A receipt request of its own (a settlement on handover)."""
        settlements = body.get("settlements") or []
        if not settlements or any(s.get("type") not in SETTLEMENT_TYPES for s in settlements):
            return 400, _error("invalid_request", "settlements are missing or of unknown type")
        if body.get("send") is not True:
            return 400, _error("invalid_request", "send must be true")
        kind = body.get("type")
        if kind == "payment":
            paid = self.payments.get(body.get("payment_id", ""))
            if paid is None or paid["status"] != "succeeded":
                return 400, _error("invalid_request", "No succeeded payment for this receipt")
            links = {"payment_id": paid["id"]}
        elif kind == "refund" and body.get("refund_id") in self.refunds:
            links = {"refund_id": body["refund_id"]}
        else:
            return 400, _error("invalid_request", "Unknown receipt type or refund")
        error = receipt_error(body, sum(_cents(s["amount"]) for s in settlements))
        if error:
            return 400, _error("invalid_request", error)
        return 200, self._receipt(body, type=kind, **links)


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
                    if method == "POST":
                        fake.bodies.append((self.path, json.loads(raw or b"null")))
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


@contextmanager
def yookassa_for(settings: Any) -> Iterator[FakeYooKassa]:
    """The local server, with Amur's settings pointing new payments at it."""
    with yookassa_server() as fake:
        settings.AMUR = {
            **settings.AMUR,
            "PAYMENT_PROVIDER": "yookassa",
            "YOOKASSA_SHOP_ID": SHOP_ID,
            "YOOKASSA_SECRET_KEY": SECRET_KEY,
            "YOOKASSA_API_URL": f"{fake.url}/v3",
        }
        yield fake

"""A local stand-in for the part of CDEK's API v2 that Amur uses, built from
its published shapes: OAuth client credentials, orders (create, read by uuid
or im_number, delete), barcode labels and delivery points, with Bearer
tokens that expire. The test plays CDEK's warehouses with `advance` and
`send_back`, and sends the ORDER_STATUS webhook body from `webhook`."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CLIENT_ID = "amur-test-account"
CLIENT_SECRET = "amur-test-secure"
LABEL = b"%PDF-1.4\n% CDEK barcode A6\n%%EOF\n"


def stamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class FakeCdek:
    url: str = ""
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    labels: dict[str, str] = field(default_factory=dict)
    delivery_points: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail_next: dict[str, int] = field(default_factory=dict)  # "POST /v2/orders" -> times
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_number: int = 1_400_000_000

    # --- CDEK's warehouses -------------------------------------------------

    def advance(
        self, order_uuid: str, code: str, city: str = "Екатеринбург", at: datetime | None = None
    ) -> None:
        with self.lock:
            order = self.orders[order_uuid]
            order["statuses"].insert(
                0, {"code": code, "name": code, "date_time": stamp(at), "city": city}
            )
            if not order.get("cdek_number"):
                order["cdek_number"] = str(self.next_number)
                self.next_number += 1

    def send_back(self, order_uuid: str) -> str:
        """Not collected: CDEK makes a return order bringing it back."""
        with self.lock:
            direct = self.orders[order_uuid]
            back = str(uuid.uuid4())
            self.orders[back] = {
                "uuid": back,
                "is_return": True,
                "type": 1,
                "number": direct["number"],
                "cdek_number": str(self.next_number),
                "statuses": [
                    {"code": "CREATED", "name": "CREATED", "date_time": stamp(), "city": ""}
                ],
                "related_entities": [{"type": "direct_order", "uuid": order_uuid}],
            }
            self.next_number += 1
            direct.setdefault("related_entities", []).append({"type": "return_order", "uuid": back})
            return back

    def webhook(self, order_uuid: str) -> dict[str, Any]:
        order = self.orders[order_uuid]
        last = order["statuses"][0]
        return {
            "type": "ORDER_STATUS",
            "date_time": stamp(),
            "uuid": order_uuid,
            "attributes": {
                "is_return": order.get("is_return", False),
                "cdek_number": order.get("cdek_number"),
                "number": order["number"],
                "code": last["code"],
                "status_date_time": last["date_time"],
                "city_name": last["city"],
            },
        }

    def count(self, method: str, path: str) -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p == path)

    # --- The API ------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        key = f"{method} {path}"
        if self.fail_next.get(key):
            self.fail_next[key] -= 1
            return 500, {"errors": [{"code": "internal", "message": "try later"}]}
        parts = path.strip("/").split("/")[1:]  # after "v2"
        if method == "GET" and parts == ["orders"]:
            number = query.get("im_number", [""])[0]
            found = next(
                (
                    o
                    for o in self.orders.values()
                    if o["number"] == number and not o.get("is_return")
                ),
                None,
            )
            if found is None:
                return 400, {
                    "requests": [
                        {
                            "state": "INVALID",
                            "errors": [
                                {"code": "v2_entity_not_found_im_number", "message": "not found"}
                            ],
                        }
                    ]
                }
            return 200, {"entity": found}
        if method == "POST" and parts == ["orders"]:
            # Codes of points CDEK does not have start with X here.
            if str(body.get("delivery_point", "X")).startswith("X") or not body.get("packages"):
                return 400, {
                    "requests": [
                        {
                            "state": "INVALID",
                            "errors": [
                                {
                                    "code": "v2_bad_request",
                                    "message": "v2_delivery_point_not_found",
                                }
                            ],
                        }
                    ]
                }
            order_uuid = str(uuid.uuid4())
            self.orders[order_uuid] = {
                "uuid": order_uuid,
                "is_return": False,
                "type": body["type"],
                "number": body["number"],
                "tariff_code": body["tariff_code"],
                "delivery_point": body["delivery_point"],
                "recipient": body["recipient"],
                "packages": body["packages"],
                "statuses": [
                    {"code": "CREATED", "name": "Создан", "date_time": stamp(), "city": ""}
                ],
            }
            return 202, {
                "entity": {"uuid": order_uuid},
                "requests": [
                    {
                        "request_uuid": str(uuid.uuid4()),
                        "type": "CREATE",
                        "state": "ACCEPTED",
                        "date_time": stamp(),
                    }
                ],
            }
        if len(parts) == 2 and parts[0] == "orders":
            order = self.orders.get(parts[1])
            if order is None:
                return 404, {
                    "requests": [
                        {
                            "state": "INVALID",
                            "errors": [{"code": "v2_entity_not_found", "message": "no such order"}],
                        }
                    ]
                }
            if method == "GET":
                return 200, {"entity": order, "requests": []}
            if method == "DELETE":
                if order["statuses"][0]["code"] not in ("CREATED", "ACCEPTED"):
                    return 400, {
                        "requests": [
                            {
                                "state": "INVALID",
                                "errors": [
                                    {
                                        "code": "v2_order_forbidden_to_delete",
                                        "message": "already moving",
                                    }
                                ],
                            }
                        ]
                    }
                order["statuses"].insert(
                    0, {"code": "REMOVED", "name": "Удален", "date_time": stamp(), "city": ""}
                )
                return 202, {
                    "entity": {"uuid": parts[1]},
                    "requests": [{"type": "DELETE", "state": "ACCEPTED"}],
                }
        if method == "POST" and parts == ["print", "barcodes"]:
            label = str(uuid.uuid4())
            self.labels[label] = body["orders"][0]["order_uuid"]
            return 202, {
                "entity": {"uuid": label},
                "requests": [{"type": "CREATE", "state": "ACCEPTED"}],
            }
        if method == "GET" and len(parts) == 3 and parts[:2] == ["print", "barcodes"]:
            label = parts[2]
            if label.endswith(".pdf"):
                return 200, LABEL
            return 200, {
                "entity": {
                    "uuid": label,
                    "url": f"{self.url}/v2/print/barcodes/{label}.pdf",
                    "statuses": [{"code": "READY"}],
                }
            }
        if method == "GET" and parts == ["deliverypoints"]:
            return 200, self.delivery_points
        return 404, {"errors": [{"code": "not_found", "message": path}]}


@contextmanager
def cdek_server() -> Iterator[FakeCdek]:
    fake = FakeCdek()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, reply: Any) -> None:
            data = (
                reply
                if isinstance(reply, bytes)
                else json.dumps(reply, ensure_ascii=False).encode()
            )
            self.send_response(status)
            self.send_header(
                "content-type",
                "application/pdf" if isinstance(reply, bytes) else "application/json",
            )
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            split = urlsplit(self.path)
            with fake.lock:
                fake.requests.append((method, split.path))
            if split.path == "/v2/oauth/token":
                form = parse_qs(raw.decode())
                if (
                    form.get("grant_type") != ["client_credentials"]
                    or form.get("client_id") != [CLIENT_ID]
                    or form.get("client_secret") != [CLIENT_SECRET]
                ):
                    return self._reply(401, {"error": "invalid_client"})
                token = uuid.uuid4().hex
                with fake.lock:
                    fake.tokens.add(token)
                return self._reply(
                    200,
                    {
                        "access_token": token,
                        "token_type": "bearer",
                        "expires_in": 3599,
                        "scope": "order:all payment:all",
                        "jti": uuid.uuid4().hex,
                    },
                )
            bearer = self.headers.get("authorization", "").removeprefix("Bearer ")
            if bearer not in fake.tokens:
                return self._reply(
                    401,
                    {
                        "requests": [
                            {
                                "state": "INVALID",
                                "errors": [{"code": "v2_token_expired", "message": "token"}],
                            }
                        ]
                    },
                )
            with fake.lock:
                status, reply = fake.handle(
                    method, split.path, parse_qs(split.query), json.loads(raw or b"null")
                )
            self._reply(status, reply)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

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

"""CDEK API v2: OAuth client credentials (/oauth/token), orders (POST
/orders, GET /orders/{uuid} and ?im_number=, DELETE), barcode labels
(/print/barcodes), delivery points (/deliverypoints), and its statuses
mapped onto Amur's events. Its ORDER_STATUS webhooks are not signed: Amur
reads the order back and believes only that answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import requests
from django.conf import settings

from core.regions import REGIONS
from shipping.lastmile.carriers import (
    CarrierError,
    CarrierNotConfigured,
    CarrierStatus,
    Registered,
    ShipmentRequest,
    Tracked,
)

# CDEK's order status codes that mean something to the buyer; the rest
# (created, moved between its own warehouses) are not shown.
STATUS_EVENTS: dict[str, str] = {
    "RECEIVED_AT_SHIPMENT_WAREHOUSE": "accepted",
    "READY_TO_SHIP_AT_SENDING_OFFICE": "loaded",
    "TAKEN_BY_TRANSPORTER_FROM_SENDER_CITY": "departed",
    "SENT_TO_TRANSIT_CITY": "departed",
    "SENT_TO_RECIPIENT_CITY": "departed",
    "ACCEPTED_IN_TRANSIT_CITY": "arrived",
    "ACCEPTED_AT_TRANSIT_WAREHOUSE": "arrived",
    "ACCEPTED_IN_RECIPIENT_CITY": "arrived",
    "IN_CUSTOMS_INTERNATIONAL": "customs_presented",
    "IN_CUSTOMS_LOCAL": "customs_presented",
    "CUSTOMS_COMPLETE": "customs_released",
    "ACCEPTED_AT_RECIPIENT_CITY_WAREHOUSE": "arrived_delivery_office",
    "ACCEPTED_AT_PICK_UP_POINT": "available_for_pickup",
    "POSTOMAT_POSTED": "available_for_pickup",
    "TAKEN_BY_COURIER": "out_for_delivery",
    "DELIVERED": "delivered",
    "POSTOMAT_RECEIVED": "delivered",
    # Not collected in time: taken out of the locker, or given up at the
    # point; CDEK then sends it back as a return order.
    "POSTOMAT_SEIZED": "delivery_failed",
    "NOT_DELIVERED": "delivery_failed",
}
STORAGE_EXPIRED = frozenset({"POSTOMAT_SEIZED", "NOT_DELIVERED"})
KINDS = {"PVZ": "pickup_point", "POSTAMAT": "locker"}
# CDEK names a point's region in Russian, as the federal subjects are named;
# points in regions Amur does not know are left out.
REGION_OF_NAME = {name: code for code, name in REGIONS.items()}

_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z")


def statuses_map(entity: dict[str, Any]) -> list[CarrierStatus]:
    """An order's statuses as Amur's events. On a return order (CDEK makes
    one when the direct order goes back) only its delivery counts: the parcel
    is back with the sender."""
    uuid = str(entity.get("uuid", ""))
    found = []
    for status in entity.get("statuses") or []:
        code = str(status.get("code", ""))
        if entity.get("is_return"):
            event = "returned" if code == "DELIVERED" else ""
        else:
            event = STATUS_EVENTS.get(code, "")
        if not event:
            continue
        found.append(
            CarrierStatus(
                key=f"cdek:{uuid}:{code}:{status['date_time']}",
                code=code,
                event=event,
                occurred_at=_time(str(status["date_time"])),
                location=str(status.get("city", ""))[:100],
                reason="storage_expired" if code in STORAGE_EXPIRED else "",
            )
        )
    return found


def direct_order_uuid(entity: dict[str, Any]) -> str:
    """The order a return order brings back (itself for a direct order)."""
    if entity.get("is_return"):
        for related in entity.get("related_entities") or []:
            if related.get("type") == "direct_order":
                return str(related["uuid"])
    return str(entity.get("uuid", ""))


class CdekAdapter:
    code = "cdek"

    def __init__(self) -> None:
        conf = settings.AMUR
        self.base = conf["CDEK_API_URL"]
        self.client_id = conf["CDEK_CLIENT_ID"]
        self.secret = conf["CDEK_CLIENT_SECRET"]
        self.tariff = conf["CDEK_TARIFF_CODE"]
        self.timeout = conf["CARRIER_TIMEOUT_SECONDS"]
        if not (self.client_id and self.secret):
            raise CarrierNotConfigured(self.code)

    # --- HTTP ---------------------------------------------------------------

    def _token(self, *, fresh: bool = False) -> str:
        key = (self.base, self.client_id)
        with _tokens_lock:
            cached = _tokens.get(key)
            if cached and not fresh and cached[1] > time.monotonic():
                return cached[0]
        try:
            response = requests.post(
                f"{self.base}/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.secret,
                },
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise CarrierError(f"CDEK token: {exc}", retry=True) from exc
        if response.status_code != 200:
            raise CarrierError(f"CDEK token: HTTP {response.status_code}", retry=True)
        body = response.json()
        token = str(body["access_token"])
        # Renewed a minute early: a token that expires in flight is a 401.
        with _tokens_lock:
            _tokens[key] = (token, time.monotonic() + int(body.get("expires_in", 3600)) - 60)
        return token

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}{path}"
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._token(fresh=attempt > 0)}"}
            try:
                response = requests.request(
                    method, url, headers=headers, timeout=self.timeout, **kwargs
                )
            except requests.RequestException as exc:
                raise CarrierError(f"CDEK {method} {path}: {exc}", retry=True) from exc
            if response.status_code != 401:
                break
        if response.status_code >= 500 or response.status_code == 429:
            raise CarrierError(f"CDEK {method} {path}: HTTP {response.status_code}", retry=True)
        if response.status_code >= 400:
            raise CarrierError(
                f"CDEK {method} {path}: HTTP {response.status_code} {_errors(response)}",
                retry=False,
            )
        return response

    # --- The interface ------------------------------------------------------

    def shipment_create(self, request: ShipmentRequest) -> Registered:
        # The S10 is the shipment's number at CDEK: after an answer lost in
        # transit, the retry finds the order made the first time.
        found = self._by_number(request.tracking_number)
        if found is None:
            body = self._call("POST", "/orders", json=_order_body(request, self.tariff)).json()
            states = [r.get("state") for r in body.get("requests") or []]
            if "INVALID" in states:
                raise CarrierError(f"CDEK refused the order: {body}", retry=False)
            uuid = str(body["entity"]["uuid"])
            found = self.order_read(uuid)
        return Registered(
            reference=str(found["uuid"]), carrier_number=str(found.get("cdek_number") or "")
        )

    def _by_number(self, number: str) -> dict[str, Any] | None:
        try:
            response = self._call("GET", "/orders", params={"im_number": number})
        except CarrierError as exc:
            if exc.retry:
                raise
            return None
        entity: dict[str, Any] | None = response.json().get("entity")
        return entity

    def order_read(self, uuid: str) -> dict[str, Any]:
        entity: dict[str, Any] = self._call("GET", f"/orders/{uuid}").json()["entity"]
        return entity

    def label_get(self, reference: str) -> bytes | None:
        made = self._call(
            "POST", "/print/barcodes", json={"orders": [{"order_uuid": reference}], "format": "A6"}
        ).json()
        label_uuid = made["entity"]["uuid"]
        for _attempt in range(5):
            entity = self._call("GET", f"/print/barcodes/{label_uuid}").json()["entity"]
            if entity.get("url"):
                return self._call("GET", str(entity["url"])).content
            time.sleep(0.2)
        raise CarrierError("CDEK label not ready", retry=True)

    def shipment_cancel(self, reference: str) -> None:
        self._call("DELETE", f"/orders/{reference}")

    def track(self, references: Sequence[str]) -> dict[str, Tracked]:
        tracked = {}
        for uuid in references:
            entity = self.order_read(uuid)
            tracked[uuid] = Tracked(
                carrier_number=str(entity.get("cdek_number") or ""),
                statuses=statuses_map(entity),
            )
        return tracked

    def pickup_points_list(self) -> list[dict[str, Any]]:
        points = self._call("GET", "/deliverypoints", params={"country_code": "RU"}).json()
        return [
            _point(raw, region)
            for raw in points
            if raw.get("type") in KINDS
            and (region := REGION_OF_NAME.get(str((raw.get("location") or {}).get("region", ""))))
        ]


def _errors(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    # Errors come at the top level or within each request of the answer.
    if not isinstance(body, dict):
        return ""
    errors = list(body.get("errors") or [])
    for request in body.get("requests") or []:
        errors += request.get("errors") or []
    return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" for e in errors)[:300]


def _order_body(request: ShipmentRequest, tariff: int) -> dict[str, Any]:
    cod = request.cod_rub
    return {
        "type": 1,  # an online store's order
        "number": request.tracking_number,
        "tariff_code": tariff,
        "comment": f"Amur order {request.order_number}",
        "delivery_point": request.point_code,
        "recipient": {
            "name": request.recipient_name,
            "phones": [{"number": request.recipient_phone}],
        },
        "delivery_recipient_cost": {"value": 0},
        "packages": [
            {
                "number": request.tracking_number,
                "weight": request.weight_g,
                # CDEK measures packages in whole centimetres.
                "length": max(1, round(request.length_mm / 10)),
                "width": max(1, round(request.width_mm / 10)),
                "height": max(1, round(request.height_mm / 10)),
                "items": [
                    {
                        "name": f"Order {request.order_number}",
                        "ware_key": request.tracking_number,
                        "payment": {"value": float(cod) if cod is not None else 0},
                        "cost": float(request.value_rub),
                        "weight": request.weight_g,
                        "amount": 1,
                    }
                ],
            }
        ],
    }


def _point(raw: dict[str, Any], region: str) -> dict[str, Any]:
    location = raw.get("location") or {}
    dims = raw.get("dimensions") or []
    # A locker lists its cells; the largest is what fits at all.
    largest: dict[str, Any] = max(
        dims, key=lambda d: d.get("width", 0) * d.get("height", 0) * d.get("depth", 0), default={}
    )
    weight_max = raw.get("weight_max")
    return {
        "code": raw["code"],
        "carrier": "cdek",
        "kind": KINDS[raw["type"]],
        "name": str(raw.get("name", ""))[:200],
        "region": region,
        "city": location.get("city", ""),
        "postcode": str(location.get("postal_code", ""))[:6],
        "address": str(location.get("address", ""))[:300],
        "latitude": location["latitude"],
        "longitude": location["longitude"],
        "fias_id": location.get("fias_guid") or None,
        "opening_hours": str(raw.get("work_time", ""))[:200],
        "max_weight_g": int(float(weight_max) * 1000) if weight_max else None,
        "max_length_mm": int(largest["depth"]) * 10 if largest else None,
        "max_width_mm": int(largest["width"]) * 10 if largest else None,
        "max_height_mm": int(largest["height"]) * 10 if largest else None,
        "cash_allowed": bool(raw.get("allowed_cod")),
    }

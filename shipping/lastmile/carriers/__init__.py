"""One interface for the last-mile carriers (as payments.providers is for
card providers): register a shipment, read its label and the carrier's
number, cancel it, read its statuses in Amur's event codes, list the
carrier's pickup points. Adapters make HTTP calls and nothing else: callers
run them after commit, from durable rows, never under a row lock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol


class CarrierError(Exception):
    """A call that failed. `retry`: the carrier may answer later (network,
    5xx, rate limit); otherwise it refused the request for good."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class CarrierNotConfigured(CarrierError):
    def __init__(self, carrier: str) -> None:
        super().__init__(f"{carrier} has no credentials configured", retry=True)


@dataclass(frozen=True)
class ShipmentRequest:
    tracking_number: str  # the S10, also the shipment's number at the carrier
    order_number: str
    point_code: str
    recipient_name: str
    recipient_phone: str
    weight_g: int
    length_mm: int
    width_mm: int
    height_mm: int
    value_rub: Decimal
    cod_rub: Decimal | None  # cash the point collects, None when prepaid


@dataclass(frozen=True)
class Registered:
    reference: str  # the carrier's id of the shipment
    carrier_number: str  # the carrier's tracking number ("" until it gives one)


@dataclass(frozen=True)
class CarrierStatus:
    """One status the carrier reported, in Amur's terms. `key` is unique per
    status at this carrier, so a status read twice is recorded once."""

    key: str
    code: str  # the carrier's own status code
    event: str  # shipping.tracking.events code
    occurred_at: datetime
    location: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Tracked:
    """What a carrier says of one shipment now."""

    carrier_number: str
    statuses: list[CarrierStatus]


class CarrierAdapter(Protocol):
    code: str

    def shipment_create(self, request: ShipmentRequest) -> Registered: ...

    def label_get(self, reference: str) -> bytes | None: ...

    def shipment_cancel(self, reference: str) -> None: ...

    def track(self, references: Sequence[str]) -> dict[str, Tracked]: ...

    def pickup_points_list(self) -> list[dict[str, Any]] | None: ...


def carrier_adapter(code: str) -> CarrierAdapter:
    # Imported here: each adapter reads its settings when it is made.
    if code == "cdek":
        from shipping.lastmile.carriers.cdek import CdekAdapter

        return CdekAdapter()
    if code == "russian_post":
        from shipping.lastmile.carriers.russian_post import RussianPostAdapter

        return RussianPostAdapter()
    raise ValueError(f"unknown carrier {code!r}")

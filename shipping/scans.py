"""Courier scans: a batch is validated scan by scan; good ones are kept, bad
ones come back with their index and reason, a repeated scan_id counts once.
A cash_collected scan records its cash (shipping.cod) in the same
transaction as its tracking event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shipping.cod import CASH_COLLECTED, cash_collections_record, cod_parcel_numbers
from shipping.models import Courier, Parcel, TrackingEvent
from shipping.s10 import s10_is_valid
from shipping.timeline import NewEvent, parcel_events_record
from shipping.tracking import EVENT_KINDS

MAX_SCANS_PER_REQUEST = 1000


@dataclass(frozen=True)
class Scan:
    index: int
    scan_id: str
    tracking_number: str
    event: str
    occurred_at: datetime
    location: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ScanOutcome:
    accepted: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, scan: Scan, code: str, message: Any) -> None:
        self.rejected.append(
            {"index": scan.index, "scan_id": scan.scan_id, "code": code, "message": str(message)}
        )


def scans_record(*, courier: Courier, scans: Sequence[Scan]) -> ScanOutcome:
    try:
        return _scans_record(courier=courier, scans=scans)
    except IntegrityError:
        # A concurrent batch stored one of these scan_ids first: now it is a duplicate.
        return _scans_record(courier=courier, scans=scans)


def _scans_record(*, courier: Courier, scans: Sequence[Scan]) -> ScanOutcome:
    outcome = ScanOutcome()
    # Checked once per number, not per scan.
    numbers = {s.tracking_number for s in scans}
    valid_numbers = {number for number in numbers if s10_is_valid(number)}
    lane_ids = set(courier.lanes.values_list("id", flat=True))
    visible = Parcel.objects.filter(tracking_number__any_of=valid_numbers).filter(
        Q(lane_id__in=lane_ids) | Q(order__region__in=courier.regions or [])
    )
    parcels = dict(visible.order_by().values_list("tracking_number", "id"))
    cash_due = cod_parcel_numbers(
        numbers=[s.tracking_number for s in scans if s.event == CASH_COLLECTED]
    )
    seen_ids = set(
        TrackingEvent.objects.filter(scan_id__any_of=[s.scan_id for s in scans])
        .order_by()
        .values_list("scan_id", flat=True)
    )
    events: list[NewEvent] = []
    for scan in scans:
        kind = EVENT_KINDS.get(scan.event)
        if scan.scan_id in seen_ids:
            outcome.duplicates.append(scan.index)
            continue
        if kind is None or not kind.courier_may_send:
            outcome.reject(scan, "unknown_event", _("Unknown or not allowed event."))
        elif scan.tracking_number not in valid_numbers:
            outcome.reject(scan, "invalid_tracking_number", _("Not a valid S10 tracking number."))
        elif scan.tracking_number not in parcels:
            # Parcels outside the courier's lanes and regions look like missing ones.
            outcome.reject(scan, "parcel_not_found", _("No such parcel for this courier."))
        elif scan.event == CASH_COLLECTED and scan.tracking_number not in cash_due:
            outcome.reject(scan, "no_cash_due", _("This order is not paid in cash on delivery."))
        else:
            seen_ids.add(scan.scan_id)
            outcome.accepted.append(scan.index)
            events.append(
                NewEvent(
                    parcel_id=parcels[scan.tracking_number],
                    event=scan.event,
                    occurred_at=scan.occurred_at,
                    source=TrackingEvent.Source.COURIER,
                    location=scan.location,
                    courier_id=courier.id,
                    scan_id=scan.scan_id,
                    data=scan.data,
                )
            )
    with transaction.atomic():
        ids = parcel_events_record(events=events)
        cash_ids = [i for i, e in zip(ids, events, strict=True) if e.event == CASH_COLLECTED]
        if cash_ids:
            # The cash goes into the books with the scans that report it.
            cash_collections_record(events=list(TrackingEvent.objects.filter(id__in=cash_ids)))
    return outcome

"""Courier scans: a batch is validated scan by scan; good ones are kept, bad
ones come back with their index and reason, a repeated scan_id counts once.
The cash of cash_collected scans is recorded by the caller
(commands.scans) in the same transaction as the scans' events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import Courier
from core.errors import flatten_detail
from shipping.fulfilment.models import Parcel
from shipping.fulfilment.numbers import s10_is_valid
from shipping.tracking.events import CASH_COLLECTED, EVENT_KINDS
from shipping.tracking.models import TrackingEvent
from shipping.tracking.selectors import cod_parcel_numbers
from shipping.tracking.serializers import scan_validate
from shipping.tracking.timeline import NewEvent, parcel_events_record


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
    # Ids of the accepted cash_collected scans' events, for the cash books.
    cash_event_ids: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, scan: Scan, code: str, message: Any) -> None:
        self.rejected.append(
            {"index": scan.index, "scan_id": scan.scan_id, "code": code, "message": str(message)}
        )


def scans_record(*, courier: Courier, scans: Sequence[Scan]) -> ScanOutcome:
    """Validate and store a batch in the caller's transaction. A concurrent
    batch that stores one of the same scan_ids first makes this one raise
    IntegrityError; run again, it finds that scan a duplicate."""
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
    ids = parcel_events_record(events=events)
    outcome.cash_event_ids = [
        i for i, e in zip(ids, events, strict=True) if e.event == CASH_COLLECTED
    ]
    return outcome


# Scans come from courier devices, whose clocks drift.
FUTURE_TOLERANCE = timedelta(minutes=10)


def _reason_problem(scan: dict[str, Any]) -> str:
    """Why the scan's reason does not fit its event ("" when it does)."""
    choices = EVENT_KINDS[scan["event"]].reasons
    reason = scan.get("reason")
    if choices is None:
        if reason is None:
            return ""
        return gettext("%(event)s takes no reason.") % {"event": scan["event"]}
    if reason in choices.values:
        return ""
    return gettext("%(event)s needs a reason, one of: %(reasons)s.") % {
        "event": scan["event"],
        "reasons": ", ".join(choices.values),
    }


def scans_parse(raw_scans: list[Any]) -> tuple[list[Scan], list[dict[str, Any]]]:
    scans: list[Scan] = []
    rejected: list[dict[str, Any]] = []
    latest_allowed = timezone.now() + FUTURE_TOLERANCE
    zone = timezone.get_current_timezone()
    for index, raw in enumerate(raw_scans):
        data, errors = scan_validate(raw, zone=zone)
        scan_id = raw.get("scan_id") if isinstance(raw.get("scan_id"), str) else None
        if data is None:
            problems = flatten_detail(errors)
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(problems.items()))
            rejected.append(
                {"index": index, "scan_id": scan_id, "code": "invalid", "message": message}
            )
            continue
        if data["occurred_at"] > latest_allowed:
            rejected.append(
                {
                    "index": index,
                    "scan_id": scan_id,
                    "code": "occurred_in_future",
                    "message": str(_("The scan time is in the future.")),
                }
            )
            continue
        extra: dict[str, Any] = {}
        if data["event"] == "cash_collected":
            if "amount" not in data or "currency" not in data:
                rejected.append(
                    {
                        "index": index,
                        "scan_id": scan_id,
                        "code": "invalid",
                        "message": str(_("cash_collected needs amount and currency.")),
                    }
                )
                continue
            extra = {"amount": str(data["amount"]), "currency": data["currency"]}
        problem = _reason_problem(data)
        if problem:
            rejected.append(
                {"index": index, "scan_id": scan_id, "code": "invalid", "message": problem}
            )
            continue
        if "reason" in data:
            extra["reason"] = data["reason"]
        scans.append(
            Scan(
                index=index,
                scan_id=data["scan_id"],
                tracking_number=data["tracking_number"].upper(),
                event=data["event"],
                occurred_at=data["occurred_at"],
                location=data["location"],
                data=extra,
            )
        )
    return scans, rejected

"""Courier scans: a batch is validated scan by scan; good ones are kept, bad
ones come back with their index and reason, a repeated scan_id counts once.
The cash of cash_collected scans is recorded by the caller
(commands.scans) in the same transaction as the scans' events."""

from __future__ import annotations

from collections import defaultdict
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
from shipping.fulfilment.models import Parcel, ParcelStatus
from shipping.fulfilment.numbers import s10_is_valid
from shipping.tracking.events import CASH_COLLECTED, EVENT_KINDS, FINAL_STATUSES, timeline_walk
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
        # A set: Django walks a list's items one by one to resolve expressions.
        TrackingEvent.objects.filter(scan_id__any_of={s.scan_id for s in scans})
        .order_by()
        .values_list("scan_id", flat=True)
    )
    candidates: dict[str, Scan] = {}  # by scan_id: the first good scan of each
    repeats: list[Scan] = []
    for scan in scans:
        kind = EVENT_KINDS.get(scan.event)
        if scan.scan_id in seen_ids:
            outcome.duplicates.append(scan.index)
        elif scan.scan_id in candidates:
            repeats.append(scan)
        elif kind is None or not kind.courier_may_send:
            outcome.reject(scan, "unknown_event", _("Unknown or not allowed event."))
        elif scan.tracking_number not in valid_numbers:
            outcome.reject(scan, "invalid_tracking_number", _("Not a valid S10 tracking number."))
        elif scan.tracking_number not in parcels:
            # Parcels outside the courier's lanes and regions look like missing ones.
            outcome.reject(scan, "parcel_not_found", _("No such parcel for this courier."))
        elif scan.event == CASH_COLLECTED and scan.tracking_number not in cash_due:
            outcome.reject(scan, "no_cash_due", _("This order is not paid in cash on delivery."))
        else:
            candidates[scan.scan_id] = scan
    closed = _scans_after_final(scans=list(candidates.values()), parcels=parcels)
    events: list[NewEvent] = []
    for scan in candidates.values():
        if scan.index in closed:
            outcome.reject(scan, "parcel_closed", _closed_message(closed[scan.index]))
            continue
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
    # A scan_id sent twice in one batch is one scan: the repeat shares its fate.
    for scan in repeats:
        first = candidates[scan.scan_id]
        if first.index in closed:
            outcome.reject(scan, "parcel_closed", _closed_message(closed[first.index]))
        else:
            outcome.duplicates.append(scan.index)
    outcome.duplicates.sort()
    outcome.rejected.sort(key=lambda r: r["index"])
    ids = parcel_events_record(events=events)
    outcome.cash_event_ids = [
        i for i, e in zip(ids, events, strict=True) if e.event == CASH_COLLECTED
    ]
    return outcome


# A stored event or a scan in a parcel's timeline: (its place: time, stored
# before new, event id or scan index), its status, the scan's index.
_Entry = tuple[tuple[datetime, int, int], str, int | None]


def _scans_after_final(*, scans: Sequence[Scan], parcels: dict[str, int]) -> dict[int, str]:
    """The status-changing scans that come after their parcel's final event,
    by index, with the final status they come after.

    Each parcel's final events (stored, applied or not) and the batch's
    scans are walked together in timeline order, the order the parcel's
    status is folded in: a stored event before a scan of the same time, the
    batch's scans in the order they will be stored. So a scan is refused
    after an earlier scan of the same batch that delivers the parcel, and a
    late scan of real history, before the delivery, is kept. Two batches
    stored at once can still both pass: the fold and the buyer's timeline
    leave the late one out (`timeline_counted`)."""
    changing = [s for s in scans if EVENT_KINDS[s.event].status]
    if not changing:
        return {}
    timelines: dict[int, list[_Entry]] = defaultdict(list)
    stored = (
        TrackingEvent.objects.filter(
            parcel_id__any_of={parcels[s.tracking_number] for s in changing},
            status__in=sorted(FINAL_STATUSES),
        )
        .order_by()
        .values_list("parcel_id", "occurred_at", "id", "status")
    )
    for parcel_id, occurred_at, event_id, status in stored:
        timelines[parcel_id].append(((occurred_at, 0, event_id), status, None))
    closed: dict[int, str] = {}
    # A scan can only come too late in a timeline holding a final status, a
    # stored one or one of the batch's: only those are walked (walking every
    # parcel of a batch cost a tenth of its request, bench/scans.py).
    final = set(timelines)
    final.update(
        parcels[s.tracking_number]
        for s in changing
        if EVENT_KINDS[s.event].status in FINAL_STATUSES
    )
    for scan in changing:
        parcel_id = parcels[scan.tracking_number]
        if parcel_id in final:
            timelines[parcel_id].append(
                ((scan.occurred_at, 1, scan.index), EVENT_KINDS[scan.event].status, scan.index)
            )
    for timeline in timelines.values():
        timeline.sort(key=lambda entry: entry[0])
        walk = timeline_walk(status for _key, status, _index in timeline)
        for (status_before, counts), (_key, _status, index) in zip(walk, timeline, strict=True):
            if index is not None and not counts:
                closed[index] = status_before
    return closed


def _closed_message(status: str) -> str:
    return gettext('The parcel reached its final status "%(status)s" before this scan.') % {
        "status": ParcelStatus(status).label
    }


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


def _rejection(index: int, raw: Any, code: str, message: Any) -> dict[str, Any]:
    scan_id = raw.get("scan_id")
    return {
        "index": index,
        "scan_id": scan_id if isinstance(scan_id, str) else None,
        "code": code,
        "message": str(message),
    }


def scans_parse(raw_scans: list[Any]) -> tuple[list[Scan], list[dict[str, Any]]]:
    scans: list[Scan] = []
    rejected: list[dict[str, Any]] = []
    latest_allowed = timezone.now() + FUTURE_TOLERANCE
    zone = timezone.get_current_timezone()
    for index, raw in enumerate(raw_scans):
        data, errors = scan_validate(raw, zone=zone)
        if data is None:
            problems = flatten_detail(errors)
            message = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(problems.items()))
            rejected.append(_rejection(index, raw, "invalid", message))
            continue
        if data["occurred_at"] > latest_allowed:
            rejected.append(
                _rejection(index, raw, "occurred_in_future", _("The scan time is in the future."))
            )
            continue
        extra: dict[str, Any] = {}
        if data["event"] == "cash_collected":
            if "amount" not in data or "currency" not in data:
                rejected.append(
                    _rejection(
                        index, raw, "invalid", _("cash_collected needs amount and currency.")
                    )
                )
                continue
            extra = {"amount": str(data["amount"]), "currency": data["currency"]}
        problem = _reason_problem(data)
        if problem:
            rejected.append(_rejection(index, raw, "invalid", problem))
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

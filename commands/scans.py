"""Courier scans, with the cash a courier reports collected: the scans'
events (shipping) and the cash in the books (payments) are written in one
transaction."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction

from accounts.models import Courier
from payments.cod.services import cash_collections_record
from shipping.tracking.models import TrackingEvent
from shipping.tracking.scans import Scan, ScanOutcome, scans_record


def courier_scans_report(*, courier: Courier, scans: Sequence[Scan]) -> ScanOutcome:
    try:
        return _report(courier=courier, scans=scans)
    except IntegrityError:
        # A concurrent batch stored one of these scan_ids first: now it is a duplicate.
        return _report(courier=courier, scans=scans)


def _report(*, courier: Courier, scans: Sequence[Scan]) -> ScanOutcome:
    with transaction.atomic():
        outcome = scans_record(courier=courier, scans=scans)
        if outcome.cash_event_ids:
            cash_collections_record(
                events=list(TrackingEvent.objects.filter(id__in=outcome.cash_event_ids))
            )
    return outcome

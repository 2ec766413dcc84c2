"""Trackers that went silent: parcels with no event for 30 days after their
promise become expired."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Max
from django.utils import timezone

from core.locking import locked_transaction
from shipping.fulfilment.models import Parcel, ParcelStatus
from shipping.tracking.events import FINAL_STATUSES
from shipping.tracking.timeline import NewEvent, parcel_events_apply

EXPIRE_AFTER = timedelta(days=30)
# Named rather than "not final": the index parcel_open_by_age (status,
# created_at) then serves the daily run with one range per status.
OPEN_STATUSES = sorted(str(s) for s in ParcelStatus.values if s and s not in FINAL_STATUSES)


def parcels_expire(*, now: datetime | None = None) -> int:
    """Trackers with no event for 30 days after their promise become expired."""
    now = now or timezone.now()
    candidates = (
        Parcel.objects.filter(status__in=OPEN_STATUSES, created_at__lt=now - EXPIRE_AFTER)
        .annotate(last_event_at=Max("events__occurred_at"))
        .values_list("id", "created_at", "promised_max_days", "last_event_at")
    )
    due = [
        parcel_id
        for parcel_id, created_at, max_days, last_event_at in candidates
        if created_at + timedelta(days=max_days) + EXPIRE_AFTER < now
        and (last_event_at is None or last_event_at < now - EXPIRE_AFTER)
    ]
    with locked_transaction():
        parcel_events_apply(
            events=[
                NewEvent(parcel_id=parcel_id, event="expired", occurred_at=now, source="system")
                for parcel_id in due
            ]
        )
    return len(due)

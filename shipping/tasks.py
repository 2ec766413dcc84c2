from celery import shared_task

from shipping.linehaul.departures import lanes_plan
from shipping.tracking.expiry import parcels_expire
from shipping.tracking.timeline import pending_events_apply


@shared_task(name="shipping.lanes_plan", ignore_result=True)
def plan_lanes() -> dict[str, int]:
    return lanes_plan()


@shared_task(name="shipping.parcels_expire", ignore_result=True)
def expire_parcels() -> int:
    return parcels_expire()


@shared_task(name="shipping.pending_events_apply", ignore_result=True)
def apply_pending_events() -> int:
    """Apply recorded courier scans to their parcels. Enqueued after each
    batch commits and run by beat as a sweep; any number may run at once."""
    return pending_events_apply()

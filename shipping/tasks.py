from celery import shared_task

from shipping.lastmile.shipments import (
    carrier_shipment_perform,
    carrier_shipments_run,
    carrier_tracking_poll,
)
from shipping.lastmile.sync import pickup_points_sync
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


@shared_task(name="shipping.carrier_shipment_run", ignore_result=True)
def run_carrier_shipment(shipment_id: int) -> str:
    """Register (or cancel) one parcel with its carrier, after the commit
    that queued it; idempotent: a shipment already answered is skipped."""
    return carrier_shipment_perform(shipment_id=shipment_id)


@shared_task(name="shipping.carrier_shipments_run", ignore_result=True)
def run_carrier_shipments() -> int:
    return carrier_shipments_run()


@shared_task(name="shipping.carrier_tracking_poll", ignore_result=True)
def poll_carrier_tracking() -> dict[str, int]:
    return carrier_tracking_poll()


@shared_task(name="shipping.pickup_points_sync", ignore_result=True)
def sync_pickup_points() -> dict[str, str]:
    return pickup_points_sync()

from datetime import date

from celery import shared_task

from shipping.cod import cod_reconcile, cod_reconcile_recent
from shipping.services import lanes_plan, parcels_expire
from shipping.timeline import pending_events_apply


@shared_task(name="shipping.lanes_plan", ignore_result=True)
def plan_lanes() -> dict[str, int]:
    return lanes_plan()


@shared_task(name="shipping.parcels_expire", ignore_result=True)
def expire_parcels() -> int:
    return parcels_expire()


@shared_task(name="shipping.cod_reconcile", ignore_result=True)
def reconcile_cod(day: str | None = None) -> int:
    """Reconcile couriers' cash: one day (ISO date) or the last two. Re-runs
    rewrite the same rows. Returns the number of flagged rows."""
    if day:
        return sum(row.flagged for row in cod_reconcile(day=date.fromisoformat(day)))
    return cod_reconcile_recent()


@shared_task(name="shipping.pending_events_apply", ignore_result=True)
def apply_pending_events() -> int:
    """Apply recorded courier scans to their parcels. Enqueued after each
    batch commits and run by beat as a sweep; any number may run at once."""
    return pending_events_apply()

from celery import shared_task

from shipping.services import lanes_plan, parcels_expire


@shared_task(name="shipping.lanes_plan", ignore_result=True)
def plan_lanes() -> dict[str, int]:
    return lanes_plan()


@shared_task(name="shipping.parcels_expire", ignore_result=True)
def expire_parcels() -> int:
    return parcels_expire()

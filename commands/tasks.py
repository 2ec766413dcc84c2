from celery import shared_task

from commands.services import orders_expire_unpaid


@shared_task(name="commands.orders_expire_unpaid", ignore_result=True)
def expire_unpaid_orders() -> int:
    return orders_expire_unpaid()

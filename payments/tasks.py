from celery import shared_task

from payments.services import rates_refresh


@shared_task(
    name="payments.rates_refresh",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=300,
    max_retries=6,
)
def refresh_exchange_rates() -> int:
    return len(rates_refresh())

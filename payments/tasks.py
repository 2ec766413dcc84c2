from datetime import date

from celery import shared_task
from django.utils import timezone

from payments.cod.services import cod_reconcile, cod_reconcile_recent
from payments.rates import rates_refresh
from payments.receipts.services import receipts_send
from payments.settlement import payables_release, statements_build_weekly


@shared_task(
    name="payments.rates_refresh",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=300,
    max_retries=6,
)
def refresh_exchange_rates() -> int:
    return len(rates_refresh())


@shared_task(name="payments.payables_release", ignore_result=True)
def release_payables() -> int:
    """Hourly; releasing twice is harmless (one release per order)."""
    return len(payables_release(now=timezone.now()))


@shared_task(name="payments.statements_weekly", ignore_result=True)
def build_weekly_statements() -> int:
    """Monday after the week closes; an issued statement is left as it is."""
    return len(statements_build_weekly(now=timezone.now()))


@shared_task(name="payments.cod_reconcile", ignore_result=True)
def reconcile_cod(day: str | None = None) -> int:
    """Reconcile couriers' cash: one day (ISO date) or the last two. Re-runs
    rewrite the same rows. Returns the number of flagged rows."""
    if day:
        return sum(row.flagged for row in cod_reconcile(day=date.fromisoformat(day)))
    return cod_reconcile_recent()


@shared_task(name="payments.receipts_send", ignore_result=True)
def send_receipts() -> int:
    """Send or check every due fiscal receipt (enqueued after the commits
    that write them; beat every minute). Any number may run at once: each
    receipt is claimed before it is sent."""
    return receipts_send()

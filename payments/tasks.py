from datetime import date, timedelta

import requests
from celery import shared_task
from django.utils import timezone

from payments.card import sandbox_dispatch_send
from payments.cod.services import cod_reconcile, cod_reconcile_recent
from payments.models import SandboxDispatch
from payments.services import rates_refresh
from payments.settlement import payables_release, statements_build_weekly

SANDBOX_MAX_ATTEMPTS = 20


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


@shared_task(
    name="payments.sandbox_notification_deliver",
    ignore_result=True,
    autoretry_for=(requests.RequestException, OSError),
    retry_backoff=5,
    max_retries=6,
)
def sandbox_notification_deliver(dispatch_id: int) -> bool:
    # Idempotent: a delivered notification is skipped, and Amur's receiver
    # ignores a second copy of one it has acted on.
    return sandbox_dispatch_send(dispatch_id=dispatch_id)


@shared_task(name="payments.sandbox_notifications_sweep", ignore_result=True)
def sandbox_notifications_sweep() -> int:
    """Send again what a lost task or a long outage left undelivered."""
    due = SandboxDispatch.objects.filter(
        delivered_at__isnull=True,
        attempts__lt=SANDBOX_MAX_ATTEMPTS,
        created_at__lt=timezone.now() - timedelta(seconds=30),
    ).values_list("id", flat=True)[:500]
    ids = list(due)
    for dispatch_id in ids:
        sandbox_notification_deliver.delay(dispatch_id)
    return len(ids)


@shared_task(name="payments.cod_reconcile", ignore_result=True)
def reconcile_cod(day: str | None = None) -> int:
    """Reconcile couriers' cash: one day (ISO date) or the last two. Re-runs
    rewrite the same rows. Returns the number of flagged rows."""
    if day:
        return sum(row.flagged for row in cod_reconcile(day=date.fromisoformat(day)))
    return cod_reconcile_recent()

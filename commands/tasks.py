from datetime import timedelta

import requests
from celery import shared_task
from django.utils import timezone

from commands.cancel import orders_expire_unpaid
from commands.pay import sandbox_dispatch_send, sbp_payments_expire
from commands.provider_calls import provider_calls_run
from payments.models import SandboxDispatch

SANDBOX_MAX_ATTEMPTS = 20


@shared_task(name="commands.orders_expire_unpaid", ignore_result=True)
def expire_unpaid_orders() -> int:
    """Every minute: SBP payments past their validity, then unpaid orders."""
    return sbp_payments_expire() + orders_expire_unpaid()


@shared_task(name="commands.provider_calls_run", ignore_result=True)
def run_provider_calls(order_id: int | None = None) -> int:
    """Make the provider calls of an order's payments (enqueued after the
    commit that queued them) or, from beat, every call that is due. Any
    number may run at once: each call is claimed before it is made."""
    return provider_calls_run(order_id=order_id)


@shared_task(
    name="commands.sandbox_notification_deliver",
    ignore_result=True,
    autoretry_for=(requests.RequestException, OSError),
    retry_backoff=5,
    max_retries=6,
)
def sandbox_notification_deliver(dispatch_id: int) -> bool:
    # Idempotent: a delivered notification is skipped, and Amur's receiver
    # ignores a second copy of one it has acted on.
    return sandbox_dispatch_send(dispatch_id=dispatch_id)


@shared_task(name="commands.sandbox_notifications_sweep", ignore_result=True)
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

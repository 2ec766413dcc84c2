from celery import shared_task

from core.idempotency import idempotency_keys_purge


@shared_task(name="core.idempotency_purge")
def idempotency_purge() -> int:
    return idempotency_keys_purge()

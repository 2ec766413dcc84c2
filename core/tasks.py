from celery import shared_task
from django.utils import timezone

from core.idempotency import idempotency_keys_purge
from core.partitions import partitions_maintain


@shared_task(name="core.idempotency_purge")
def idempotency_purge() -> int:
    return idempotency_keys_purge()


@shared_task(name="core.partitions_maintain", ignore_result=True)
def partitions_maintain_task() -> dict[str, list[str]]:
    return partitions_maintain(today=timezone.now().date())

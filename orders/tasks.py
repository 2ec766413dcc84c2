from celery import shared_task
from django.utils import timezone

from orders.retention import recipients_anonymise


@shared_task(name="orders.recipients_anonymise", ignore_result=True)
def recipients_anonymise_task() -> int:
    return recipients_anonymise(now=timezone.now())

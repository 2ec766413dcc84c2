from celery import shared_task
from django.utils import timezone

from accounts.services import tokens_expired_purge


@shared_task(name="accounts.tokens_purge", ignore_result=True)
def purge_expired_tokens() -> int:
    """Expired tokens are refused already; this only keeps the table small."""
    return tokens_expired_purge(now=timezone.now())

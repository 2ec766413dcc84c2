"""Personal data retention (152-FZ art. 5(7)): personal data are kept no
longer than their purpose needs. Once an order has been delivered, returned
to sender or cancelled for RECIPIENT_DATA_RETENTION_DAYS (by default three years, the
period in which customs may still audit a release, EAEU Customs Code art.
310), its recipient's name, phone and street are overwritten and its identity
document is deleted. The order, its money and its region stay for the books."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from core.locking import Rank, lock_rows, locked_transaction
from orders.models import Order, OrderRecipientIdentity, OrderStatus

ANONYMISED_NAME = "—"
BATCH = 1000


def recipients_anonymise(*, now: datetime) -> int:
    """Anonymise every order closed before the retention period; returns how
    many. Idempotent: an anonymised order is stamped and not taken again."""
    cutoff = now - timedelta(days=settings.AMUR["RECIPIENT_DATA_RETENTION_DAYS"])
    closed_long_ago = (
        Q(status=OrderStatus.DELIVERED, delivered_at__lt=cutoff)
        | Q(status=OrderStatus.RETURNED, returned_at__lt=cutoff)
        | Q(status=OrderStatus.CANCELLED, cancelled_at__lt=cutoff)
    )
    done = 0
    while True:
        ids = list(
            Order.objects.filter(closed_long_ago, anonymised_at__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)[:BATCH]
        )
        if not ids:
            return done
        with locked_transaction():
            # The orders first, then their identity documents (core.locking).
            locked = [
                order.id
                for order in lock_rows(
                    Order.objects.filter(id__in=ids, anonymised_at__isnull=True),
                    rank=Rank.ORDER,
                )
            ]
            OrderRecipientIdentity.objects.filter(order_id__in=locked).delete()
            done += Order.objects.filter(id__in=locked).update(
                recipient_name=ANONYMISED_NAME,
                recipient_phone="",
                street="",
                anonymised_at=now,
                updated_at=now,
            )

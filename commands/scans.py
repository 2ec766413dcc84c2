"""Courier scans, with the cash a courier reports collected: the scans'
events (shipping) and the cash in the books (payments) are written in one
transaction."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import IntegrityError

from accounts.models import Courier
from core.locking import locked_transaction
from orders.services import order_lock
from payments.cod.services import cash_collections_record
from payments.models import Payment
from payments.services import payment_cod_collect
from shipping.tracking.models import TrackingEvent
from shipping.tracking.scans import Scan, ScanOutcome, scans_record


def courier_scans_report(*, courier: Courier, scans: Sequence[Scan]) -> ScanOutcome:
    try:
        return _report(courier=courier, scans=scans)
    except IntegrityError:
        # A concurrent batch stored one of these scan_ids first: now it is a duplicate.
        return _report(courier=courier, scans=scans)


def _report(*, courier: Courier, scans: Sequence[Scan]) -> ScanOutcome:
    with locked_transaction():
        outcome = scans_record(courier=courier, scans=scans)
        if outcome.cash_event_ids:
            cash_collections_record(
                events=list(TrackingEvent.objects.filter(id__in=outcome.cash_event_ids))
            )
    return outcome


def cash_collect(*, order_id: int, amount: Decimal, currency: str, courier_id: int) -> Payment:
    """Cash collected on delivery for an order, outside a scan (the same
    capture as a cash_collected scan's, without its tracking event)."""
    with locked_transaction():
        order = order_lock(order_id=order_id)
        return payment_cod_collect(
            order=order, amount=amount, currency=currency, courier_id=courier_id
        )

"""Parcels handed to carriers: a CarrierShipment row is written in the
packing transaction; after commit it is claimed with a lease (a conditional
UPDATE), the carrier is called in no transaction, and the answer is written
back. A call that gets no answer is retried with backoff by the beat sweep;
the carrier side is idempotent by the parcel's S10 number.

Carriers' statuses (CDEK's webhooks read back, Russian Post's polled
operations) become tracking events through the same timeline as couriers'
scans, each recorded once under its carrier key (`TrackingEvent.scan_id`)."""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.locking import locked_transaction
from notifications.services import safe_enqueue
from orders.models import PaymentMethod
from shipping.fulfilment.models import Parcel
from shipping.lastmile.carriers import (
    CarrierError,
    ShipmentRequest,
    Tracked,
    carrier_adapter,
)
from shipping.lastmile.models import CarrierShipment, CarrierTicket, PickupPoint, ShipmentStatus
from shipping.tracking.events import FINAL_STATUSES
from shipping.tracking.models import TrackingEvent
from shipping.tracking.timeline import NewEvent, parcel_events_apply

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
)
DUE = (ShipmentStatus.PENDING, ShipmentStatus.CANCEL_PENDING)


def carrier_shipments_queue(*, parcel_ids: Sequence[int], point: PickupPoint) -> list[int]:
    """In the packing transaction: one shipment per parcel, registered with
    the point's carrier after commit."""
    now = timezone.now()
    rows = CarrierShipment.objects.bulk_create(
        [
            CarrierShipment(
                parcel_id=parcel_id, carrier=point.carrier, pickup_point=point, next_attempt_at=now
            )
            for parcel_id in parcel_ids
        ]
    )
    ids = [row.id for row in rows]
    transaction.on_commit(lambda: _enqueue(ids))
    return ids


def _enqueue(ids: Sequence[int]) -> None:
    from shipping.tasks import run_carrier_shipment

    for shipment_id in ids:
        safe_enqueue(functools.partial(run_carrier_shipment.delay, shipment_id))


def _request(shipment: CarrierShipment) -> ShipmentRequest:
    parcel = shipment.parcel
    order = parcel.order
    assert shipment.pickup_point is not None
    value_rub = (parcel.value_cny * order.cny_rub_rate).quantize(Decimal("0.01"))
    # Cash on delivery: the point collects the order's total with its one
    # parcel; orders split into several parcels collect it with the first.
    cod = None
    if order.payment_method == PaymentMethod.COD:
        first = (
            Parcel.objects.filter(order_id=order.id).order_by("id").values_list("id", flat=True)[0]
        )
        cod = order.total_rub if parcel.id == first else Decimal("0.00")
    return ShipmentRequest(
        tracking_number=parcel.tracking_number,
        order_number=order.number,
        point_code=shipment.pickup_point.code,
        recipient_name=order.recipient_name,
        recipient_phone=order.recipient_phone,
        weight_g=parcel.weight_g,
        length_mm=parcel.length_mm,
        width_mm=parcel.width_mm,
        height_mm=parcel.height_mm,
        value_rub=value_rub,
        cod_rub=cod,
    )


def carrier_shipment_perform(*, shipment_id: int) -> str:
    """Make the carrier call a shipment is due for, once: whoever claims the
    row calls, anyone else returns "skipped". Returns the new status."""
    now = timezone.now()
    claimed = (
        CarrierShipment.objects.filter(id=shipment_id, status__in=DUE)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(locked_until=now + LEASE, attempts=F("attempts") + 1)
    )
    if not claimed:
        return "skipped"
    shipment = CarrierShipment.objects.select_related("parcel__order", "pickup_point").get(
        id=shipment_id
    )
    label: bytes | None = None
    try:
        adapter = carrier_adapter(shipment.carrier)
        if shipment.status == ShipmentStatus.CANCEL_PENDING:
            adapter.shipment_cancel(shipment.reference)
            return _answered(shipment, status=ShipmentStatus.CANCELLED)
        registered = adapter.shipment_create(_request(shipment))
    except CarrierError as exc:
        return _failed(shipment, exc)
    try:
        label = adapter.label_get(registered.reference)
    except CarrierError as exc:
        # Registered all the same: Amur's own label shows the point, and
        # the carrier's can be fetched again from the admin.
        logger.warning("carrier label for shipment %s: %s", shipment.id, exc)
    if registered.carrier_number:
        Parcel.objects.filter(id=shipment.parcel_id).exclude(
            carrier_number=registered.carrier_number
        ).update(carrier_number=registered.carrier_number)
    return _answered(
        shipment,
        status=ShipmentStatus.REGISTERED,
        reference=registered.reference,
        label_pdf=label,
    )


def _answered(shipment: CarrierShipment, *, status: str, **fields: object) -> str:
    CarrierShipment.objects.filter(id=shipment.id).update(
        status=status, locked_until=None, next_attempt_at=None, last_error="", **fields
    )
    return status


def _failed(shipment: CarrierShipment, exc: CarrierError) -> str:
    logger.warning("carrier call for shipment %s failed: %s", shipment.id, exc)
    if not exc.retry:
        CarrierShipment.objects.filter(id=shipment.id).update(
            status=ShipmentStatus.FAILED, locked_until=None, last_error=str(exc)[:500]
        )
        return ShipmentStatus.FAILED
    wait = BACKOFF[min(shipment.attempts, len(BACKOFF) - 1)]
    CarrierShipment.objects.filter(id=shipment.id).update(
        locked_until=None, next_attempt_at=timezone.now() + wait, last_error=str(exc)[:500]
    )
    return shipment.status


def carrier_shipments_run() -> int:
    """The sweep: every shipment whose call is due. Returns how many ran."""
    now = timezone.now()
    due = list(
        CarrierShipment.objects.filter(status__in=DUE, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:500]
    )
    for shipment_id in due:
        carrier_shipment_perform(shipment_id=shipment_id)
    return len(due)


def carrier_statuses_ingest(*, shipment: CarrierShipment, tracked: Tracked) -> int:
    """Record the statuses not seen before as the parcel's tracking events,
    in timeline order, and the carrier's number if it has one now. Returns
    how many were new."""
    if tracked.carrier_number:
        Parcel.objects.filter(id=shipment.parcel_id).exclude(
            carrier_number=tracked.carrier_number
        ).update(carrier_number=tracked.carrier_number)
    for _attempt in range(2):
        keys = {_scan_id(s.key): s for s in tracked.statuses}
        seen = set(
            TrackingEvent.objects.filter(scan_id__in=list(keys)).values_list("scan_id", flat=True)
        )
        new = [s for key, s in keys.items() if key not in seen]
        if not new:
            return 0
        try:
            with locked_transaction():
                parcel_events_apply(
                    events=[
                        NewEvent(
                            parcel_id=shipment.parcel_id,
                            event=s.event,
                            occurred_at=s.occurred_at,
                            source=TrackingEvent.Source.CARRIER,
                            location=s.location,
                            scan_id=_scan_id(s.key),
                            data={"carrier": shipment.carrier, "carrier_status": s.code}
                            | ({"reason": s.reason} if s.reason else {}),
                        )
                        for s in sorted(new, key=lambda s: s.occurred_at)
                    ]
                )
        except IntegrityError:
            # The same statuses recorded meanwhile (a webhook and a poll at
            # once): read what is left again.
            continue
        CarrierShipment.objects.filter(id=shipment.id).update(tracked_at=timezone.now())
        return len(new)
    return 0


def _scan_id(key: str) -> str:
    """A carrier status's key as a tracking event's scan id: hashed, as the
    carriers' keys (an order uuid, a status code, a time) run past its 64
    characters, and prefixed so no courier's scan id can take it."""
    return "carrier:" + hashlib.sha256(key.encode()).hexdigest()[:56]


def _open_shipments(carrier: str) -> list[CarrierShipment]:
    return list(
        CarrierShipment.objects.filter(carrier=carrier, status=ShipmentStatus.REGISTERED)
        .exclude(parcel__status__in=FINAL_STATUSES)
        .select_related("parcel")
        .order_by("id")
    )


def carrier_tracking_poll() -> dict[str, int]:
    """Read the open shipments' statuses from each carrier: CDEK order by
    order (its webhooks may have been missed), Russian Post by batch ticket
    (one parcel: the single service). Returns the new events per carrier."""
    counts = {"cdek": 0, "russian_post": 0}
    cdek = _open_shipments("cdek")
    if cdek:
        try:
            adapter = carrier_adapter("cdek")
            for shipment in cdek:
                tracked = adapter.track([shipment.reference])[shipment.reference]
                counts["cdek"] += carrier_statuses_ingest(shipment=shipment, tracked=tracked)
        except CarrierError as exc:
            logger.warning("CDEK tracking poll: %s", exc)
    try:
        counts["russian_post"] = _russian_post_poll()
    except CarrierError as exc:
        logger.warning("Russian Post tracking poll: %s", exc)
    return counts


def _russian_post_poll() -> int:
    from shipping.lastmile.carriers.russian_post import RussianPostAdapter

    open_shipments = {s.reference: s for s in _open_shipments("russian_post")}
    open_tickets = list(CarrierTicket.objects.filter(carrier="russian_post", answered_at=None))
    if not open_shipments and not open_tickets:
        return 0
    adapter = carrier_adapter("russian_post")
    assert isinstance(adapter, RussianPostAdapter)
    new = 0
    # Numbers in a ticket still being prepared, or just read: not asked again.
    waiting: set[str] = set()
    for ticket in open_tickets:
        answer = adapter.ticket_answer(ticket.ticket)
        waiting.update(ticket.numbers)
        if answer is None:
            continue
        for number, statuses in answer.items():
            shipment = open_shipments.get(number)
            if shipment is not None:
                new += carrier_statuses_ingest(shipment=shipment, tracked=Tracked(number, statuses))
        CarrierTicket.objects.filter(id=ticket.id).update(answered_at=timezone.now())
    due = [n for n in open_shipments if n not in waiting]
    if len(due) == 1:
        (number,) = due
        tracked = adapter.track([number])[number]
        new += carrier_statuses_ingest(shipment=open_shipments[number], tracked=tracked)
    elif due:
        ticket_id = adapter.ticket_request(due)
        CarrierTicket.objects.create(carrier="russian_post", ticket=ticket_id, numbers=due)
    return new


def cdek_notification_receive(*, uuid: str) -> int | None:
    """A CDEK ORDER_STATUS webhook: the order read back from CDEK (a return
    order names the direct one it brings back), its statuses recorded.
    Returns how many were new, None when no shipment of ours has it."""
    from shipping.lastmile.carriers.cdek import CdekAdapter, direct_order_uuid, statuses_map

    adapter = CdekAdapter()
    try:
        entity = adapter.order_read(uuid)
    except CarrierError as exc:
        if not exc.retry:
            return None
        raise
    shipment = CarrierShipment.objects.filter(
        carrier="cdek", reference=direct_order_uuid(entity)
    ).first()
    if shipment is None:
        return None
    number = "" if entity.get("is_return") else str(entity.get("cdek_number") or "")
    return carrier_statuses_ingest(shipment=shipment, tracked=Tracked(number, statuses_map(entity)))

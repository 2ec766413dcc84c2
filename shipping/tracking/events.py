"""The tracking event catalogue: what each scan or departure event means for
the buyer's status, and its UPU EMSEVT code where one exists."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import TextChoices

from core.statemachine import TransitionTable
from shipping.customs.models import CustomsHoldReason
from shipping.fulfilment.models import ParcelStatus
from shipping.tracking.models import DeliveryFailureReason

PS = ParcelStatus


@dataclass(frozen=True)
class EventKind:
    code: str
    status: str  # "" when the event does not change the buyer's status
    emsevt: str
    courier_may_send: bool = True
    # The reasons a scan of this kind must give (None: it takes no reason).
    reasons: type[TextChoices] | None = None


EVENT_KINDS: dict[str, EventKind] = {
    kind.code: kind
    for kind in (
        EventKind("label_created", PS.INFO_RECEIVED, "", courier_may_send=False),
        EventKind("accepted", PS.INFO_RECEIVED, "EMA"),
        EventKind("loaded", "", "EMB"),
        EventKind("departed", PS.IN_TRANSIT, "EMC"),
        EventKind("arrived", PS.IN_TRANSIT, "EMD"),
        EventKind("customs_presented", PS.IN_CUSTOMS, "EDB"),
        EventKind("customs_held", PS.CUSTOMS_HELD, "EME", reasons=CustomsHoldReason),
        EventKind("customs_released", PS.IN_TRANSIT, "EMF"),
        EventKind("arrived_delivery_office", PS.IN_TRANSIT, "EMG"),
        EventKind("out_for_delivery", PS.OUT_FOR_DELIVERY, "EDG"),
        EventKind("delivery_failed", PS.DELIVERY_FAILED, "EMH", reasons=DeliveryFailureReason),
        EventKind("available_for_pickup", PS.AVAILABLE_FOR_PICKUP, ""),
        EventKind("delivered", PS.DELIVERED, "EMI"),
        EventKind("returned", PS.RETURNED, ""),
        EventKind("exception", PS.EXCEPTION, ""),
        EventKind("cash_collected", "", ""),
        EventKind("departure_cancelled", "", "", courier_may_send=False),
        EventKind("expired", PS.EXPIRED, "", courier_may_send=False),
    )
}
CASH_COLLECTED = "cash_collected"
REASONED_EVENTS = frozenset(code for code, kind in EVENT_KINDS.items() if kind.reasons)
# Every reason code any event takes (the scan field's choices).
EVENT_REASONS = sorted({r for kind in EVENT_KINDS.values() if kind.reasons for r in kind.reasons})


def reason_label(event: str, reason: str) -> str:
    """The reason's label in the active language ("" for none or unknown)."""
    choices = EVENT_KINDS[event].reasons if event in EVENT_KINDS else None
    if not reason or choices is None or reason not in choices.values:
        return ""
    return str(choices(reason).label)


# A refused cash-on-delivery order counts against the buyer: after enough of
# them, checkout offers cash on delivery only up to a limit.
REFUSED = DeliveryFailureReason.REFUSED.value
COURIER_EVENTS = sorted(code for code, kind in EVENT_KINDS.items() if kind.courier_may_send)
# Statuses that mean the parcel has left the warehouse for the buyer.
SHIPPED_STATUSES = frozenset(
    {
        PS.IN_TRANSIT,
        PS.IN_CUSTOMS,
        PS.CUSTOMS_HELD,
        PS.OUT_FOR_DELIVERY,
        PS.DELIVERY_FAILED,
        PS.AVAILABLE_FOR_PICKUP,
        PS.DELIVERED,
    }
)
# Statuses the buyer is told about by e-mail.
EMAIL_STATUSES = frozenset({PS.IN_TRANSIT, PS.CUSTOMS_HELD, PS.OUT_FOR_DELIVERY, PS.DELIVERED})


# Statuses after which the timeline is closed to the buyer: after delivered
# only an explicit return counts; returned and expired take nothing more.
FINAL_STATUSES = frozenset({PS.DELIVERED, PS.RETURNED, PS.EXPIRED})


def comes_too_late(status: str, event_status: str) -> bool:
    """Whether an event of `event_status` comes after the final event of a
    timeline that has folded to `status` so far: it changes nothing for the
    buyer and is not shown to them. Events without a status never do."""
    if not event_status or status not in FINAL_STATUSES:
        return False
    return not (status == PS.DELIVERED and event_status == PS.RETURNED)


def timeline_walk(statuses_in_time_order: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """For each event of a timeline, the buyer's status just before it and
    whether the event counts (False: it comes after the final event)."""
    status: str = PS.INFO_RECEIVED
    for event_status in statuses_in_time_order:
        late = comes_too_late(status, event_status)
        yield status, not late
        if event_status and not late:
            status = event_status


def timeline_counted(statuses_in_time_order: Iterable[str]) -> list[bool]:
    """Which events of a timeline count for the buyer's status and are shown
    to them."""
    return [counts for _status, counts in timeline_walk(statuses_in_time_order)]


# The moves the fold may make: anything while the parcel travels; from
# delivered only to returned; never out of returned. Expired is the system's
# guess after a long silence: a delivery or return scanned before it and
# uploaded late overrules it. A new parcel has no status until its
# label_created event.
PARCEL_TRANSITIONS = TransitionTable.build(
    "parcel",
    {
        "": set(PS.values),
        **{
            status: set(PS.values) - {status}
            for status in PS.values
            if status not in FINAL_STATUSES
        },
        PS.DELIVERED: {PS.RETURNED},
        PS.EXPIRED: {PS.DELIVERED, PS.RETURNED},
    },
)


def status_fold(statuses_in_time_order: Iterable[str]) -> str:
    """The buyer's status after a timeline of event statuses.

    Delivered leaves only by an explicit return; returned and expired are final."""
    status: str = PS.INFO_RECEIVED
    for event_status in statuses_in_time_order:
        if event_status and not comes_too_late(status, event_status):
            status = event_status
    return status

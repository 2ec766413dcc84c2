"""Staff resolve a customs hold (a courier's `customs_held` scan):
`parcel_customs_release` adds a `customs_released` event (the parcel is in
transit again), `parcel_customs_return` a `returned` event with the reason
"customs" (refused by customs, back to the sender)."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, Forbidden, NotFound
from core.locking import locked_transaction
from core.tenancy import user_is_operator_staff
from shipping.fulfilment.models import Parcel, ParcelStatus
from shipping.tracking.models import TrackingEvent
from shipping.tracking.timeline import NewEvent, parcel_events_apply, parcels_lock


class ParcelNotHeld(Conflict):
    code = "parcel_not_customs_held"
    default_message = _("The parcel is not held by customs.")


# --- Holds ---------------------------------------------------------------------


def parcel_customs_release(*, parcel_id: int, actor_id: int) -> Parcel:
    """Operator staff release a parcel held by customs: it is in transit again."""
    return _hold_resolve(parcel_id=parcel_id, actor_id=actor_id, event="customs_released", data={})


def parcel_customs_return(*, parcel_id: int, actor_id: int) -> Parcel:
    """Operator staff record that customs refused a held parcel: it goes back
    to the sender (returned, reason "customs")."""
    return _hold_resolve(
        parcel_id=parcel_id, actor_id=actor_id, event="returned", data={"reason": "customs"}
    )


def _hold_resolve(*, parcel_id: int, actor_id: int, event: str, data: dict[str, str]) -> Parcel:
    _check_operator_staff(actor_id)
    with locked_transaction():
        # The parcel's order first, then the parcel (core.locking).
        locked = parcels_lock(parcel_ids=[parcel_id])
        if not locked:
            raise NotFound()
        parcel = locked[0]
        if parcel.status != ParcelStatus.CUSTOMS_HELD:
            raise ParcelNotHeld(extra={"status": parcel.status})
        hold = (
            TrackingEvent.objects.filter(parcel=parcel, event="customs_held")
            .order_by("-occurred_at", "-id")
            .first()
        )
        parcel_events_apply(
            events=[
                NewEvent(
                    parcel_id=parcel.id,
                    event=event,
                    occurred_at=timezone.now(),
                    source=TrackingEvent.Source.SYSTEM,
                    location=hold.location if hold else "",
                    data={**data, "actor_id": actor_id},
                )
            ]
        )
    return Parcel.objects.get(id=parcel_id)


def _check_operator_staff(actor_id: int) -> None:
    if not user_is_operator_staff(user_id=actor_id):
        raise Forbidden(_("Only operator staff may resolve a customs hold."))

"""The shipping app's models live in its packages; importing them here
registers them with the app."""

from shipping.customs.models import CustomsHoldReason, DutyRule
from shipping.fulfilment.models import (
    Parcel,
    ParcelLine,
    ParcelStatus,
    TrackingSeries,
    UnassignedReason,
)
from shipping.lastmile.models import CarrierShipment, CarrierTicket, OrderDelivery, PickupPoint
from shipping.linehaul.models import (
    Departure,
    DepartureEvent,
    DepartureStatus,
    Lane,
    LaneRegion,
    Transfer,
    TransferEvent,
    TransferLine,
    TransferStatus,
)
from shipping.returns.models import Return, ReturnEvent, ReturnKind, ReturnLine, ReturnStatus
from shipping.tracking.models import DeliveryFailureReason, PendingEvent, TrackingEvent

__all__ = [
    "CarrierShipment",
    "CarrierTicket",
    "CustomsHoldReason",
    "DeliveryFailureReason",
    "Departure",
    "DepartureEvent",
    "DepartureStatus",
    "DutyRule",
    "Lane",
    "LaneRegion",
    "OrderDelivery",
    "Parcel",
    "ParcelLine",
    "ParcelStatus",
    "PendingEvent",
    "PickupPoint",
    "Return",
    "ReturnEvent",
    "ReturnKind",
    "ReturnLine",
    "ReturnStatus",
    "TrackingEvent",
    "TrackingSeries",
    "Transfer",
    "TransferEvent",
    "TransferLine",
    "TransferStatus",
    "UnassignedReason",
]

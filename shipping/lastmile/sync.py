"""The nightly sync of the pickup point directory through the carriers'
adapters (beat task `shipping.pickup_points_sync`)."""

from __future__ import annotations

import logging

from shipping.lastmile.carriers import CarrierError, CarrierNotConfigured, carrier_adapter
from shipping.lastmile.models import Carrier
from shipping.lastmile.services import pickup_points_load

logger = logging.getLogger(__name__)


def pickup_points_sync() -> dict[str, str]:
    """Each carrier's whole list: new points created, known ones updated,
    those it no longer lists deactivated. A carrier without credentials or
    without a directory service is left as it is."""
    outcome: dict[str, str] = {}
    for carrier in Carrier.values:
        try:
            adapter = carrier_adapter(carrier)
            points = adapter.pickup_points_list()
        except CarrierNotConfigured:
            outcome[carrier] = "not configured"
            continue
        except CarrierError as exc:
            logger.warning("pickup points of %s: %s", carrier, exc)
            outcome[carrier] = f"failed: {exc}"
            continue
        if points is None:
            outcome[carrier] = "no directory service"
            continue
        loaded = pickup_points_load(points=points, carrier=carrier)
        outcome[carrier] = (
            f"{loaded.created} created, {loaded.updated} updated, {loaded.deactivated} deactivated"
        )
    return outcome

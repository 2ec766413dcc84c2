"""What stock movements say of why they moved: written in English for
operators (and searched so in the admin), read by merchants in their own
language. The writers build their texts here, so the readers can tell them
apart; a note typed by staff is shown as written."""

from __future__ import annotations

import re

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.labels import label_of
from orders.reasons import EVENT_REASONS

DEMO_OPENING_STOCK = "demo opening stock"
_FIXED = {**EVENT_REASONS, DEMO_OPENING_STOCK: _("Opening stock of the demo")}
_RETURN = re.compile(r"return (?P<number>\S+)")
_TRANSFER = re.compile(r"transfer (?P<id>\d+)")
_SHORT = re.compile(
    r"transfer (?P<id>\d+) short by (?P<quantity>\d+):(?: (?P<note>.*))?", re.DOTALL
)


def return_movement_reason(number: str) -> str:
    return f"return {number}"


def transfer_movement_reason(transfer_id: int) -> str:
    return f"transfer {transfer_id}"


def shortfall_movement_reason(reason: str, quantity: int, note: str) -> str:
    """A transfer's units that did not arrive, with the receiver's note."""
    return f"{reason} short by {quantity}: {note}".strip()


def movement_reason_label(reason: str) -> str:
    """A movement's reason in the active language."""
    if match := _RETURN.fullmatch(reason):
        return gettext("Return %(number)s") % match.groupdict()
    if match := _TRANSFER.fullmatch(reason):
        return gettext("Transfer %(id)s") % match.groupdict()
    if match := _SHORT.fullmatch(reason):
        parts = match.groupdict()
        if parts["note"]:
            return gettext("Transfer %(id)s: %(quantity)s short (%(note)s)") % parts
        return gettext("Transfer %(id)s: %(quantity)s short") % parts
    return label_of(_FIXED, reason, otherwise=reason)

"""The reasons commands record on order events and on the stock they move,
in English for operators and webhooks, as people read them. One not listed
(a note typed by staff) is shown as recorded."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.labels import label_of

EVENT_REASONS = {
    "cash on delivery": _("Cash on delivery chosen"),
    "card captured": _("Paid by card"),
    "stock reserved": _("Goods reserved in the warehouse"),
    "cancelled by buyer": _("Cancelled by the buyer"),
    "payment not received in time": _("Not paid in time"),
    "held for review": _("Held for review"),
    "approved on review": _("Approved on review"),
    "rejected on review": _("Rejected on review"),
}


def event_reason_label(reason: str) -> str:
    """A recorded reason in the active language."""
    return label_of(EVENT_REASONS, reason, otherwise=reason)

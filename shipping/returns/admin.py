from __future__ import annotations

from core.admin_base import MerchantScopedAdmin, ReadOnlyAdmin, ReadOnlyInline
from shipping.returns.models import ReturnEvent, ReturnLine


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = ("line", "quantity", "restocked", "written_off")
    readonly_fields = fields


class ReturnEventInline(ReadOnlyInline):
    model = ReturnEvent
    fields = ("sequence", "from_status", "to_status", "actor", "reason", "created_at")
    readonly_fields = fields


class ReturnAdmin(ReadOnlyAdmin, MerchantScopedAdmin):
    """Returns, each merchant's staff seeing those holding its goods. The
    decisions are actions (registered with the commands, commands/admin.py)."""

    merchant_lookup = "lines__line__merchant"
    list_display = (
        "number",
        "order",
        "kind",
        "status",
        "tracking_number",
        "warehouse",
        "refund_amount",
        "created_at",
    )
    list_filter = ("status", "kind")
    search_fields = ("number", "order__number", "tracking_number")
    list_select_related = ("order", "warehouse")
    inlines = [ReturnLineInline, ReturnEventInline]
    readonly_fields = (
        "number",
        "order",
        "kind",
        "status",
        "reason",
        "parcel",
        "tracking_number",
        "carrier",
        "warehouse",
        "decision_note",
        "refund_amount",
        "created_at",
        "decided_at",
        "shipped_at",
        "received_at",
        "closed_at",
    )

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.api import StrictSerializer
from core.labels import label_of
from shipping.returns.models import SYSTEM_REASONS, Return, ReturnEvent, ReturnLine


class ReturnLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="line.sku")
    name = serializers.CharField(source="line.name")

    class Meta:
        model = ReturnLine
        fields = ["sku", "name", "quantity", "restocked", "written_off"]


def return_reason_label(reason: str) -> str:
    """A recorded reason as the buyer reads it: Amur's own in the active
    language, people's words as they wrote them."""
    return label_of(SYSTEM_REASONS, reason, otherwise=reason)


class ReturnEventSerializer(serializers.ModelSerializer):
    reason_label = serializers.SerializerMethodField(help_text="In the request's language.")

    class Meta:
        model = ReturnEvent
        fields = ["sequence", "from_status", "to_status", "reason", "reason_label", "created_at"]

    def get_reason_label(self, event: ReturnEvent) -> str:
        return return_reason_label(event.reason)


class ReturnSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    warehouse = serializers.SerializerMethodField()
    refund = serializers.SerializerMethodField()
    lines = ReturnLineSerializer(many=True)
    events = ReturnEventSerializer(many=True)
    reason_label = serializers.SerializerMethodField(help_text="In the request's language.")

    class Meta:
        model = Return
        fields = [
            "number",
            "order",
            "kind",
            "status",
            "reason",
            "reason_label",
            "tracking_number",
            "carrier",
            "warehouse",
            "refund",
            "decision_note",
            "lines",
            "events",
            "created_at",
        ]

    def get_reason_label(self, ret: Return) -> str:
        return return_reason_label(ret.reason)

    def get_warehouse(self, ret: Return) -> str | None:
        return ret.warehouse.code if ret.warehouse else None

    def get_refund(self, ret: Return) -> dict[str, Any] | None:
        if ret.refund_amount is None:
            return None
        return {"amount": str(ret.refund_amount), "currency": ret.currency}


class ReturnLineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000)


class ReturnInputSerializer(StrictSerializer):
    # ListSerializer takes max_length (DRF >= 3.14); the stubs do not know it.
    lines = ReturnLineInputSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=200
    )
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class ReturnDecisionInputSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class ReturnShipInputSerializer(StrictSerializer):
    tracking_number = serializers.CharField(max_length=40)
    carrier = serializers.CharField(max_length=40, required=False, default="", allow_blank=True)


class ReceivedLineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    restocked = serializers.IntegerField(min_value=0, max_value=10_000)
    written_off = serializers.IntegerField(min_value=0, max_value=10_000)


class ReturnReceiveInputSerializer(StrictSerializer):
    warehouse = serializers.CharField(max_length=8)
    # Left out: every unit restocked.
    lines = ReceivedLineInputSerializer(  # type: ignore[call-arg]
        many=True, required=False, max_length=200
    )

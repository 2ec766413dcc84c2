from __future__ import annotations

from rest_framework import serializers

from core.api import StrictSerializer
from shipping.fulfilment.models import UnassignedReason
from shipping.linehaul.models import Departure, DepartureStatus, Transfer, TransferLine


class PlanUnassignedSerializer(serializers.Serializer):
    tracking_number = serializers.CharField()
    reason = serializers.ChoiceField(choices=UnassignedReason.choices)
    message = serializers.CharField()


class PlanResultSerializer(serializers.Serializer):
    assigned = serializers.IntegerField()
    unassigned = PlanUnassignedSerializer(many=True)


class DepartureSerializer(serializers.ModelSerializer):
    lane = serializers.CharField(source="lane.code")

    class Meta:
        model = Departure
        fields = [
            "id",
            "lane",
            "number",
            "scheduled_at",
            "cutoff_at",
            "capacity_kg",
            "capacity_m3",
            "capacity_pieces",
            "status",
        ]


class DepartureStatusInputSerializer(StrictSerializer):
    status = serializers.ChoiceField(
        choices=[s for s in DepartureStatus.values if s != DepartureStatus.SCHEDULED]
    )
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


TRANSFER_MAX_LINES = 500


TRANSFER_MAX_QUANTITY = 100_000


class TransferLineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=TRANSFER_MAX_QUANTITY)


class TransferInputSerializer(StrictSerializer):
    origin = serializers.CharField(max_length=8, help_text="Warehouse code, e.g. HRB")
    destination = serializers.CharField(max_length=8, help_text="Warehouse code, e.g. SVX")
    departure = serializers.IntegerField(min_value=1)
    # ListSerializer takes max_length (DRF >= 3.14); the stubs do not know it.
    lines = TransferLineInputSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=TRANSFER_MAX_LINES
    )


class TransferReceiveLineSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity_received = serializers.IntegerField(min_value=0, max_value=TRANSFER_MAX_QUANTITY)
    reason = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when fewer units arrived than were sent.",
    )


class TransferReceiveInputSerializer(StrictSerializer):
    lines = TransferReceiveLineSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=TRANSFER_MAX_LINES
    )


class TransferCancelInputSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class TransferLineSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku")
    shortfall = serializers.IntegerField()

    class Meta:
        model = TransferLine
        fields = ["sku", "quantity_sent", "quantity_received", "shortfall", "shortfall_reason"]


class TransferSerializer(serializers.ModelSerializer):
    origin = serializers.CharField(source="origin.code")
    destination = serializers.CharField(source="destination.code")
    departure = serializers.IntegerField(source="departure_id")
    lines = TransferLineSerializer(many=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "origin",
            "destination",
            "departure",
            "status",
            "created_at",
            "dispatched_at",
            "received_at",
            "lines",
        ]

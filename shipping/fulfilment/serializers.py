from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from core.api import StrictSerializer
from shipping.fulfilment.models import Parcel


class PackLineSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=settings.AMUR["MAX_LINE_QUANTITY"])


class PackParcelSerializer(StrictSerializer):
    warehouse = serializers.CharField(max_length=8)
    lines = PackLineSerializer(many=True, allow_empty=False)
    weight_g = serializers.IntegerField(min_value=1, max_value=100_000)
    length_mm = serializers.IntegerField(min_value=1, max_value=3000)
    width_mm = serializers.IntegerField(min_value=1, max_value=3000)
    height_mm = serializers.IntegerField(min_value=1, max_value=3000)


class PackInputSerializer(StrictSerializer):
    # ListSerializer takes max_length (DRF >= 3.14); the stubs do not know it.
    parcels = PackParcelSerializer(  # type: ignore[call-arg]
        many=True, required=False, allow_empty=False, max_length=100
    )
    override_reason = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        default="",
        help_text="Accept measured weights outside the tolerance (operator staff).",
    )


class ParcelSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    lane = serializers.CharField(source="lane.code")
    warehouse = serializers.CharField(source="warehouse.code")
    departure = serializers.IntegerField(source="departure_id", allow_null=True)

    class Meta:
        model = Parcel
        fields = [
            "tracking_number",
            "order",
            "status",
            "warehouse",
            "lane",
            "departure",
            "weight_g",
            "expected_weight_g",
            "weight_override_reason",
            "length_mm",
            "width_mm",
            "height_mm",
            "unassigned_reason",
        ]

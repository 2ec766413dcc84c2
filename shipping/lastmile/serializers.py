from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api import StrictSerializer
from shipping.lastmile.models import Carrier, PickupPoint, PointKind
from shipping.lastmile.selectors import MAX_RADIUS_KM, Near


class PickupPointLimitsSerializer(serializers.Serializer):
    max_weight_g = serializers.IntegerField(allow_null=True)
    cell_mm = serializers.ListField(child=serializers.IntegerField(), allow_null=True)


class PickupPointSerializer(serializers.Serializer):
    code = serializers.CharField()
    carrier = serializers.ChoiceField(choices=Carrier.choices)
    kind = serializers.ChoiceField(choices=PointKind.choices)
    name = serializers.CharField()
    region = serializers.CharField()
    city = serializers.CharField()
    postcode = serializers.CharField()
    address = serializers.CharField()
    latitude = serializers.CharField()
    longitude = serializers.CharField()
    fias_id = serializers.UUIDField(allow_null=True)
    opening_hours = serializers.CharField()
    limits = PickupPointLimitsSerializer()
    cash_allowed = serializers.BooleanField()
    distance_km = serializers.FloatField(required=False, allow_null=True)


def pickup_point_data(point: PickupPoint, distance_km: float | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": point.code,
        "carrier": point.carrier,
        "kind": point.kind,
        "name": point.name,
        "region": point.region,
        "city": point.city,
        "postcode": point.postcode,
        "address": point.address,
        "latitude": str(point.latitude),
        "longitude": str(point.longitude),
        "fias_id": str(point.fias_id) if point.fias_id else None,
        "opening_hours": point.opening_hours,
        "limits": {
            "max_weight_g": point.max_weight_g,
            "cell_mm": list(point.cell_mm) if point.cell_mm else None,
        },
        "cash_allowed": point.cash_allowed,
    }
    if distance_km is not None:
        data["distance_km"] = distance_km
    return data


class PickupPointQuerySerializer(StrictSerializer):
    # An empty parameter (`?city=`) is as good as none: a form may send it.
    city = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    postcode = serializers.RegexField(r"^\d{6}$", required=False, allow_blank=True, default="")
    near = serializers.RegexField(
        r"^-?\d{1,3}(\.\d+)?,-?\d{1,3}(\.\d+)?$",
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text="latitude,longitude in degrees, e.g. 56.838,60.605",
    )
    radius_km = serializers.FloatField(
        min_value=0.1, max_value=MAX_RADIUS_KM, required=False, default=5
    )
    carrier = serializers.ChoiceField(
        choices=Carrier.choices, required=False, allow_blank=True, default=""
    )
    kind = serializers.ChoiceField(
        choices=PointKind.choices, required=False, allow_blank=True, default=""
    )
    page = serializers.IntegerField(min_value=1, required=False)
    page_size = serializers.IntegerField(min_value=1, max_value=100, required=False)

    def validate_near(self, value: str) -> Near | None:
        if not value:
            return None
        try:
            lat_text, lon_text = value.split(",")
            lat, lon = float(lat_text), float(lon_text)
        except ValueError:
            raise serializers.ValidationError(_("Give latitude,longitude in degrees.")) from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise serializers.ValidationError(_("Give latitude,longitude in degrees."))
        return Near(lat, lon, 0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        near = attrs["near"]
        if near is not None:
            attrs["near"] = Near(near.latitude, near.longitude, attrs["radius_km"])
        return attrs

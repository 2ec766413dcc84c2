"""Customs and manifest endpoints for operator staff: a parcel's CN 23
declaration, and a closed departure's manifest as JSON, CSV and PDF."""

from __future__ import annotations

import re

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import CSV, PDF, csv_response, error_responses, pdf_response
from core.errors import NotFound
from core.permissions import IsOperatorStaff
from shipping.customs.declarations import customs_declaration
from shipping.fulfilment.models import Parcel
from shipping.linehaul.manifests import (
    Manifest,
    departure_manifest,
    manifest_cargo_csv,
    manifest_pdf,
    manifest_registry_csv,
)

ERRORS = error_responses(403, 404, 409, 422)


def manifest_filename(manifest: Manifest, tail: str) -> str:
    """manifest-<departure number><tail>, safe in a Content-Disposition header."""
    number = re.sub(r"[^A-Za-z0-9._-]", "_", manifest.departure.number)
    return f"manifest-{number}{tail}"


def _kg() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=None, decimal_places=3)


def _money(allow_null: bool = False) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=None, decimal_places=2, allow_null=allow_null)


class DeclarationItemSerializer(serializers.Serializer):
    sku = serializers.CharField()
    description_ru = serializers.CharField()
    description_zh = serializers.CharField()
    quantity = serializers.IntegerField()
    net_weight_kg = _kg()
    value = _money()
    currency = serializers.CharField()
    hs_code = serializers.CharField()
    origin_country = serializers.CharField()
    product_url = serializers.CharField()


class IdentityDocumentSerializer(serializers.Serializer):
    """The recipient's passport and INN in full: these documents go to customs."""

    passport_series = serializers.CharField()
    passport_number = serializers.CharField()
    passport_issued_on = serializers.DateField()
    birth_date = serializers.DateField()
    inn = serializers.CharField()


class DeclarationMerchantSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_zh = serializers.CharField()


class SenderSerializer(serializers.Serializer):
    name = serializers.CharField()
    merchants = DeclarationMerchantSerializer(many=True)
    warehouse_code = serializers.CharField()
    warehouse_name = serializers.CharField()
    address = serializers.CharField()
    city = serializers.CharField()
    country = serializers.CharField()


class AddresseeSerializer(serializers.Serializer):
    name = serializers.CharField()
    phone = serializers.CharField()
    street = serializers.CharField()
    city = serializers.CharField()
    postcode = serializers.CharField()
    region = serializers.CharField()
    region_name = serializers.CharField()
    country = serializers.CharField()
    address = serializers.CharField()
    identity = IdentityDocumentSerializer(allow_null=True)


class DeclarationSerializer(serializers.Serializer):
    tracking_number = serializers.CharField()
    order_number = serializers.CharField()
    category = serializers.CharField()
    sender = SenderSerializer()
    addressee = AddresseeSerializer()
    items = DeclarationItemSerializer(many=True)
    currency = serializers.CharField()
    total_quantity = serializers.IntegerField()
    total_value = _money()
    total_net_weight_kg = _kg()
    gross_weight_kg = _kg()
    duty_eur = _money(allow_null=True)
    duty_rub = _money(allow_null=True)


class DepartureInfoSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()
    lane = serializers.CharField()
    lane_name = serializers.CharField()
    carrier = serializers.CharField()
    mode = serializers.CharField()
    origin_hub = serializers.CharField()
    destination_hub = serializers.CharField()
    scheduled_at = serializers.DateTimeField()


class DestinationSerializer(serializers.Serializer):
    region = serializers.CharField()
    region_name = serializers.CharField()
    pieces = serializers.IntegerField()
    gross_weight_kg = _kg()
    volume_m3 = _kg()


class CargoManifestSerializer(serializers.Serializer):
    pieces = serializers.IntegerField()
    gross_weight_kg = _kg()
    volume_m3 = _kg()
    destinations = DestinationSerializer(many=True)


class RegistryEntrySerializer(serializers.Serializer):
    tracking_number = serializers.CharField()
    order_number = serializers.CharField()
    sender = serializers.CharField()
    recipient_name = serializers.CharField()
    recipient_phone = serializers.CharField()
    recipient_address = serializers.CharField()
    region = serializers.CharField()
    items = DeclarationItemSerializer(many=True)
    total_value_cny = _money()
    net_weight_kg = _kg()
    gross_weight_kg = _kg()
    identity = IdentityDocumentSerializer(allow_null=True)
    duty_eur = _money(allow_null=True)
    pickup_point = serializers.CharField(allow_blank=True)
    carrier = serializers.CharField(allow_blank=True)
    carrier_number = serializers.CharField(allow_blank=True)


class CustomsRegistrySerializer(serializers.Serializer):
    parcels = RegistryEntrySerializer(many=True)
    total_value_cny = _money()
    gross_weight_kg = _kg()


class ManifestSerializer(serializers.Serializer):
    departure = DepartureInfoSerializer()
    cargo = CargoManifestSerializer()
    registry = CustomsRegistrySerializer()


class OpsParcelDeclarationView(APIView):
    """The parcel's customs declaration (CN 23 data)."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        responses={200: DeclarationSerializer, **error_responses(403, 404, 422)},
        tags=["ops"],
        operation_id="parcel_declaration",
    )
    def get(self, request: Request, tracking_number: str) -> Response:
        parcel = Parcel.objects.filter(tracking_number=tracking_number.upper()).first()
        if parcel is None:
            raise NotFound()
        return Response(DeclarationSerializer(customs_declaration(parcel_id=parcel.id)).data)


class OpsDepartureManifestView(APIView):
    """The cargo manifest and the customs registry of a closed departure."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        responses={200: ManifestSerializer, **ERRORS},
        tags=["ops"],
        operation_id="departure_manifest",
    )
    def get(self, request: Request, departure_id: int) -> Response:
        manifest = departure_manifest(departure_id=departure_id)
        return Response(ManifestSerializer(manifest).data)


class OpsDepartureManifestPdfView(APIView):
    permission_classes = [IsOperatorStaff]

    @extend_schema(responses={**PDF, **ERRORS}, tags=["ops"], operation_id="departure_manifest_pdf")
    def get(self, request: Request, departure_id: int) -> HttpResponse:
        manifest = departure_manifest(departure_id=departure_id)
        return pdf_response(manifest_pdf(manifest=manifest), manifest_filename(manifest, ".pdf"))


class OpsDepartureRegistryCsvView(APIView):
    """The customs registry, one row per item."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(responses={**CSV, **ERRORS}, tags=["ops"], operation_id="departure_registry_csv")
    def get(self, request: Request, departure_id: int) -> HttpResponse:
        manifest = departure_manifest(departure_id=departure_id)
        return csv_response(
            manifest_registry_csv(manifest=manifest), manifest_filename(manifest, "-registry.csv")
        )


class OpsDepartureCargoCsvView(APIView):
    """The cargo manifest, one row per destination and a total row."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(responses={**CSV, **ERRORS}, tags=["ops"], operation_id="departure_cargo_csv")
    def get(self, request: Request, departure_id: int) -> HttpResponse:
        manifest = departure_manifest(departure_id=departure_id)
        return csv_response(
            manifest_cargo_csv(manifest=manifest), manifest_filename(manifest, "-cargo.csv")
        )

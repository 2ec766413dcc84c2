"""The pickup point directory, public: storefronts show it at checkout,
guests included."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from core.api import error_responses
from core.errors import ApplicationError, NotFound
from shipping.lastmile.carriers import CarrierError
from shipping.lastmile.models import PickupPoint
from shipping.lastmile.selectors import pickup_points_search
from shipping.lastmile.serializers import (
    PickupPointQuerySerializer,
    PickupPointSerializer,
    pickup_point_data,
)
from shipping.lastmile.shipments import cdek_notification_receive


class PickupPointListView(generics.GenericAPIView):
    """Active pickup points and lockers by city, postcode or distance
    (`near=lat,lon`, `radius_km` up to 100, nearest first, each with its
    `distance_km`); with none of them, the whole directory by code, a page at
    a time."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    serializer_class = PickupPointSerializer
    queryset = PickupPoint.objects.none()  # for the schema; reads go through the selector

    @extend_schema(
        # The query serializer itself: its bounds (radius_km, page_size) are in the schema.
        parameters=[PickupPointQuerySerializer],
        responses={200: PickupPointSerializer(many=True), **error_responses(400, 404)},
        tags=["checkout"],
    )
    def get(self, request: Request) -> Response:
        query = PickupPointQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        valid = query.validated_data
        found = pickup_points_search(
            city=valid["city"],
            postcode=valid["postcode"],
            near=valid["near"],
            carrier=valid["carrier"],
            kind=valid["kind"],
        )
        page = self.paginate_queryset(found)
        assert page is not None
        return self.get_paginated_response([pickup_point_data(point, km) for point, km in page])


class CarrierUnavailable(ApplicationError):
    status_code = 502
    code = "carrier_unavailable"
    default_message = _("The carrier did not answer; the notification will be retried.")


class CdekWebhookInputSerializer(serializers.Serializer):
    type = serializers.CharField(max_length=40)
    uuid = serializers.UUIDField()


class CdekWebhookView(generics.GenericAPIView):
    """CDEK's ORDER_STATUS webhooks. Not signed: the order is read back from
    CDEK and only that answer is recorded; a repeat records nothing."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "provider_webhooks"
    serializer_class = CdekWebhookInputSerializer

    @extend_schema(
        request=CdekWebhookInputSerializer,
        responses={200: None, **error_responses(400, 404, 429, 502)},
        tags=["carriers"],
        summary="CDEK order status notification (verified by reading the order back)",
    )
    def post(self, request: Request) -> Response:
        if not settings.AMUR["CDEK_CLIENT_ID"]:
            raise NotFound(_("CDEK is not configured."), code="carrier_not_configured")
        body = CdekWebhookInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["type"] != "ORDER_STATUS":
            return Response({"recorded": 0})
        try:
            recorded = cdek_notification_receive(uuid=str(body.validated_data["uuid"]))
        except CarrierError as exc:
            raise CarrierUnavailable() from exc
        if recorded is None:
            raise NotFound(_("No shipment of ours has this CDEK order."), code="unknown_shipment")
        return Response({"recorded": recorded})

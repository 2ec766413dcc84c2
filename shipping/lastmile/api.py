"""The pickup point directory, public: storefronts show it at checkout,
guests included."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import error_responses
from shipping.lastmile.selectors import pickup_points_search
from shipping.lastmile.serializers import (
    PickupPointQuerySerializer,
    PickupPointSerializer,
    pickup_point_data,
)


class PickupPointListView(generics.GenericAPIView):
    """Active pickup points and lockers by city, postcode or distance
    (`near=lat,lon`, `radius_km` up to 100, nearest first, each with its
    `distance_km`); at least one of the three."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    serializer_class = PickupPointSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("city", str),
            OpenApiParameter("postcode", str),
            OpenApiParameter("near", str, description="latitude,longitude"),
            OpenApiParameter("radius_km", float),
            OpenApiParameter("carrier", str, enum=["cdek", "russian_post"]),
            OpenApiParameter("kind", str, enum=["pickup_point", "locker"]),
        ],
        responses={200: PickupPointSerializer(many=True), **error_responses(400)},
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

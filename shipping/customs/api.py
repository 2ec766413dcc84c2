"""The buyer's recipient identity document for one order (customs data of
an express parcel), until the order is packed. Shown back masked only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.serializers import MaskedIdentitySerializer, RecipientIdentitySerializer
from core.api import caller_id, error_responses
from orders.models import Order, OrderRecipientIdentity
from orders.selectors import order_get_for_buyer
from shipping.customs.identity import order_crosses_border, order_recipient_identity_set


class OrderIdentitySerializer(serializers.Serializer):
    identity_required = serializers.BooleanField(help_text="The order's parcels cross the border")
    identity = MaskedIdentitySerializer(allow_null=True)


def _body(order: Order, saved: OrderRecipientIdentity | None) -> dict[str, object]:
    return {
        "identity_required": order_crosses_border(order=order),
        "identity": saved.identity().masked() if saved is not None else None,
    }


class OrderRecipientIdentityView(APIView):
    @extend_schema(
        responses={200: OrderIdentitySerializer, **error_responses(401, 404)}, tags=["orders"]
    )
    def get(self, request: Request, number: str) -> Response:
        order = order_get_for_buyer(user_id=caller_id(request), number=number)
        return Response(_body(order, OrderRecipientIdentity.objects.filter(order=order).first()))

    @extend_schema(
        request=RecipientIdentitySerializer,
        responses={200: OrderIdentitySerializer, **error_responses(400, 401, 404, 409)},
        tags=["orders"],
    )
    def put(self, request: Request, number: str) -> Response:
        order = order_get_for_buyer(user_id=caller_id(request), number=number)
        serializer = RecipientIdentitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        saved = order_recipient_identity_set(order=order, identity=serializer.identity())
        return Response(_body(order, saved))

"""The buyer's orders: the landed-cost quote, placing, reading, cancelling
and paying them."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import buyer_of
from commands.cancel import order_cancel_for_buyer
from commands.order_render import absolute_url, order_render_queryset
from commands.pay import payment_card_settle, payment_card_start
from commands.place import order_place
from commands.quote import DeliveryRequest, LineRequest, checkout_quote
from commands.serializers import (
    OrderEventSerializer,
    OrderInputSerializer,
    OrderSerializer,
    QuoteInputSerializer,
    QuoteSerializer,
    order_data,
    quote_data,
)
from core.api import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_HEADER_REQUIRED,
    LANG_PARAMETER,
    caller_id,
    error_responses,
)
from core.errors import ApplicationError, Conflict, NotFound, PaymentDeclined, error_body
from core.idempotency import AfterCommit, idempotent
from core.parsers import BoundedJSONParser
from core.regions import region_zone
from orders.models import Order, OrderStatus, PaymentMethod
from orders.selectors import order_events, order_get_for_buyer, orders_for_buyer
from orders.services import Address
from payments.models import Payment
from payments.providers import decline_message
from payments.serializers import (
    PayInputSerializer,
    PaymentSerializer,
)
from payments.services import OPEN
from shipping.fulfilment.models import FulfilmentOrder


def _order_queryset(user_id: int) -> QuerySet[Order]:
    return order_render_queryset(orders_for_buyer(user_id=user_id))


def base_url(request: Request) -> str:
    """The caller's scheme and host, for links in answers."""
    return request.build_absolute_uri("/").rstrip("/")


def _order_input(data: Any) -> tuple[list[LineRequest], Address, str]:
    lines, address, method, _delivery = _order_input_with_delivery(data)
    return lines, address, method


def _order_input_with_delivery(
    data: Any,
) -> tuple[list[LineRequest], Address, str, DeliveryRequest | None]:
    serializer = OrderInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    valid = serializer.validated_data
    lines = [LineRequest(sku=line["sku"], quantity=line["quantity"]) for line in valid["lines"]]
    chosen = valid.get("delivery")
    delivery = DeliveryRequest(kind=chosen["kind"], code=chosen["code"]) if chosen else None
    return lines, Address(**valid["shipping_address"]), valid["payment_method"], delivery


class QuoteView(APIView):
    """The landed cost of a cart, for anyone (no account needed): the same
    lines to the same region are charged exactly this when ordered now."""

    permission_classes = [AllowAny]
    parser_classes = [BoundedJSONParser]

    @extend_schema(
        request=QuoteInputSerializer,
        responses={200: QuoteSerializer, **error_responses(400, 401, 409, 422)},
        tags=["checkout"],
    )
    def post(self, request: Request) -> Response:
        serializer = QuoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        valid = serializer.validated_data
        lines = [LineRequest(sku=line["sku"], quantity=line["quantity"]) for line in valid["lines"]]
        region = valid["region"]
        today = timezone.localtime(timezone=ZoneInfo(region_zone(region))).date()
        chosen = valid.get("delivery")
        quote = checkout_quote(
            lines=lines,
            region=region,
            delivery=DeliveryRequest(kind=chosen["kind"], code=chosen["code"]) if chosen else None,
            payment_method=valid["payment_method"],
            city=valid["city"],
        )
        return Response(quote_data(quote, region=region, today=today))


class OrderListCreateView(generics.ListAPIView):
    """The caller's orders, newest first; POST places one."""

    serializer_class = OrderSerializer
    filter_backends: list[type] = []
    # Nested lines and address: JSON only (a form cannot carry them).
    parser_classes = [BoundedJSONParser]

    def get_queryset(self) -> QuerySet[Order]:
        return _order_queryset(caller_id(self.request))

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "base_url": base_url(self.request)}

    @extend_schema(parameters=[LANG_PARAMETER], tags=["orders"])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=OrderInputSerializer,
        parameters=[IDEMPOTENCY_HEADER_REQUIRED],
        responses={201: OrderSerializer, **error_responses(400, 401, 404, 409, 422)},
        tags=["orders"],
    )
    @idempotent(required=True)
    def post(self, request: Request) -> Response:
        lines, address, method, delivery = _order_input_with_delivery(request.data)
        user_id = caller_id(request)
        order = order_place(
            user_id=user_id,
            lines=lines,
            address=address,
            payment_method=method,
            delivery=delivery,
            buyer=buyer_of(user=request.user),
        )
        # A new order has no parcels yet, and a card order no payment: no need
        # to ask the database (empty lists, as an empty QuerySet would still go
        # through the query compiler).
        # The placement leaves the parts it made on the order, unless a later
        # step (a risk hold, cash on delivery) read the order again.
        cached = getattr(order, "_prefetched_objects_cache", {})
        parts: list[Any] | None = cached.get("fulfilment_orders")
        if parts is None:
            parts = list(FulfilmentOrder.objects.filter(order_id=order.id).order_by("id"))
            for part in parts:
                part._prefetched_objects_cache = {"parcels": []}
        known: dict[str, list[Any]] = {"parcels": [], "fulfilment_orders": parts}
        if method == PaymentMethod.CARD:
            known["payments"] = []
        order._prefetched_objects_cache.update(known)  # type: ignore[attr-defined]
        return Response(
            order_data(order, base_url=base_url(request)), status=status.HTTP_201_CREATED
        )


class OrderDetailView(APIView):
    @extend_schema(
        parameters=[LANG_PARAMETER],
        responses={200: OrderSerializer, **error_responses(400, 401, 404)},
        tags=["orders"],
    )
    def get(self, request: Request, number: str) -> Response:
        order = _order_queryset(caller_id(request)).filter(number=number).first()
        if order is None:
            raise NotFound()
        return Response(order_data(order, base_url=base_url(request)))


class OrderEventsView(APIView):
    @extend_schema(
        parameters=[LANG_PARAMETER],
        responses={200: OrderEventSerializer(many=True), **error_responses(400, 401, 404)},
        tags=["orders"],
    )
    def get(self, request: Request, number: str) -> Response:
        order = order_get_for_buyer(user_id=caller_id(request), number=number)
        return Response(OrderEventSerializer(order_events(order=order), many=True).data)


class OrderCancelView(APIView):
    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: OrderSerializer, **error_responses(401, 404, 409, 422)},
        tags=["orders"],
    )
    @idempotent()
    def post(self, request: Request, number: str) -> Response:
        user_id = caller_id(request)
        order = order_cancel_for_buyer(user_id=user_id, number=number)
        order = _order_queryset(user_id).get(id=order.id)
        return Response(order_data(order, base_url=base_url(request)))


class OrderPayView(APIView):
    @extend_schema(
        request=PayInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: OpenApiResponse(PaymentSerializer, description="Captured."),
            202: OpenApiResponse(
                PaymentSerializer,
                description=(
                    "In progress: pending (the provider has not answered yet, or"
                    " settles later), or requires_action (send the buyer to"
                    " confirmation_url). The provider's notification settles it."
                ),
            ),
            **error_responses(400, 401, 402, 404, 409, 422),
        },
        tags=["orders"],
    )
    @idempotent()
    def post(self, request: Request, number: str) -> AfterCommit:
        user_id = caller_id(request)
        order = order_get_for_buyer(user_id=user_id, number=number)
        serializer = PayInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payment = payment_card_start(
            order_id=order.id,
            token=serializer.validated_data["token"],
            actor_id=user_id,
            card_country=serializer.validated_data["card_country"],
            method=serializer.validated_data["method"],
        )
        # The charge is made once the attempt is committed, with no row
        # locked: the answer is the provider's.
        return AfterCommit(
            lambda: _payment_response(payment_card_settle(payment=payment), base_url(request))
        )


def _payment_response(payment: Payment, base: str) -> Response:
    if payment.status == Payment.Status.FAILED:
        # Returned, not raised: the failed attempt stays on record.
        error: ApplicationError = PaymentDeclined(
            decline_message(payment.decline_code),
            fields={"token": [payment.decline_code]},
            extra={"decline_code": payment.decline_code},
        )
        body = error_body(error.code, error.message, error.fields, **error.extra)
        return Response(body, status=error.status_code)
    if Order.objects.filter(id=payment.order_id, status=OrderStatus.CANCELLED).exists():
        # Cancelled while the charge was with the provider: whatever it took
        # goes back to the card (the payment voided, or refunded).
        error = Conflict(
            _("The order was cancelled while it was being paid; any money taken is refunded."),
            code="order_cancelled_during_payment",
            extra={"payment": PaymentSerializer(payment).data},
        )
        body = error_body(error.code, error.message, error.fields, **error.extra)
        return Response(body, status=error.status_code)
    in_progress = payment.status in OPEN
    data = PaymentSerializer(payment).data
    data["confirmation_url"] = absolute_url(payment.confirmation_url, base)
    return Response(
        data,
        status=status.HTTP_202_ACCEPTED if in_progress else status.HTTP_201_CREATED,
    )

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Courier
from accounts.selectors import buyer_of
from catalogue.models import Product
from catalogue.selectors import products_for_catalogue
from commands.filters import ProductFilter
from commands.review import order_review_approve, order_review_reject
from commands.scans import courier_scans_report
from commands.serializers import (
    OrderEventSerializer,
    OrderInputSerializer,
    OrderSerializer,
    ProductSerializer,
    QuoteSerializer,
    ReviewInputSerializer,
    ReviewSerializer,
    order_data,
    quote_data,
)
from commands.services import LineRequest, checkout_quote, order_cancel_for_buyer, order_place
from core.api import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENCY_HEADER_REQUIRED,
    caller_id,
    error_responses,
)
from core.errors import ApplicationError, Forbidden, NotFound
from core.idempotency import idempotent
from core.permissions import IsOperatorStaff
from orders.models import Order
from orders.selectors import order_events, order_get, order_get_for_buyer, orders_for_buyer
from orders.services import Address
from payments.services import rate_latest
from risk.selectors import risk_hold_latest
from shipping.fulfilment.models import Parcel
from shipping.linehaul.selectors import lane_options_for_region
from shipping.tracking.scans import scans_parse
from shipping.tracking.serializers import ScanBatchSerializer, ScanResultSerializer
from warehouses.selectors import available_by_product


def _order_queryset(user_id: int) -> QuerySet[Order]:
    return orders_for_buyer(user_id=user_id).prefetch_related(
        Prefetch("parcels", queryset=Parcel.objects.order_by("id"))
    )


def _order_input(data: Any) -> tuple[list[LineRequest], Address, str]:
    serializer = OrderInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    valid = serializer.validated_data
    lines = [LineRequest(sku=line["sku"], quantity=line["quantity"]) for line in valid["lines"]]
    return lines, Address(**valid["shipping_address"]), valid["payment_method"]


class ProductListView(generics.ListAPIView):
    """The catalogue, in the language of Accept-Language (ru by default)."""

    permission_classes = [AllowAny]
    serializer_class = ProductSerializer
    filterset_class = ProductFilter

    def get_queryset(self) -> QuerySet[Product]:
        return products_for_catalogue(search=self.request.query_params.get("search", "").strip())

    @extend_schema(
        parameters=[
            OpenApiParameter("search", str, description="SKU or name in any language"),
            OpenApiParameter("region", str, description="ISO 3166-2:RU code, for delivery days"),
        ],
        responses={200: ProductSerializer(many=True), **error_responses(400)},
        tags=["catalogue"],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_serializer(self, *args: Any, **kwargs: Any) -> ProductSerializer:
        page = args[0] if args else []
        context = dict(self.get_serializer_context())
        context["available"] = available_by_product(product_ids=[p.id for p in page])
        context["cny_rub"] = rate_latest(currency="CNY")
        region = self.request.query_params.get("region")
        if region:
            context["days_by_warehouse"] = {
                w: option.max_days for w, option in lane_options_for_region(region=region).items()
            }
        return ProductSerializer(*args, context=context, **kwargs)


class QuoteView(APIView):
    @extend_schema(
        request=OrderInputSerializer,
        responses={200: QuoteSerializer, **error_responses(400, 401, 409)},
        tags=["checkout"],
    )
    def post(self, request: Request) -> Response:
        lines, address, _method = _order_input(request.data)
        quote = checkout_quote(lines=lines, region=address.region)
        return Response(quote_data(quote))


class OrderListCreateView(generics.ListAPIView):
    """The caller's orders, newest first; POST places one."""

    serializer_class = OrderSerializer
    filter_backends: list[type] = []

    def get_queryset(self) -> QuerySet[Order]:
        return _order_queryset(caller_id(self.request))

    @extend_schema(tags=["orders"])
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
        lines, address, method = _order_input(request.data)
        user_id = caller_id(request)
        order = order_place(
            user_id=user_id,
            lines=lines,
            address=address,
            payment_method=method,
            buyer=buyer_of(user=request.user),
        )
        # A new order has no parcels yet: no need to ask the database (an empty
        # list, as an empty QuerySet would still go through the query compiler).
        order._prefetched_objects_cache["parcels"] = []  # type: ignore[attr-defined]
        return Response(order_data(order), status=status.HTTP_201_CREATED)


class OrderDetailView(APIView):
    @extend_schema(responses={200: OrderSerializer, **error_responses(401, 404)}, tags=["orders"])
    def get(self, request: Request, number: str) -> Response:
        order = _order_queryset(caller_id(request)).filter(number=number).first()
        if order is None:
            raise NotFound()
        return Response(order_data(order))


class OrderEventsView(APIView):
    @extend_schema(
        responses={200: OrderEventSerializer(many=True), **error_responses(401, 404)},
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
        return Response(order_data(_order_queryset(user_id).get(id=order.id)))


class OpsOrderReviewView(APIView):
    """Operator staff: approve or reject an order held by the risk rules.
    Repeating the decision already taken returns it unchanged."""

    permission_classes = [IsOperatorStaff]

    @extend_schema(
        request=ReviewInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: ReviewSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
        tags=["ops"],
    )
    @idempotent()
    def post(self, request: Request, number: str) -> Response:
        order = order_get(number=number)
        serializer = ReviewInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        valid = serializer.validated_data
        review = order_review_approve if valid["decision"] == "approve" else order_review_reject
        review(order_id=order.id, actor_id=caller_id(request), note=valid["note"])
        return Response(ReviewSerializer(risk_hold_latest(order_id=order.id)).data)


class CourierScansView(APIView):
    @extend_schema(
        request=ScanBatchSerializer,
        responses={200: ScanResultSerializer, **error_responses(400, 401, 403, 404)},
        tags=["courier"],
        description=(
            "Up to 1,000 scans; each is accepted or rejected alone, a repeated scan_id is"
            " a duplicate. Accepted scans are stored before the answer and applied to"
            " their parcels' statuses right after it, in timeline order."
        ),
    )
    def post(self, request: Request) -> Response:
        courier = Courier.objects.filter(user_id=caller_id(request)).first()
        if courier is None:
            raise Forbidden(_("Only couriers may report scans."))
        batch = ScanBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        scans, rejected = scans_parse(batch.validated_data["scans"])
        outcome = courier_scans_report(courier=courier, scans=scans)
        rejected = sorted(rejected + outcome.rejected, key=lambda r: r["index"])
        if not outcome.accepted and not outcome.duplicates:
            codes = {r["code"] for r in rejected}
            not_found = codes == {"parcel_not_found"}
            raise ApplicationError(
                _("No scan was accepted."),
                code="parcel_not_found" if not_found else "invalid",
                status_code=404 if not_found else 400,
                fields={f"scans[{r['index']}]": [r["message"]] for r in rejected},
            )
        return Response(
            {
                "accepted": len(outcome.accepted),
                "duplicates": len(outcome.duplicates),
                "rejected": rejected,
            }
        )

"""The parts of an order's answer an app shows as they are: prices in
roubles, shipments with their delivery windows, the pay-by deadline, the
payment and its refunds, the hold, and labels in the request's language.

Read from rows loaded with the order (`order_render_queryset`): a listing
costs the same queries whatever the number of orders."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api import MoneySerializer
from core.money import money_round
from core.regions import region_zone
from orders.models import Order, OrderStatus, PaymentMethod
from payments.models import Payment, Refund
from risk.models import RiskHold
from shipping.fulfilment.models import FulfilmentOrder, Parcel, ParcelStatus

# Buyers are told that an order is held and that staff look at it, never
# which rule held it.
HOLD_UNDER_REVIEW = "under_review"


# The order's shipments (fulfilment orders) with their parcels: two queries
# for any number of orders.
SHIPMENTS = (
    Prefetch("fulfilment_orders", queryset=FulfilmentOrder.objects.order_by("id")),
    Prefetch("fulfilment_orders__parcels", queryset=Parcel.objects.order_by("id")),
)


def order_render_queryset(orders: QuerySet[Order]) -> QuerySet[Order]:
    """Orders with what rendering them reads: parcels, payments with their
    refunds, and when a review last let the order go (the unpaid clock starts
    again then)."""
    last_review = (
        RiskHold.objects.filter(order=OuterRef("pk"), decided_at__isnull=False)
        .order_by("-decided_at")
        .values("decided_at")[:1]
    )
    return orders.annotate(hold_decided_at=Subquery(last_review)).prefetch_related(
        Prefetch("parcels", queryset=Parcel.objects.order_by("id")),
        *SHIPMENTS,
        Prefetch(
            "payments",
            queryset=Payment.objects.order_by("-created_at", "-id").prefetch_related(
                Prefetch("refunds", queryset=Refund.objects.order_by("id"))
            ),
        ),
    )


def order_pay_by(order: Order) -> datetime | None:
    """When an unpaid card order is cancelled (commands.cancel.orders_expire_unpaid):
    UNPAID_ORDER_TTL_MINUTES after placement, or after the review that released it."""
    if order.status != OrderStatus.PENDING_PAYMENT or order.payment_method != PaymentMethod.CARD:
        return None
    decided: datetime | None = getattr(order, "hold_decided_at", None)
    start = max(order.created_at, decided) if decided else order.created_at
    return start + timedelta(minutes=settings.AMUR["UNPAID_ORDER_TTL_MINUTES"])


def local_date(moment: datetime, region: str) -> date:
    return timezone.localtime(moment, timezone=ZoneInfo(region_zone(region))).date()


def window_data(min_days: int, max_days: int, start: date) -> dict[str, Any]:
    return {
        "min_days": min_days,
        "max_days": max_days,
        "earliest": (start + timedelta(days=min_days)).isoformat(),
        "latest": (start + timedelta(days=max_days)).isoformat(),
    }


def parcel_data(parcel: Parcel) -> dict[str, Any]:
    return {
        "tracking_number": parcel.tracking_number,
        "status": parcel.status,
        "status_label": str(ParcelStatus(parcel.status).label) if parcel.status else "",
    }


def shipments_data(order: Order) -> list[dict[str, Any]]:
    """The buyer's one order, shipped in parts (a merchant's goods from one
    warehouse each; no merchant, price or share of theirs is named), each
    with the window quoted for its warehouse, counted from the placement date
    where the order goes, and its parcels once packed."""
    start = local_date(order.created_at, order.region)
    plan = {group["warehouse_id"]: group for group in order.plan}
    shipments = []
    for part in order.fulfilment_orders.all():
        group = plan.get(part.warehouse_id)
        parcels = list(part.parcels.all())
        shipments.append(
            {
                "number": part.number,
                "status": part.status,
                "warehouse": group["warehouse"] if group else "",
                "lane": group["lane"] if group else "",
                "crosses_border": group["crosses_border"] if group else True,
                "window": (
                    window_data(group["min_days"], group["max_days"], start) if group else None
                ),
                "parcels": [parcel_data(p) for p in parcels],
                "tracking_numbers": [p.tracking_number for p in parcels],
            }
        )
    return shipments


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currency": currency}


def rub_of(amount_cny: Decimal, order: Order) -> dict[str, str]:
    """A CNY amount in roubles at the order's rate, rounded alone: line
    amounts may differ from the goods total by a kopeck of rounding."""
    return _money(money_round(amount_cny * order.cny_rub_rate, "RUB"), "RUB")


def absolute_url(url: str, base_url: str) -> str:
    """Relative URLs (the sandbox's, without PUBLIC_BASE_URL) on the
    caller's host; an app opens them in a browser."""
    if url.startswith("/"):
        return (settings.AMUR["PUBLIC_BASE_URL"] or base_url).rstrip("/") + url
    return url


def payment_data(order: Order, base_url: str) -> dict[str, Any] | None:
    """The latest payment attempt, with its refunds."""
    payment = next(iter(order.payments.all()), None)
    if payment is None:
        return None
    return {
        "method": payment.method,
        "status": payment.status,
        "status_label": str(Payment.Status(payment.status).label),
        "amount": _money(payment.amount, payment.currency),
        "refunded": _money(payment.refunded_amount, payment.currency),
        "confirmation_url": absolute_url(payment.confirmation_url, base_url),
        "decline_code": payment.decline_code,
        "refunds": [
            {
                "amount": _money(refund.amount, refund.currency),
                "status": refund.status,
                "status_label": str(Refund.Status(refund.status).label),
                "created_at": _DATETIME.to_representation(refund.created_at),
            }
            for refund in payment.refunds.all()
        ],
    }


def hold_data(order: Order) -> dict[str, str] | None:
    if order.status != OrderStatus.ON_HOLD:
        return None
    return {
        "code": HOLD_UNDER_REVIEW,
        "reason": str(_("Held for review: our staff check the order before it goes ahead.")),
    }


_DATETIME = serializers.DateTimeField()


def status_label(status: str) -> str:
    return str(OrderStatus(status).label) if status else ""


def order_extras(order: Order, *, base_url: str) -> dict[str, Any]:
    pay_by = order_pay_by(order)
    return {
        "status_label": str(OrderStatus(order.status).label),
        "payment_method_label": str(PaymentMethod(order.payment_method).label),
        "pay_by": _DATETIME.to_representation(pay_by) if pay_by else None,
        "hold": hold_data(order),
        "payment": payment_data(order, base_url),
        "shipments": shipments_data(order),
    }


# The shapes above, for the schema.


class WindowSerializer(serializers.Serializer):
    min_days = serializers.IntegerField()
    max_days = serializers.IntegerField()
    earliest = serializers.DateField(help_text="In the delivery region's time zone.")
    latest = serializers.DateField()


class OrderParcelSerializer(serializers.Serializer):
    tracking_number = serializers.CharField()
    status = serializers.ChoiceField(choices=ParcelStatus.choices, allow_blank=True)
    status_label = serializers.CharField(allow_blank=True)


class ShipmentSerializer(serializers.Serializer):
    """One fulfilment order as the buyer sees it: a shipment of the order."""

    number = serializers.CharField()
    status = serializers.CharField()
    warehouse = serializers.CharField(allow_blank=True)
    lane = serializers.CharField(allow_blank=True)
    crosses_border = serializers.BooleanField()
    window = WindowSerializer(allow_null=True)
    parcels = OrderParcelSerializer(many=True)
    tracking_numbers = serializers.ListField(child=serializers.CharField())


class OrderRefundSerializer(serializers.Serializer):
    amount = MoneySerializer()
    status = serializers.ChoiceField(choices=Refund.Status.choices)
    status_label = serializers.CharField()
    created_at = serializers.DateTimeField()


class OrderPaymentSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=Payment.Method.choices)
    status = serializers.ChoiceField(choices=Payment.Status.choices)
    status_label = serializers.CharField()
    amount = MoneySerializer()
    refunded = MoneySerializer()
    confirmation_url = serializers.CharField(
        allow_blank=True, help_text="Absolute; open it in a browser (3-D Secure)."
    )
    decline_code = serializers.CharField(allow_blank=True)
    refunds = OrderRefundSerializer(many=True)


class HoldSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=[(HOLD_UNDER_REVIEW, HOLD_UNDER_REVIEW)])
    reason = serializers.CharField()

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commands.order_render import (
    HoldSerializer,
    OrderParcelSerializer,
    OrderPaymentSerializer,
    ShipmentSerializer,
    WindowSerializer,
    order_extras,
    parcel_data,
    rub_of,
    status_label,
    window_data,
)
from commands.quote import Quote
from core.api import MoneySerializer, StrictSerializer
from core.regions import REGION_CHOICES
from core.validators import phone_validator, postcode_validator
from orders.models import Order, OrderEvent, OrderLine, PaymentMethod
from orders.reasons import event_reason_label
from shipping.lastmile.models import DeliveryKind
from shipping.lastmile.serializers import PickupPointSerializer, pickup_point_data


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currency": currency}


class LineInputSerializer(StrictSerializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=settings.AMUR["MAX_LINE_QUANTITY"])


class AddressSerializer(StrictSerializer):
    recipient_name = serializers.CharField(max_length=200)
    recipient_phone = serializers.CharField(max_length=12, validators=[phone_validator])
    region = serializers.ChoiceField(choices=REGION_CHOICES)
    city = serializers.CharField(max_length=100)
    postcode = serializers.CharField(max_length=6, validators=[postcode_validator])
    street = serializers.CharField(max_length=300)


class DeliveryInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=DeliveryKind.choices)
    code = serializers.CharField(max_length=32, required=False, default="")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["kind"] == DeliveryKind.PICKUP_POINT and not attrs["code"]:
            raise serializers.ValidationError({"code": [_("Name the pickup point.")]})
        if attrs["kind"] == DeliveryKind.DOOR and attrs["code"]:
            raise serializers.ValidationError({"code": [_("A door delivery takes no point.")]})
        return attrs


class OrderInputSerializer(StrictSerializer):
    # ListSerializer takes max_length (DRF >= 3.14); the stubs do not know it.
    lines = LineInputSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=settings.AMUR["MAX_ORDER_LINES"]
    )
    shipping_address = AddressSerializer()
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices)
    delivery = DeliveryInputSerializer(required=False)

    def validate_lines(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        skus = [line["sku"] for line in lines]
        if len(set(skus)) != len(skus):
            raise serializers.ValidationError(_("List each SKU once."))
        return lines


class QuoteInputSerializer(StrictSerializer):
    """A cart and where it goes: enough for a guest's cart page."""

    lines = LineInputSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=settings.AMUR["MAX_ORDER_LINES"]
    )
    region = serializers.ChoiceField(choices=REGION_CHOICES)
    postcode = serializers.CharField(max_length=6, validators=[postcode_validator], required=False)
    city = serializers.CharField(
        max_length=100, required=False, default="", help_text="Lists the pickup points there."
    )
    payment_method = serializers.ChoiceField(
        choices=PaymentMethod.choices,
        required=False,
        default="",
        help_text="Leaves out the points that would refuse it (cash on delivery).",
    )
    delivery = DeliveryInputSerializer(required=False)

    validate_lines = OrderInputSerializer.validate_lines


class TotalsSerializer(serializers.Serializer):
    goods = serializers.CharField()
    shipping = serializers.CharField()
    duty = serializers.CharField()
    total = serializers.CharField()
    currency = serializers.CharField()


def totals(goods: Decimal, shipping: Decimal, duty: Decimal, total: Decimal) -> dict[str, str]:
    return {
        "goods": f"{goods:.2f}",
        "shipping": f"{shipping:.2f}",
        "duty": f"{duty:.2f}",
        "total": f"{total:.2f}",
        "currency": "RUB",
    }


class OrderLineSerializer(serializers.ModelSerializer):
    unit_price = serializers.SerializerMethodField()
    line_total = serializers.SerializerMethodField()
    unit_price_rub = MoneySerializer(help_text="At the order's rate.")
    line_total_rub = MoneySerializer(help_text="At the order's rate, rounded alone.")

    class Meta:
        model = OrderLine
        fields = [
            "sku",
            "name",
            "quantity",
            "unit_price",
            "line_total",
            "unit_price_rub",
            "line_total_rub",
        ]

    @extend_schema_field(MoneySerializer)
    def get_unit_price(self, obj: OrderLine) -> dict[str, str]:
        return money(obj.unit_price_cny, "CNY")

    @extend_schema_field(MoneySerializer)
    def get_line_total(self, obj: OrderLine) -> dict[str, str]:
        return money(obj.line_total_cny, "CNY")


class RatesSerializer(serializers.Serializer):
    cny_rub = serializers.CharField()
    eur_rub = serializers.CharField()
    date = serializers.DateField()


class OrderSerializer(serializers.ModelSerializer):
    # Declares the order's shape for the schema (a docstring would show there);
    # order_data renders it.
    lines = OrderLineSerializer(many=True, read_only=True)
    totals = TotalsSerializer(read_only=True)
    shipping_address = AddressSerializer(read_only=True)
    rates = RatesSerializer(read_only=True)
    parcels = OrderParcelSerializer(many=True, read_only=True)
    status_label = serializers.CharField(help_text="In the request's language.")
    payment_method_label = serializers.CharField()
    pay_by = serializers.DateTimeField(
        allow_null=True,
        help_text="Unpaid card orders are cancelled then; null when nothing is to pay.",
    )
    hold = HoldSerializer(allow_null=True, help_text="Why the order waits (on_hold only).")
    payment = OrderPaymentSerializer(allow_null=True, help_text="The latest payment attempt.")
    shipments = ShipmentSerializer(many=True, help_text="One per shipping warehouse.")

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "status_label",
            "payment_method",
            "payment_method_label",
            "created_at",
            "pay_by",
            "hold",
            "lines",
            "totals",
            "shipping_address",
            "rates",
            "payment",
            "shipments",
            "parcels",
            "shipments",
        ]

    def to_representation(self, instance: Order) -> dict[str, Any]:
        return order_data(instance, base_url=self.context.get("base_url", ""))


# DRF's own rendering of a datetime (current time zone, "Z" for UTC), unbound.
_DATETIME = serializers.DateTimeField()


def order_data(order: Order, *, base_url: str) -> dict[str, Any]:
    """An order as OrderSerializer documents it, built by hand: a
    ModelSerializer builds its fields on every use, and this runs on every
    checkout and in every listing. `base_url` is the caller's host, for
    relative links."""
    return {
        "number": order.number,
        "status": order.status,
        "payment_method": order.payment_method,
        "created_at": _DATETIME.to_representation(order.created_at),
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price_cny, "CNY"),
                "line_total": money(line.line_total_cny, "CNY"),
                "unit_price_rub": rub_of(line.unit_price_cny, order),
                "line_total_rub": rub_of(line.line_total_cny, order),
            }
            for line in order.lines.all()
        ],
        "totals": totals(order.goods_rub, order.shipping_rub, order.duty_rub, order.total_rub),
        "shipping_address": {
            "recipient_name": order.recipient_name,
            "recipient_phone": order.recipient_phone,
            "region": order.region,
            "city": order.city,
            "postcode": order.postcode,
            "street": order.street,
        },
        "rates": {
            "cny_rub": str(order.cny_rub_rate),
            "eur_rub": str(order.eur_rub_rate),
            "date": order.rates_date.isoformat(),
        },
        "parcels": [parcel_data(p) for p in order.parcels.all()],
        **order_extras(order, base_url=base_url),
    }


class OrderEventSerializer(serializers.ModelSerializer):
    from_status_label = serializers.SerializerMethodField()
    to_status_label = serializers.SerializerMethodField()
    reason_label = serializers.SerializerMethodField(help_text="In the request's language.")

    class Meta:
        model = OrderEvent
        fields = [
            "sequence",
            "from_status",
            "from_status_label",
            "to_status",
            "to_status_label",
            "reason",
            "reason_label",
            "created_at",
        ]

    def get_from_status_label(self, event: OrderEvent) -> str:
        return status_label(event.from_status)

    def get_to_status_label(self, event: OrderEvent) -> str:
        return status_label(event.to_status)

    def get_reason_label(self, event: OrderEvent) -> str:
        return event_reason_label(event.reason)


class QuoteLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    quantity = serializers.IntegerField()


class DeliveryWindowSerializer(serializers.Serializer):
    min_days = serializers.IntegerField()
    max_days = serializers.IntegerField()


class QuoteParcelSerializer(serializers.Serializer):
    warehouse = serializers.CharField()
    lane = serializers.CharField()
    lines = QuoteLineSerializer(many=True)
    weight_g = serializers.IntegerField()
    value = MoneySerializer()
    value_eur = MoneySerializer()
    duty = MoneySerializer()
    duty_eur = MoneySerializer()
    shipping = MoneySerializer()
    delivery_window = DeliveryWindowSerializer()


class DeliveryOptionSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=DeliveryKind.choices)
    price = MoneySerializer()
    window = WindowSerializer()
    pickup_point = PickupPointSerializer(allow_null=True)


class QuoteSerializer(serializers.Serializer):
    region = serializers.CharField()
    delivery = DeliveryOptionSerializer(help_text="The option asked for, which totals include.")
    delivery_options = DeliveryOptionSerializer(many=True)
    parcels = QuoteParcelSerializer(many=True)
    totals = TotalsSerializer()
    rates = RatesSerializer()


def quote_data(quote: Quote, *, region: str, today: date) -> dict[str, Any]:
    """`today` is the date in the delivery region, where the windows' dates fall."""
    sku_of = {pl.product.id: pl.product.sku for pl in quote.lines}
    options = [
        {
            "kind": option.kind,
            "price": money(option.shipping_rub, "RUB"),
            "window": window_data(option.min_days, option.max_days, today),
            "pickup_point": pickup_point_data(option.pickup_point) if option.pickup_point else None,
        }
        for option in quote.delivery_options
    ]
    # The quote's totals are of the point asked for, or of the door.
    chosen = next(
        i
        for i, option in enumerate(quote.delivery_options)
        if option.pickup_point == quote.pickup_point
    )
    return {
        "region": region,
        "delivery": options[chosen],
        "delivery_options": options,
        "parcels": [
            {
                "warehouse": p.warehouse,
                "lane": p.lane,
                "lines": [{"sku": sku_of[k], "quantity": q} for k, q in p.items.items()],
                "weight_g": p.weight_g,
                "value": money(p.value_cny, "CNY"),
                "value_eur": money(p.value_eur, "EUR"),
                "duty": money(p.duty_rub, "RUB"),
                "duty_eur": money(p.duty_eur, "EUR"),
                "shipping": money(p.shipping_rub, "RUB"),
                "delivery_window": {"min_days": p.min_days, "max_days": p.max_days},
            }
            for p in quote.parcels
        ],
        "totals": totals(quote.goods_rub, quote.shipping_rub, quote.duty_rub, quote.total_rub),
        "rates": {
            "cny_rub": str(quote.rates.cny_rub),
            "eur_rub": str(quote.rates.eur_rub),
            "date": quote.rates.date.isoformat(),
        },
    }


class ReviewInputSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=[("approve", "approve"), ("reject", "reject")])
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ReviewReasonSerializer(serializers.Serializer):
    rule = serializers.CharField()
    kind = serializers.CharField()
    observed = serializers.CharField()
    limit = serializers.CharField(allow_blank=True)


class ReviewSerializer(serializers.Serializer):
    """Staff only: the order's status after the review and the hold decided."""

    order = serializers.CharField(source="order.number")
    status = serializers.CharField(source="order.status")
    stage = serializers.CharField()
    decision = serializers.CharField()
    note = serializers.CharField()
    reasons = ReviewReasonSerializer(many=True)
    decided_at = serializers.DateTimeField()

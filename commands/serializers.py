from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from commands.quote import Quote
from core.api import MoneySerializer, StrictSerializer
from core.regions import REGION_CHOICES
from core.validators import phone_validator, postcode_validator
from orders.models import Order, OrderEvent, OrderLine, PaymentMethod


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


class OrderInputSerializer(StrictSerializer):
    # ListSerializer takes max_length (DRF >= 3.14); the stubs do not know it.
    lines = LineInputSerializer(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=settings.AMUR["MAX_ORDER_LINES"]
    )
    shipping_address = AddressSerializer()
    payment_method = serializers.ChoiceField(choices=PaymentMethod.choices)

    def validate_lines(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        skus = [line["sku"] for line in lines]
        if len(set(skus)) != len(skus):
            raise serializers.ValidationError(_("List each SKU once."))
        return lines


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

    class Meta:
        model = OrderLine
        fields = ["sku", "name", "quantity", "unit_price", "line_total"]

    @extend_schema_field(MoneySerializer)
    def get_unit_price(self, obj: OrderLine) -> dict[str, str]:
        return money(obj.unit_price_cny, "CNY")

    @extend_schema_field(MoneySerializer)
    def get_line_total(self, obj: OrderLine) -> dict[str, str]:
        return money(obj.line_total_cny, "CNY")


class OrderParcelSerializer(serializers.Serializer):
    tracking_number = serializers.CharField()
    status = serializers.CharField()


class ShipmentSerializer(serializers.Serializer):
    """One fulfilment order as the buyer sees it: a shipment of the order."""

    number = serializers.CharField()
    status = serializers.CharField()
    parcels = OrderParcelSerializer(many=True)
    tracking_numbers = serializers.ListField(child=serializers.CharField())


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
    shipments = ShipmentSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "number",
            "status",
            "payment_method",
            "created_at",
            "lines",
            "totals",
            "shipping_address",
            "rates",
            "parcels",
            "shipments",
        ]

    def to_representation(self, instance: Order) -> dict[str, Any]:
        return order_data(instance)


# DRF's own rendering of a datetime (current time zone, "Z" for UTC), unbound.
_DATETIME = serializers.DateTimeField()


def order_data(order: Order) -> dict[str, Any]:
    """An order as OrderSerializer documents it, built by hand: a
    ModelSerializer builds its fields on every use, and this runs on every
    checkout and in every listing."""
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
        "parcels": [
            {"tracking_number": p.tracking_number, "status": p.status} for p in order.parcels.all()
        ],
        # The buyer's one order, shipped in parts (a merchant's goods from one
        # warehouse each): no merchant, price or share of theirs is named.
        "shipments": [
            {
                "number": part.number,
                "status": part.status,
                "parcels": [
                    {"tracking_number": p.tracking_number, "status": p.status}
                    for p in part.parcels.all()
                ],
                "tracking_numbers": [p.tracking_number for p in part.parcels.all()],
            }
            for part in order.fulfilment_orders.all()
        ],
    }


class OrderEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["sequence", "from_status", "to_status", "reason", "created_at"]


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


class QuoteSerializer(serializers.Serializer):
    parcels = QuoteParcelSerializer(many=True)
    totals = TotalsSerializer()
    rates = RatesSerializer()


def quote_data(quote: Quote) -> dict[str, Any]:
    sku_of = {pl.product.id: pl.product.sku for pl in quote.lines}
    return {
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

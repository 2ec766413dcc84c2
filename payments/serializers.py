from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api import StrictSerializer
from core.money import MONEY_DIGITS, MONEY_PLACES
from core.validators import country_validator
from payments.models import (
    SETTLEMENT_LINE_FIELDS,
    Payment,
    Refund,
    SettlementLine,
    SettlementStatement,
)
from payments.services import DEFAULT_CARD_COUNTRY


class PayInputSerializer(StrictSerializer):
    method = serializers.ChoiceField(
        choices=[Payment.Method.CARD, Payment.Method.SBP],
        default=Payment.Method.CARD,
        help_text=(
            "card (with a token) or sbp: the Faster Payments System, confirmed in the"
            " buyer's bank app at confirmation_url (202), valid for an hour."
        ),
    )
    token = serializers.CharField(
        max_length=2048,
        required=False,
        default="",
        help_text=(
            "Card payments only. Sandbox: tok_approve, tok_decline, tok_3ds,"
            " tok_async_approve, ...; YooKassa: the payment token from its checkout widget."
        ),
    )
    card_country = serializers.CharField(
        min_length=2,
        max_length=2,
        required=False,
        default=DEFAULT_CARD_COUNTRY,
        help_text="ISO 3166-1 alpha-2 country that issued the card (sandbox cards: RU).",
    )

    def validate_card_country(self, value: str) -> str:
        value = value.upper()
        country_validator(value)
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["method"] == Payment.Method.CARD and not attrs["token"]:
            raise serializers.ValidationError({"token": [_("A card payment needs a token.")]})
        return attrs


class PaymentSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "order",
            "method",
            "provider",
            "status",
            "amount",
            "currency",
            "confirmation_url",
            "decline_code",
            "created_at",
        ]


class RefundInputSerializer(StrictSerializer):
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), help_text="In roubles."
    )
    reason = serializers.CharField(max_length=300)
    reference = serializers.CharField(
        max_length=100,
        required=False,
        help_text="Cash on delivery only: the bank transfer's reference (else one is generated).",
    )


class RefundSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="payment.order.number")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    payment_status = serializers.CharField(source="payment.status")
    payment_refunded_amount = serializers.DecimalField(
        source="payment.refunded_amount", max_digits=14, decimal_places=2, coerce_to_string=True
    )

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment",
            "order",
            "amount",
            "currency",
            "method",
            "provider_reference",
            "reason",
            "created_at",
            "payment_status",
            "payment_refunded_amount",
        ]


def _amount() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)


class SettlementLineSerializer(serializers.ModelSerializer):
    goods_rub = _amount()
    fee_rub = _amount()
    refunds_rub = _amount()
    net_rub = _amount()
    net_cny = _amount()
    cny_rub_rate = serializers.DecimalField(max_digits=18, decimal_places=8, coerce_to_string=True)

    class Meta:
        model = SettlementLine
        fields = list(SETTLEMENT_LINE_FIELDS)


class SettlementStatementSerializer(serializers.ModelSerializer):
    merchant = serializers.CharField(source="merchant.code")
    merchant_name = serializers.CharField(source="merchant.name")
    merchant_name_zh = serializers.CharField(source="merchant.name_zh")
    goods_rub = _amount()
    fee_rub = _amount()
    refunds_rub = _amount()
    net_rub = _amount()
    net_cny = _amount()

    class Meta:
        model = SettlementStatement
        fields = [
            "id",
            "merchant",
            "merchant_name",
            "merchant_name_zh",
            "period_start",
            "period_end",
            "status",
            "goods_rub",
            "fee_rub",
            "refunds_rub",
            "net_rub",
            "net_cny",
            "built_at",
            "issued_at",
        ]


class SettlementStatementDetailSerializer(SettlementStatementSerializer):
    lines = SettlementLineSerializer(many=True, read_only=True)

    class Meta(SettlementStatementSerializer.Meta):
        fields = [*SettlementStatementSerializer.Meta.fields, "lines"]


class SandboxConfirmInputSerializer(StrictSerializer):
    outcome = serializers.ChoiceField(
        choices=["approve", "decline"], help_text="What the card holder answers."
    )


class SandboxNotificationDataSerializer(serializers.Serializer):
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=["captured", "failed", "voided", "charged_back"])
    decline_code = serializers.CharField(allow_blank=True)
    amount = serializers.DecimalField(
        max_digits=MONEY_DIGITS,
        decimal_places=MONEY_PLACES,
        required=False,
        help_text="charged_back only: the sum the card's bank took back.",
    )
    currency = serializers.CharField(required=False, help_text="charged_back only.")
    chargeback_reference = serializers.CharField(
        required=False, help_text="charged_back only: the provider's id of the chargeback."
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, help_text="charged_back only: the bank's reason."
    )


class SandboxNotificationSerializer(serializers.Serializer):
    """Signed with Standard Webhooks headers (webhook-id, webhook-timestamp,
    webhook-signature) under SANDBOX_WEBHOOK_SECRET."""

    type = serializers.CharField(
        help_text="payment.captured, payment.failed, payment.voided, payment.charged_back"
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # Added here: a "data" attribute would shadow Serializer.data.
        fields = super().get_fields()
        fields["data"] = SandboxNotificationDataSerializer()
        return fields


class YooKassaObjectSerializer(serializers.Serializer):
    id = serializers.CharField()


class YooKassaNotificationSerializer(serializers.Serializer):
    """Only the event and the object's id are read; the payment is read back
    from YooKassa's API."""

    type = serializers.ChoiceField(choices=["notification"])
    event = serializers.CharField(
        help_text=(
            "payment.waiting_for_capture, payment.succeeded, payment.canceled, refund.succeeded"
        )
    )
    object = YooKassaObjectSerializer()


class NotificationResultSerializer(serializers.Serializer):
    outcome = serializers.CharField(
        help_text=(
            "What Amur did: captured, failed, voided, charged_back, unchanged, duplicate, ..."
        )
    )

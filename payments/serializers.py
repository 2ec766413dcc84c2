from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from core.api import StrictSerializer
from payments.models import Payment, Refund


class PayInputSerializer(StrictSerializer):
    token = serializers.CharField(
        max_length=2048,
        help_text=(
            "Sandbox: tok_approve, tok_decline, tok_3ds, tok_async_approve, ...; "
            "YooKassa: the payment token from its checkout widget."
        ),
    )


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


class SandboxConfirmInputSerializer(StrictSerializer):
    outcome = serializers.ChoiceField(
        choices=["approve", "decline"], help_text="What the card holder answers."
    )


class SandboxNotificationDataSerializer(serializers.Serializer):
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=["captured", "failed", "voided"])
    decline_code = serializers.CharField(allow_blank=True)


class SandboxNotificationSerializer(serializers.Serializer):
    """Signed with Standard Webhooks headers (webhook-id, webhook-timestamp,
    webhook-signature) under SANDBOX_WEBHOOK_SECRET."""

    type = serializers.CharField(help_text="payment.captured, payment.failed, payment.voided")

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
        help_text="What Amur did: captured, failed, voided, unchanged, duplicate, ..."
    )

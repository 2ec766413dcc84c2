from __future__ import annotations

from rest_framework import serializers

from core.api import StrictSerializer
from payments.models import Payment


class PayInputSerializer(StrictSerializer):
    token = serializers.CharField(max_length=64, help_text="Sandbox: tok_approve, tok_decline, ...")


class PaymentSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)

    class Meta:
        model = Payment
        fields = ["id", "order", "method", "provider", "status", "amount", "currency", "created_at"]

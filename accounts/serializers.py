from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from rest_framework import serializers

from accounts.models import Language
from core.validators import phone_validator


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=150)
    password = serializers.CharField(
        write_only=True, max_length=128, style={"input_type": "password"}
    )
    language = serializers.ChoiceField(choices=Language.choices, default=Language.RU)
    phone = serializers.CharField(
        max_length=12, required=False, allow_blank=True, validators=[phone_validator]
    )

    def validate_password(self, value: str) -> str:
        validate_password(value)
        return value


class RegisteredSerializer(serializers.Serializer):
    email = serializers.EmailField()
    token = serializers.CharField()


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()

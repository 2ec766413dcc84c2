from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from rest_framework import serializers

from accounts.models import Language
from core.api import JSONBooleanField, StrictSerializer
from core.identity import RecipientIdentity
from core.validators import (
    inn_validator,
    passport_number_validator,
    passport_series_validator,
    phone_validator,
)


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=150)
    # A password is taken as typed: trimming would let in one longer than
    # max_length says, and a different one from what the buyer chose.
    password = serializers.CharField(
        write_only=True, max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )
    language = serializers.ChoiceField(choices=Language.choices, default=Language.RU)
    phone = serializers.CharField(
        max_length=12, required=False, allow_blank=True, validators=[phone_validator]
    )
    # Consent to the personal data policy (152-FZ art. 9): must be true.
    personal_data_consent = JSONBooleanField()

    def validate_password(self, value: str) -> str:
        validate_password(value)
        return value


class RegisteredSerializer(serializers.Serializer):
    email = serializers.EmailField()
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class TokenRevokeSerializer(StrictSerializer):
    all = JSONBooleanField(required=False, default=False)


class RecipientIdentitySerializer(serializers.Serializer):
    """A Russian passport and an individual's INN, as written in them."""

    passport_series = serializers.CharField(validators=[passport_series_validator])
    passport_number = serializers.CharField(validators=[passport_number_validator])
    passport_issued_on = serializers.DateField()
    birth_date = serializers.DateField()
    inn = serializers.CharField(validators=[inn_validator])

    def identity(self) -> RecipientIdentity:
        return RecipientIdentity(**self.validated_data)


class MaskedIdentitySerializer(serializers.Serializer):
    """What is shown back: enough to recognise the document, not to use it."""

    passport = serializers.CharField()
    passport_issued_on = serializers.CharField()
    birth_date = serializers.CharField()
    inn = serializers.CharField()

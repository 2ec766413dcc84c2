from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.serializers import (
    RegisteredSerializer,
    RegisterSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from accounts.services import buyer_register
from core.api import error_responses
from core.errors import ApplicationError


class AuthThrottled(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[type] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"


class RegisterView(AuthThrottled):
    @extend_schema(
        request=RegisterSerializer,
        responses={201: RegisteredSerializer, **error_responses(400, 409, 429)},
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = buyer_register(**serializer.validated_data)
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"email": user.email, "token": token.key}, status=status.HTTP_201_CREATED)


class TokenView(AuthThrottled):
    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: TokenSerializer, **error_responses(400, 429)},
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        email = serializer.validated_data["email"].lower()
        user = authenticate(request, username=email, password=serializer.validated_data["password"])
        if user is None or not user.is_active:
            raise ApplicationError(
                _("E-mail or password is wrong."), code="invalid_credentials", status_code=400
            )
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

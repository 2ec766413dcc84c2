from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.selectors import buyer_get, buyer_identity_get
from accounts.serializers import (
    MaskedIdentitySerializer,
    RecipientIdentitySerializer,
    RegisteredSerializer,
    RegisterSerializer,
    TokenRequestSerializer,
    TokenRevokeSerializer,
    TokenSerializer,
)
from accounts.services import (
    buyer_identity_delete,
    buyer_identity_save,
    buyer_register,
    token_create,
    token_revoke,
    tokens_revoke_all,
)
from core.api import caller_id, error_responses
from core.errors import ApplicationError, NotFound


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
        key, expiry = token_create(user=user)
        return Response(
            {"email": user.email, "token": key, "expiry": expiry}, status=status.HTTP_201_CREATED
        )


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
        key, expiry = token_create(user=user)
        return Response({"token": key, "expiry": expiry})


class TokenRevokeView(APIView):
    """Revoke the token of this request (`all: true`: every token of the caller)."""

    @extend_schema(
        request=TokenRevokeSerializer, responses={204: None, **error_responses(401)}, tags=["auth"]
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRevokeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["all"]:
            tokens_revoke_all(user_id=caller_id(request))
        elif isinstance(request.auth, AuthToken):
            token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountRecipientIdentityView(APIView):
    """The buyer's identity document for customs, saved once: orders whose
    parcels cross the border are declared with it. Read back masked only."""

    @extend_schema(
        responses={200: MaskedIdentitySerializer, **error_responses(401, 404)}, tags=["account"]
    )
    def get(self, request: Request) -> Response:
        saved = buyer_identity_get(user_id=caller_id(request))
        if saved is None:
            raise NotFound()
        return Response(saved.identity().masked())

    @extend_schema(
        request=RecipientIdentitySerializer,
        responses={200: MaskedIdentitySerializer, **error_responses(400, 401, 404)},
        tags=["account"],
    )
    def put(self, request: Request) -> Response:
        serializer = RecipientIdentitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        saved = buyer_identity_save(
            buyer=buyer_get(user_id=caller_id(request)), identity=serializer.identity()
        )
        return Response(saved.identity().masked())

    @extend_schema(responses={204: None, **error_responses(401, 404)}, tags=["account"])
    def delete(self, request: Request) -> Response:
        if not buyer_identity_delete(buyer=buyer_get(user_id=caller_id(request))):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)

"""API authentication by token (`Authorization: Token <key>`), with
django-rest-knox's tokens: stored as digests, expiring, revocable. The
buyer profile comes with the user in the same query: nearly every token
request is a buyer's, and checkout needs the profile on every order."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework import exceptions

from accounts.selectors import token_get


class BuyerTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        try:
            key = token.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        auth_token = token_get(key=key)
        if auth_token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not auth_token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return auth_token.user, auth_token


class BuyerTokenScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security scheme, named as DRF's token scheme was."""

    target_class = BuyerTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token-based authentication with required prefix "Token"',
        }

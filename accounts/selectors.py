"""Reads of buyers and their API tokens."""

from __future__ import annotations

import functools
from hmac import compare_digest
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken
from knox.settings import CONSTANTS as knox_constants

from accounts.models import Buyer, BuyerIdentity
from core.errors import NotFound
from core.rawsql import columns


def buyer_get(*, user_id: int) -> Buyer:
    """The caller's buyer profile; staff and couriers have none (404)."""
    try:
        return Buyer.objects.select_related("user").get(user_id=user_id)
    except Buyer.DoesNotExist:
        raise NotFound() from None


def buyer_identity_get(*, user_id: int) -> BuyerIdentity | None:
    """The identity document the user saved as a buyer, if any."""
    return BuyerIdentity.objects.filter(buyer__user_id=user_id).first()


@functools.cache
def _token_sql() -> str:
    token_cols, user_cols, buyer_cols = (
        columns(AuthToken),
        columns(get_user_model()),
        columns(Buyer),
    )
    quote = connection.ops.quote_name
    # Only table and column names from the models go into the text.
    return (
        f"SELECT {token_cols.select('t')}, {user_cols.select('u')}, {buyer_cols.select('b')}"  # noqa: S608
        f" FROM {quote(AuthToken._meta.db_table)} t"
        f" JOIN {quote(user_cols.model._meta.db_table)} u ON u.id = t.user_id"
        f" LEFT JOIN {quote(Buyer._meta.db_table)} b ON b.user_id = u.id"
        " WHERE t.token_key = %s"
    )


def token_get(*, key: str) -> AuthToken | None:
    """The unexpired API token whose key this is, with its user and the
    user's buyer profile (if any) loaded, in one hand-written query: this
    runs on every API request, and its ORM twin (select_related) cost 0.8-1.0
    ms against 0.22 ms, 6 % of a checkout request (bench/rawsql_cost.py,
    2026-12-02). Tokens are stored as their SHA-512 digests (django-rest-knox),
    found by their first characters and matched on the digest."""
    if not 20 <= len(key) <= 128 or "\x00" in key:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_token_sql(), [key[: knox_constants.TOKEN_KEY_LENGTH]])
        rows = cursor.fetchall()
    if not rows:
        return None
    try:
        digest = hash_token(key)
    except (TypeError, ValueError):
        return None
    now = timezone.now()
    token_cols, user_cols, buyer_cols = (
        columns(AuthToken),
        columns(get_user_model()),
        columns(Buyer),
    )
    for row in rows:
        token = token_cols.load(row)
        if not compare_digest(token.digest, digest) or (token.expiry and token.expiry <= now):
            continue
        user = user_cols.load(row, len(token_cols.fields))
        buyer_start = len(token_cols.fields) + len(user_cols.fields)
        buyer = None if row[buyer_start] is None else buyer_cols.load(row, buyer_start)
        # As select_related("user", "user__buyer") would cache them.
        token._state.fields_cache["user"] = user
        user._state.fields_cache["buyer"] = buyer
        if buyer is not None:
            buyer._state.fields_cache["user"] = user
        return token
    return None


def buyer_of(*, user: Any) -> Buyer | None:
    """The user's buyer profile if it has one, read from the user when the
    authentication already loaded it (orders.auth)."""
    try:
        return user.buyer
    except (ObjectDoesNotExist, AttributeError):  # no profile, or an anonymous user
        return None

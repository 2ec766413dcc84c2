from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from rest_framework.authtoken.models import Token

from core.errors import NotFound
from core.rawsql import columns
from orders.models import Buyer, MerchantStaff, Order, OrderEvent, OrderLine, Product


def user_is_operator_staff(*, user_id: int | None) -> bool:
    """Active Django staff who do not work for a merchant: who may override
    what a merchant's own staff may not (services get the actor's id)."""
    if user_id is None:
        return False
    return (
        get_user_model()
        .objects.filter(id=user_id, is_active=True, is_staff=True, merchant_staff__isnull=True)
        .exists()
    )


def merchant_id_for_user(user: AbstractBaseUser | AnonymousUser) -> int | None:
    """The merchant a staff user works for, or None (operator staff or others)."""
    if not user.is_authenticated:
        return None
    cached = getattr(user, "_amur_merchant_id", ...)
    if cached is not ...:
        return cached
    merchant_id = (
        MerchantStaff.objects.filter(user_id=user.pk).values_list("merchant_id", flat=True).first()
    )
    user._amur_merchant_id = merchant_id  # type: ignore[attr-defined]
    return merchant_id


def buyer_get(*, user_id: int) -> Buyer:
    """The caller's buyer profile; staff and couriers have none (404)."""
    try:
        return Buyer.objects.select_related("user").get(user_id=user_id)
    except Buyer.DoesNotExist:
        raise NotFound() from None


@functools.cache
def _token_sql() -> str:
    token_cols, user_cols, buyer_cols = columns(Token), columns(get_user_model()), columns(Buyer)
    quote = connection.ops.quote_name
    # Only table and column names from the models go into the text.
    return (
        f"SELECT {token_cols.select('t')}, {user_cols.select('u')}, {buyer_cols.select('b')}"  # noqa: S608
        f" FROM {quote(Token._meta.db_table)} t"
        f" JOIN {quote(user_cols.model._meta.db_table)} u ON u.id = t.user_id"
        f" LEFT JOIN {quote(Buyer._meta.db_table)} b ON b.user_id = u.id"
        " WHERE t.key = %s"
    )


def token_get(*, key: str) -> Token | None:
    """The API token with its user and the user's buyer profile (if any)
    loaded, in one hand-written query: this runs on every API request."""
    with connection.cursor() as cursor:
        cursor.execute(_token_sql(), [key])
        row = cursor.fetchone()
    if row is None:
        return None
    token_cols, user_cols, buyer_cols = columns(Token), columns(get_user_model()), columns(Buyer)
    token = token_cols.load(row)
    user = user_cols.load(row, len(token_cols.fields))
    buyer_start = len(token_cols.fields) + len(user_cols.fields)
    buyer = None if row[buyer_start] is None else buyer_cols.load(row, buyer_start)
    # As select_related("user", "user__buyer") would cache them.
    token._state.fields_cache["user"] = user
    user._state.fields_cache["buyer"] = buyer
    if buyer is not None:
        buyer._state.fields_cache["user"] = user
    return token


def buyer_of(*, user: Any) -> Buyer | None:
    """The user's buyer profile if it has one, read from the user when the
    authentication already loaded it (orders.auth)."""
    try:
        return user.buyer
    except (ObjectDoesNotExist, AttributeError):  # no profile, or an anonymous user
        return None


def products_for_catalogue(*, search: str = "") -> QuerySet[Product]:
    qs = Product.objects.filter(is_active=True).select_related("merchant")
    if search:
        qs = qs.filter(
            Q(sku__icontains=search)
            | Q(name_ru__icontains=search)
            | Q(name_zh__icontains=search)
            | Q(name_en__icontains=search)
        )
    return qs.order_by("sku")


def orders_for_buyer(*, user_id: int) -> QuerySet[Order]:
    return (
        Order.objects.filter(buyer__user_id=user_id)
        .select_related("buyer__user")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("id")))
    )


def order_get_for_buyer(*, user_id: int, number: str) -> Order:
    """Another buyer's order is indistinguishable from a missing one."""
    order = orders_for_buyer(user_id=user_id).filter(number=number).first()
    if order is None:
        raise NotFound()
    return order


def order_get(*, number: str) -> Order:
    order = Order.objects.select_related("buyer__user").filter(number=number).first()
    if order is None:
        raise NotFound()
    return order


def order_events(*, order: Order) -> QuerySet[OrderEvent]:
    return OrderEvent.objects.filter(order=order).order_by("sequence")

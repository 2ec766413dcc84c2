from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Prefetch, Q, QuerySet

from core.errors import NotFound
from orders.models import Buyer, MerchantStaff, Order, OrderEvent, OrderLine, Product


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

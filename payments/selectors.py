"""Reads of payments records shared by the API and the admin."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from core.errors import NotFound
from core.tenancy import merchant_id_for_user
from payments.models import Payment, SettlementStatement


def statements_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[SettlementStatement]:
    """A merchant's staff see their merchant's statements; operator staff
    see all of them."""
    statements = SettlementStatement.objects.select_related("merchant").order_by(
        "-period_start", "merchant__code"
    )
    merchant_id = merchant_id_for_user(user)
    if merchant_id is not None:
        return statements.filter(merchant_id=merchant_id)
    if not user.is_authenticated or not getattr(user, "is_staff", False):
        return statements.none()
    return statements


def statement_get_for_user(
    *, user: AbstractBaseUser | AnonymousUser, statement_id: int
) -> SettlementStatement:
    """Another merchant's statement is indistinguishable from a missing one."""
    statement = statements_for_user(user=user).filter(id=statement_id).first()
    if statement is None:
        raise NotFound()
    return statement


def sandbox_payment_get(*, reference: str) -> Payment:
    """The sandbox payment a 3-D Secure page is for, with its order."""
    payment = (
        Payment.objects.select_related("order")
        .filter(provider="sandbox", provider_reference=reference)
        .first()
    )
    if payment is None:
        raise NotFound(_("No such payment."))
    return payment

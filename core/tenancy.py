"""Who a staff user works for: a merchant, or the operator.

A merchant's staff have an `accounts.MerchantStaff` profile. Every app's
admin and API scope their rows by it, including apps below `accounts`
(catalogue, notifications), so the profile is reached here through the
user's one-to-one accessor `merchant_staff` rather than by importing it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

_UNSET = object()


def merchant_id_for_user(user: Any) -> int | None:
    """The merchant a staff user works for, or None (operator staff, buyers,
    couriers, anonymous). Cached on the user object for the request."""
    if user is None or not user.is_authenticated:
        return None
    cached: object = getattr(user, "_amur_merchant_id", _UNSET)
    if cached is not _UNSET:
        return cached if isinstance(cached, int) else None
    # A missing reverse one-to-one raises RelatedObjectDoesNotExist, an
    # AttributeError: getattr's default covers it.
    profile = getattr(user, "merchant_staff", None)
    merchant_id = profile.merchant_id if profile is not None else None
    user._amur_merchant_id = merchant_id
    return merchant_id


def user_is_operator_staff(*, user_id: int | None) -> bool:
    """Active Django staff who do not work for a merchant: who may do what a
    merchant's own staff may not (services get the actor's id)."""
    if user_id is None:
        return False
    return (
        get_user_model()
        .objects.filter(id=user_id, is_active=True, is_staff=True, merchant_staff__isnull=True)
        .exists()
    )


def is_operator_staff(user: Any) -> bool:
    """The same test for a user at hand (admin requests)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and merchant_id_for_user(user) is None
    )


def sees_personal_data(user: Any) -> bool:
    """Whether a staff user may see recipients' phones unmasked: operator
    staff, and merchant staff who work in Russia. Showing them to staff
    abroad would be a cross-border transfer (152-FZ art. 12), and packing
    abroad needs no phone; identity documents are masked for everyone."""
    if is_operator_staff(user):
        return True
    if merchant_id_for_user(user) is None:
        return False
    return getattr(user.merchant_staff, "country", "") == "RU"

"""Writes of accounts: buyers register themselves (consenting to the
processing of their personal data) and may keep one identity document for
customs in their profile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken

from accounts.models import Buyer, BuyerIdentity, PersonalDataConsent
from core.errors import Conflict, ValidationFailed
from core.identity import RecipientIdentity, identity_check


def buyer_register(
    *,
    email: str,
    password: str,
    personal_data_consent: bool,
    language: str = "ru",
    phone: str = "",
) -> User:
    """A buyer account and the record of the buyer's consent to the personal
    data policy in force (PERSONAL_DATA_POLICY_VERSION): no account without it."""
    if not personal_data_consent:
        raise ValidationFailed(
            _("An account needs your consent to the processing of personal data."),
            code="consent_required",
            fields={"personal_data_consent": [_("Required.")]},
        )
    User = get_user_model()
    email = User.objects.normalize_email(email).lower()
    with transaction.atomic():
        if User.objects.filter(username=email).exists():
            raise Conflict(_("An account with this e-mail already exists."), code="email_taken")
        user = User.objects.create_user(username=email, email=email, password=password)
        Buyer.objects.create(user=user, language=language, phone=phone)
        PersonalDataConsent.objects.create(
            user=user,
            policy_version=settings.AMUR["PERSONAL_DATA_POLICY_VERSION"],
            given_at=timezone.now(),
        )
    return user


def buyer_identity_save(*, buyer: Buyer, identity: RecipientIdentity) -> BuyerIdentity:
    """Save (or replace) the buyer's identity document for customs."""
    identity_check(identity, today=timezone.now().date())
    saved, _created = BuyerIdentity.objects.update_or_create(
        buyer=buyer, defaults=BuyerIdentity.values_of(identity)
    )
    return saved


def buyer_identity_delete(*, buyer: Buyer) -> bool:
    """Forget the saved identity document; orders keep the copy they were declared with."""
    deleted, _kinds = BuyerIdentity.objects.filter(buyer=buyer).delete()
    return deleted > 0


def token_create(*, user: Any) -> tuple[str, datetime | None]:
    """A new API token for the user: the key (shown once; only its digest is
    stored) and when it expires (API_TOKEN_TTL_HOURS)."""
    instance, key = AuthToken.objects.create(user=user)
    return key, instance.expiry


def token_revoke(*, token: AuthToken) -> None:
    AuthToken.objects.filter(digest=token.digest).delete()


def tokens_revoke_all(*, user_id: int) -> int:
    deleted, _per_model = AuthToken.objects.filter(user_id=user_id).delete()
    return deleted


def tokens_expired_purge(*, now: datetime) -> int:
    deleted, _per_model = AuthToken.objects.filter(expiry__lte=now).delete()
    return deleted

"""Writes of accounts: buyers register themselves."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Buyer
from core.errors import Conflict


def buyer_register(*, email: str, password: str, language: str = "ru", phone: str = "") -> User:
    User = get_user_model()
    email = User.objects.normalize_email(email).lower()
    with transaction.atomic():
        if User.objects.filter(username=email).exists():
            raise Conflict(_("An account with this e-mail already exists."), code="email_taken")
        user = User.objects.create_user(username=email, email=email, password=password)
        Buyer.objects.create(user=user, language=language, phone=phone)
    return user

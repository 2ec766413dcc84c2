"""Security for a real deployment: throttles shared between processes and
keyed on an address the client cannot choose; API tokens hashed, expiring
and revocable."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from tests.factories import BuyerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Any:
    cache.clear()
    yield
    cache.clear()


def token_request(client: Client, forwarded_for: str) -> int:
    response = client.post(
        "/api/v1/auth/token/",
        {"email": "nobody@example.ru", "password": "wrong-password"},
        content_type="application/json",
        HTTP_X_FORWARDED_FOR=forwarded_for,
        REMOTE_ADDR="198.51.100.7",
    )
    return response.status_code


def test_a_spoofed_x_forwarded_for_does_not_buy_more_attempts(client: Client) -> None:
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == 0
    statuses = [token_request(client, f"203.0.113.{n}") for n in range(21)]
    assert statuses == [400] * 20 + [429]


def test_behind_one_proxy_the_client_is_the_last_hop(client: Client, monkeypatch: Any) -> None:
    from rest_framework.settings import api_settings

    monkeypatch.setattr(api_settings, "NUM_PROXIES", 1)
    # The client forges the first entry; the proxy appends the real address.
    statuses = [token_request(client, f"10.0.0.{n}, 203.0.113.50") for n in range(21)]
    assert statuses == [400] * 20 + [429]
    assert token_request(client, "203.0.113.51") == 400  # another client, its own bucket


def test_throttle_counts_live_in_the_shared_cache_in_services_mode() -> None:
    backend = type(caches["default"]).__module__ + "." + type(caches["default"]).__name__
    if settings.REDIS_URL:
        assert backend == "django.core.cache.backends.redis.RedisCache"
        assert settings.CACHES["default"]["LOCATION"] == settings.REDIS_URL
    else:
        assert backend == "django.core.cache.backends.locmem.LocMemCache"


PASSWORD = "pass-2026-amur"


def login(client: Client, email: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/auth/token/",
        {"email": email, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def orders(client: Client, key: str) -> int:
    return client.get("/api/v1/orders/", HTTP_AUTHORIZATION=f"Token {key}").status_code


def test_tokens_are_stored_as_digests_and_expire(client: Client, settings: Any) -> None:
    buyer = BuyerFactory.create()
    buyer.user.set_password(PASSWORD)
    buyer.user.save()
    issued = login(client, buyer.user.email)
    key = issued["token"]
    assert len(key) == 64
    token = AuthToken.objects.get(user=buyer.user)
    assert key not in (token.digest, token.token_key) and token.digest != key
    ttl = settings.REST_KNOX["TOKEN_TTL"]
    assert ttl == timedelta(days=30)
    assert abs(token.expiry - (timezone.now() + ttl)) < timedelta(minutes=1)
    assert issued["expiry"] == token.expiry.isoformat().replace("+00:00", "Z")
    assert orders(client, key) == 200
    # A day after it expired: refused, whatever the key.
    AuthToken.objects.filter(digest=token.digest).update(expiry=timezone.now() - timedelta(days=1))
    assert orders(client, key) == 401
    from accounts.tasks import purge_expired_tokens

    assert purge_expired_tokens() == 1
    assert AuthToken.objects.count() == 0


def test_tokens_are_revoked_one_or_all(client: Client) -> None:
    user = BuyerFactory.create().user
    user.set_password(PASSWORD)
    user.save()
    first, second, third = (login(client, user.email)["token"] for _ in range(3))
    assert [orders(client, k) for k in (first, second, third)] == [200, 200, 200]
    revoke = client.post(
        "/api/v1/auth/token/revoke/",
        {},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {first}",
    )
    assert revoke.status_code == 204
    assert orders(client, first) == 401
    assert orders(client, second) == 200
    everything = client.post(
        "/api/v1/auth/token/revoke/",
        {"all": True},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {second}",
    )
    assert everything.status_code == 204
    assert [orders(client, k) for k in (second, third)] == [401, 401]


def test_existing_tokens_move_to_knox_and_keep_working(client: Client) -> None:
    import importlib

    from django.apps import apps
    from rest_framework.authtoken.models import Token

    buyer = BuyerFactory.create()
    old = Token.objects.create(user=buyer.user)
    migration = importlib.import_module("accounts.migrations.0004_tokens_to_knox")
    migration.move(apps, None)
    assert not Token.objects.exists()  # no key left in plain text
    moved = AuthToken.objects.get(user=buyer.user)
    assert moved.token_key == old.key[:15] and old.key not in moved.digest
    assert orders(client, old.key) == 200

"""Security for a real deployment: throttles shared between processes and
keyed on an address the client cannot choose; API tokens hashed, expiring
and revocable."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.test import Client

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

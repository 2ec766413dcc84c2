"""CORS: a browser storefront on a configured origin may call the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

SHOP = "https://shop.example.ru"


@pytest.fixture
def allowed(settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = [SHOP, "http://localhost:5173"]


def test_preflight_from_an_allowed_origin(db: Any, allowed: None, client: Client) -> None:
    response = client.options(
        "/api/v1/orders/",
        HTTP_ORIGIN=SHOP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, idempotency-key",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    allowed_headers = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed_headers
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Max-Age"] == "86400"
    # Token auth travels in a header: no cookies across origins.
    assert "Access-Control-Allow-Credentials" not in response


def test_simple_request_from_an_allowed_origin_sees_the_exposed_headers(
    world: Any, allowed: None, client: Client
) -> None:
    response = client.get("/api/v1/products/", HTTP_ORIGIN=SHOP)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SHOP
    exposed = {h.strip() for h in response["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"Idempotent-Replayed", "Retry-After"}


def test_a_refused_origin_gets_no_cors_headers(world: Any, allowed: None, client: Client) -> None:
    preflight = client.options(
        "/api/v1/orders/",
        HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert "Access-Control-Allow-Origin" not in preflight
    simple = client.get("/api/v1/products/", HTTP_ORIGIN="https://evil.example")
    # The server answers; the browser keeps the answer from the page.
    assert simple.status_code == 200
    assert "Access-Control-Allow-Origin" not in simple


def test_cors_covers_only_the_api(db: Any, allowed: None, client: Client) -> None:
    response = client.get("/healthz", HTTP_ORIGIN=SHOP)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response


def test_no_origin_is_allowed_by_default(world: Any, client: Client) -> None:
    from django.conf import settings

    assert settings.CORS_ALLOWED_ORIGINS == []
    response = client.get("/api/v1/products/", HTTP_ORIGIN=SHOP)
    assert "Access-Control-Allow-Origin" not in response

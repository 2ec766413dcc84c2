"""The schema's statements that schemathesis found missing, each next to
what the server does (issue #13)."""

from __future__ import annotations

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.conftest import World, client_for


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    generated: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return generated


def parameter(schema: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    [found] = [p for p in schema["paths"][path][method]["parameters"] if p["name"] == name]
    return found


def test_page_and_page_size_are_whole_numbers_in_range(world: World, schema: Any) -> None:
    assert parameter(schema, "/api/v1/orders/", "get", "page_size")["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
    }
    assert parameter(schema, "/api/v1/orders/", "get", "page")["schema"] == {
        "type": "integer",
        "minimum": 1,
    }
    client = client_for(world.buyer.user)
    for query, field, message in [
        ("page_size=null", "page_size", "Use a whole number from 1 to 100."),
        ("page_size=101", "page_size", "Use a whole number from 1 to 100."),
        ("page_size=0", "page_size", "Use a whole number from 1 to 100."),
        ("page=0", "page", "Use a whole number from 1 up."),
        ("page=%D9%A3", "page", "Use a whole number from 1 up."),  # an Arabic-Indic 3
    ]:
        response = client.get(f"/api/v1/orders/?{query}", HTTP_ACCEPT_LANGUAGE="en")
        assert (response.status_code, response.json()["fields"]) == (400, {field: [message]})
    assert client.get("/api/v1/orders/?page_size=100").status_code == 200


def test_an_empty_idempotency_key_is_refused_by_both(world: World, schema: Any) -> None:
    key = parameter(schema, "/api/v1/orders/", "post", "Idempotency-Key")
    assert (key["required"], key["schema"]["minLength"], key["schema"]["maxLength"]) == (
        True,
        1,
        255,
    )
    response = client_for(world.buyer.user).post(
        "/api/v1/orders/",
        world.order_body(("TEA-0001", 1)),
        format="json",
        HTTP_IDEMPOTENCY_KEY="",
    )
    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_invalid")


def test_nested_bodies_are_offered_and_taken_as_json_only(world: World, schema: Any) -> None:
    for path in ("/api/v1/checkout/quote/", "/api/v1/orders/", "/api/v1/courier/scans/"):
        assert list(schema["paths"][path]["post"]["requestBody"]["content"]) == ["application/json"]
    form = client_for(world.buyer.user).post(
        "/api/v1/orders/", {"payment_method": "card"}, HTTP_IDEMPOTENCY_KEY="form"
    )
    assert form.status_code == 415


def test_closed_bodies_say_so(schema: Any) -> None:
    components = schema["components"]["schemas"]
    assert components["SandboxConfirmInputRequest"]["additionalProperties"] is False
    assert components["OrderInputRequest"]["additionalProperties"] is False
    assert components["OrderInputRequest"]["properties"]["lines"]["minItems"] == 1
    assert components["OrderInputRequest"]["properties"]["lines"]["maxItems"] == 50
    confirm = schema["paths"]["/api/v1/payments/sandbox/confirm/{reference}/"]
    assert set(confirm["post"]["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
    }
    assert set(confirm["post"]["responses"]["200"]["content"]) == {"application/json", "text/html"}
    assert list(confirm["get"]["responses"]["200"]["content"]) == ["text/html"]


def test_the_sandbox_webhook_requires_its_signature_headers(schema: Any) -> None:
    operation = schema["paths"]["/api/v1/payments/webhooks/sandbox/"]["post"]
    headers = {p["name"]: p["required"] for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id": True, "webhook-timestamp": True, "webhook-signature": True}


def test_price_bounds_and_regions_are_in_the_schema(schema: Any) -> None:
    assert parameter(schema, "/api/v1/products/", "get", "max_price")["schema"] == {
        "type": "number",
        "minimum": 0,
        "maximum": 999_999_999_999.99,
        "multipleOf": 0.01,
    }
    region = parameter(schema, "/api/v1/listings/", "get", "region")["schema"]
    assert ("RU-MOW" in region["enum"], len(region["enum"])) == (True, 83)

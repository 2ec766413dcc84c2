"""Bad input over the real URL stack: a 4xx in the one error shape, and
nothing written."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from core.errors import ValidationFailed, json_permission_denied
from core.models import IdempotencyKey
from core.parsers import MAX_JSON_DEPTH, BoundedJSONParser, contains_nul, json_depth_exceeds
from notifications.models import OutboxEvent, WebhookSubscription
from orders.models import Order, OrderEvent
from payments.models import Payment
from tests.conftest import World, client_for
from tests.factories import UserFactory

ERROR_KEYS = {"code", "message", "fields"}
WRITTEN = (IdempotencyKey, Order, OrderEvent, Payment, OutboxEvent, WebhookSubscription)


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in WRITTEN}


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body: dict[str, Any] = json.loads(response.content)
    assert set(body) == ERROR_KEYS
    assert body["code"] == code
    return body


def placed(world: World, key: str = "place-1") -> dict[str, Any]:
    response = client_for(world.buyer.user).post(
        "/api/v1/orders/",
        world.order_body(("TEA-0001", 1)),
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert response.status_code == 201, response.json()
    order: dict[str, Any] = response.json()
    return order


def post_raw(client: APIClient, path: str, body: str | bytes, **extra: Any) -> Any:
    # Django's test client sends bytes as they are; the stubs only know str.
    return client.generic("POST", path, body, content_type="application/json", **extra)  # type: ignore[arg-type]


def post_order_to(world: World, **address: str) -> Any:
    """POST /orders/ as JSON text (the NUL escaped, as a client sends it),
    with the address changed as given."""
    body = world.order_body(("TEA-0001", 1))
    body["shipping_address"].update(address)
    text = json.dumps(body)
    return post_raw(client_for(world.buyer.user), "/api/v1/orders/", text, HTTP_IDEMPOTENCY_KEY="k")


def deep_array(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


# 1. JSON nested 50,000 deep, and the NUL character in JSON text.


@pytest.mark.parametrize("body", [deep_array(50_000), deep_object(50_000)], ids=["array", "object"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders/",
        "/api/v1/checkout/quote/",
        "/api/v1/webhooks/",
    ],
)
def test_json_nested_50000_deep_is_400_and_writes_nothing(
    world: World, path: str, body: str
) -> None:
    before = row_counts()
    response = post_raw(client_for(world.buyer.user), path, body, HTTP_IDEMPOTENCY_KEY="deep-1")
    error = error_of(response, 400, "json_too_deep")
    assert error["fields"] == {}
    assert row_counts() == before


def test_json_nested_deep_from_a_courier_or_a_stranger_is_400(world: World, courier: Any) -> None:
    before = row_counts()
    scans = post_raw(client_for(courier.user), "/api/v1/courier/scans/", deep_array(50_000))
    error_of(scans, 400, "json_too_deep")
    token = post_raw(APIClient(), "/api/v1/auth/token/", deep_object(50_000))
    error_of(token, 400, "json_too_deep")
    assert row_counts() == before


def test_json_nested_deep_on_an_order_command_is_400_and_writes_nothing(world: World) -> None:
    number = placed(world)["number"]
    before = row_counts()
    client = client_for(world.buyer.user)
    for action in ("pay", "cancel"):
        response = post_raw(
            client,
            f"/api/v1/orders/{number}/{action}/",
            deep_object(50_000),
            HTTP_IDEMPOTENCY_KEY=f"deep-{action}",
        )
        error_of(response, 400, "json_too_deep")
    assert row_counts() == before
    assert Order.objects.get(number=number).status == "pending_payment"


def test_json_at_the_depth_limit_is_parsed_one_deeper_is_not(world: World) -> None:
    client = client_for(world.buyer.user)
    at_limit = post_raw(client, "/api/v1/checkout/quote/", deep_array(MAX_JSON_DEPTH))
    # Parsed: the serializer, not the parser, refuses a list for an order.
    assert error_of(at_limit, 400, "invalid")["fields"] != {}
    deeper = post_raw(client, "/api/v1/checkout/quote/", deep_array(MAX_JSON_DEPTH + 1))
    error_of(deeper, 400, "json_too_deep")


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "The JSON body is nested too deeply (at most 64 levels)."),
        ("ru", "Тело JSON вложено слишком глубоко (не более 64 уровней)."),
        ("zh-hans", "JSON 请求体嵌套过深（最多 64 层）。"),
    ],
)
def test_the_depth_message_is_in_the_callers_language(
    world: World, language: str, message: str
) -> None:
    response = post_raw(
        client_for(world.buyer.user),
        "/api/v1/checkout/quote/",
        deep_array(100),
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert error_of(response, 400, "json_too_deep")["message"] == message


def test_nul_in_a_json_string_is_400_and_writes_nothing(world: World) -> None:
    before = row_counts()
    response = post_order_to(world, city="Екатеринбург\u0000")
    error_of(response, 400, "null_character")
    assert row_counts() == before


def test_nul_in_a_json_key_is_400(world: World) -> None:
    response = post_raw(
        client_for(world.buyer.user),
        "/api/v1/webhooks/",
        '{"url\\u0000": "https://shop.example/hook", "events": ["order.paid"]}',
    )
    error_of(response, 400, "null_character")
    assert WebhookSubscription.objects.count() == 0


def test_broken_json_is_still_malformed_request(world: World) -> None:
    response = post_raw(client_for(world.buyer.user), "/api/v1/checkout/quote/", '{"lines": [')
    error_of(response, 400, "malformed_request")
    invalid_utf8 = post_raw(
        client_for(world.buyer.user), "/api/v1/checkout/quote/", b'{"a": "\xff"}'
    )
    error_of(invalid_utf8, 400, "malformed_request")


def test_depth_is_counted_outside_strings_only() -> None:
    assert json_depth_exceeds('["' + "[" * 100 + '"]', 2) is False
    assert json_depth_exceeds('["\\"' + "[" * 100 + '"]', 2) is False
    assert json_depth_exceeds('[{"a": [1]}]', 3) is False
    assert json_depth_exceeds('[{"a": [1]}]', 2) is True
    # Siblings do not add up: depth is how far in, not how many.
    assert json_depth_exceeds("[[], [], [], []]", 2) is False
    assert json_depth_exceeds('[[], [], {"b": {}}]', 3) is False
    assert json_depth_exceeds('[[], [], {"b": {}}]', 2) is True
    # An escaped backslash ends before the quote, which then closes the string.
    assert json_depth_exceeds('["\\\\", [[1]]]', 2) is True
    assert json_depth_exceeds('{"k": "a\\"]]]]", "v": {}}', 1) is True
    # Unterminated, the string hides nothing: the json module would fail there.
    assert json_depth_exceeds('["abc [[[', 3) is True


def test_a_backslash_before_u0000_is_text_not_nul() -> None:
    parser = BoundedJSONParser()
    body = rb'{"note": "C:\\u0000", "n": [1]}'
    assert parser.parse(io.BytesIO(body)) == {"note": "C:\\u0000", "n": [1]}
    with pytest.raises(ValidationFailed):
        parser.parse(io.BytesIO(rb'{"note": "C:\u0000"}'))


def test_nul_is_found_anywhere_in_parsed_json() -> None:
    assert contains_nul({"a": [{"b": ["x", "y\x00"]}]}) is True
    assert contains_nul({"a\x00": 1}) is True
    assert contains_nul({"a": [1, 2.5, None, True, "\\u0000"]}) is False


# 2. NUL in path ids, query strings and headers.


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders/AM2612%00X/",
        "/api/v1/orders/AM2612%00X/events/",
        "/api/v1/tracking/RR%00/",
        "/api/v1/ops/warehouses/HRB%00/pick-list/",
        "/api/v1/ops/lanes/HRB%00/plan/",
        "/api/v1/webhooks/1%00/",
    ],
)
def test_nul_in_a_path_id_is_a_json_404(world: World, path: str) -> None:
    error_of(client_for(world.buyer.user).get(path), 404, "not_found")


def test_nul_in_a_path_id_of_a_command_is_404_and_writes_nothing(world: World) -> None:
    before = row_counts()
    response = client_for(world.buyer.user).post(
        "/api/v1/orders/AM2612%00X/cancel/", HTTP_IDEMPOTENCY_KEY="nul-path"
    )
    error_of(response, 404, "not_found")
    assert row_counts() == before


@pytest.mark.parametrize(
    "path",
    ["/api/v1/orders/?search=%00", "/api/v1/products/?search=tea%00", "/api/v1/products/?%00=1"],
)
def test_nul_in_a_query_parameter_is_400(world: World, path: str) -> None:
    error = error_of(client_for(world.buyer.user).get(path), 400, "invalid_query")
    assert len(error["fields"]) == 1


@pytest.mark.parametrize("value", ["abc\x00", "abc\x01def", "line\nbreak"])
def test_control_characters_in_the_idempotency_key_are_400_and_write_nothing(
    world: World, value: str
) -> None:
    before = row_counts()
    response = client_for(world.buyer.user).post(
        "/api/v1/orders/",
        world.order_body(("TEA-0001", 1)),
        format="json",
        HTTP_IDEMPOTENCY_KEY=value,
    )
    error = error_of(response, 400, "invalid_header")
    assert list(error["fields"]) == ["Idempotency-Key"]
    assert row_counts() == before


def test_nul_in_the_authorization_header_is_400(world: World) -> None:
    response = APIClient().get("/api/v1/orders/", HTTP_AUTHORIZATION="Token abc\x00def")
    error = error_of(response, 400, "invalid_header")
    assert list(error["fields"]) == ["Authorization"]


def test_a_tab_and_non_ascii_in_headers_are_accepted(world: World) -> None:
    response = client_for(world.buyer.user).get(
        "/api/v1/orders/", HTTP_USER_AGENT="Shop\tApp Иван".encode().decode("latin-1")
    )
    assert response.status_code == 200


def test_outside_the_api_bad_input_gets_the_html_pages(db: Any) -> None:
    browser = Client()
    nul_path = browser.get("/admin/orders/order/%00/change/")
    assert nul_path.status_code == 404
    assert nul_path["Content-Type"].startswith("text/html")
    nul_query = browser.get("/track/RR123456785CN?x=%00")
    assert nul_query.status_code == 400
    assert nul_query["Content-Type"].startswith("text/html")
    # The tracking page keeps its own page for a number it does not know.
    unknown = browser.get("/track/RR000000000CN")
    assert unknown.status_code == 404
    assert "RR000000000CN" in unknown.content.decode()


# 3. Ids that cannot exist, on the endpoints that take an Idempotency-Key.


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders/{long}/cancel/",
        "/api/v1/orders/{long}/pay/",
        "/api/v1/ops/orders/{long}/review/",
        "/api/v1/ops/orders/{long}/pack/",
        "/api/v1/ops/payments/{digits}/refund/",
        "/api/v1/ops/couriers/{digits}/remittances/",
        "/api/v1/payments/sandbox/confirm/{long}/",
    ],
)
def test_a_1000_character_id_is_404_before_any_view_and_writes_nothing(
    world: World, path: str
) -> None:
    staff = client_for(UserFactory.create(email="ops@amur.example", is_staff=True))
    before = row_counts()
    url = path.format(long="AM2612" + "A" * 994, digits="1" * 1000)
    response = staff.post(url, {"token": "tok_approve"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    error_of(response, 404, "not_found")
    assert row_counts() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/orders/am2612abcdefghjk/",  # lower case: never issued
        "/api/v1/orders/AM26120000000000X/",  # one character too many
        "/api/v1/orders/AM0000NOPE/",
        "/api/v1/tracking/RR12345678CN/",  # a digit short
        "/api/v1/webhooks/0/",
        "/api/v1/webhooks/0012/",
        "/api/v1/webhooks/9999999999999999999999/",  # beyond a bigint
        "/api/v1/ops/warehouses/HRBHRBHRB/pick-list/",  # longer than Warehouse.code
        "/api/v1/ops/departures/-1/manifest/",
    ],
)
def test_ids_that_cannot_exist_are_a_json_404(world: World, path: str) -> None:
    error_of(client_for(world.buyer.user).get(path), 404, "not_found")


def test_routes_still_reverse_and_resolve_their_ids(world: World) -> None:
    from django.urls import resolve, reverse

    order = placed(world)
    url = reverse("order-detail", kwargs={"number": order["number"]})
    assert url == f"/api/v1/orders/{order['number']}/"
    assert client_for(world.buyer.user).get(url).json()["number"] == order["number"]
    match = resolve("/api/v1/ops/departures/42/status/")
    assert match.url_name == "ops-departure-status"
    assert match.kwargs == {"departure_id": 42}
    assert resolve("/api/v1/tracking/rr123456785cn/").kwargs == {"tracking_number": "rr123456785cn"}


def test_the_schema_describes_the_path_patterns(db: Any) -> None:
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    def schema_of(path: str, method: str = "get") -> dict[str, Any]:
        (parameter,) = [p for p in paths[path][method]["parameters"] if p["in"] == "path"]
        return dict(parameter["schema"])

    assert schema_of("/api/v1/orders/{number}/") == {
        "type": "string",
        "pattern": "^AM[0-9]{4}[0-9A-Z]{10}$",
    }
    assert schema_of("/api/v1/tracking/{tracking_number}/")["pattern"] == (
        "^[A-Za-z]{2}[0-9]{9}[A-Za-z]{2}$"
    )
    assert schema_of("/api/v1/ops/payments/{payment_id}/refund/", "post") == {
        "type": "integer",
        "minimum": 1,
        "maximum": 10**18 - 1,
    }


# 4. Over-size bodies, and Django's own 400 and 403 under /api/.


def test_a_json_body_over_the_upload_limit_is_413_and_writes_nothing(world: World) -> None:
    before = row_counts()
    response = post_order_to(world, street="x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    error_of(response, 413, "request_too_large")
    assert row_counts() == before


def test_a_file_upload_over_the_limit_is_413(world: World) -> None:
    upload = SimpleUploadedFile("big.csv", b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
    before = row_counts()
    response = client_for(world.buyer.user).post(
        "/api/v1/orders/", {"file": upload}, format="multipart", HTTP_IDEMPOTENCY_KEY="file"
    )
    error_of(response, 413, "request_too_large")
    assert row_counts() == before


def test_too_many_files_is_413_and_writes_nothing(world: World) -> None:
    files = {
        f"file{i}": SimpleUploadedFile(f"{i}.txt", b"x")
        for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)
    }
    before = row_counts()
    # Orders take JSON only (a 415 before any file is read); webhooks take forms.
    response = client_for(world.buyer.user).post(
        "/api/v1/webhooks/", files, format="multipart", HTTP_IDEMPOTENCY_KEY="files"
    )
    error_of(response, 413, "request_too_large")
    assert row_counts() == before


def test_too_many_query_parameters_is_413(world: World) -> None:
    query = "&".join(f"p{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = client_for(world.buyer.user).get(f"/api/v1/orders/?{query}")
    error_of(response, 413, "request_too_large")


def test_a_disallowed_host_is_a_json_400_under_the_api_and_html_elsewhere(db: Any) -> None:
    api = APIClient().get("/api/v1/products/", HTTP_HOST="evil.example")
    error_of(api, 400, "bad_request")
    admin = Client().get("/admin/", HTTP_HOST="evil.example")
    assert admin.status_code == 400
    assert admin["Content-Type"].startswith("text/html")


def test_django_permission_denied_is_json_under_the_api_only() -> None:
    factory = RequestFactory()
    api = json_permission_denied(factory.get("/api/v1/orders/"), PermissionDenied())
    error_of(api, 403, "forbidden")
    admin = json_permission_denied(factory.get("/admin/"), PermissionDenied())
    assert admin.status_code == 403
    assert admin["Content-Type"].startswith("text/html")

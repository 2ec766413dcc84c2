"""Idempotency-Key on POSTs that create something."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from core.idempotency import PATH_MAX_LENGTH, idempotent, request_fingerprint
from core.models import IdempotencyKey
from notifications.models import OutboxEvent
from orders.models import Order
from payments.models import Payment
from tests.conftest import World, client_for
from tests.factories import UserFactory


def post_order(world: World, key: str | None, *lines: tuple[str, int]) -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client_for(world.buyer.user).post(
        "/api/v1/orders/",
        world.order_body(*(lines or (("TEA-0001", 1),))),
        format="json",
        **headers,
    )


def key_of_an_order(world: World, key: str, **fields: Any) -> IdempotencyKey:
    """The row a POST of post_order's default body leaves, as `fields` say."""
    body = world.order_body(("TEA-0001", 1))
    return IdempotencyKey.objects.create(
        user=world.buyer.user,
        key=key,
        fingerprint=request_fingerprint(method="POST", path="/api/v1/orders/", data=body),
        method="POST",
        path="/api/v1/orders/",
        locked_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=24),
        **fields,
    )


def test_missing_key_on_order_create_is_400(world: World) -> None:
    response = post_order(world, None)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert Order.objects.count() == 0


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_key_of_bad_length_is_400(world: World, key: str) -> None:
    response = post_order(world, key)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"


def test_same_key_and_body_replays_the_first_response(world: World) -> None:
    first = post_order(world, "abc")
    second = post_order(world, "abc")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 1


def test_same_key_different_body_is_422(world: World) -> None:
    post_order(world, "abc")
    response = post_order(world, "abc", ("BOOT-0002", 1))
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_same_key_while_first_is_running_is_409(world: World) -> None:
    # What the first request leaves while it runs: its key, claimed, not complete.
    key_of_an_order(world, "busy")
    response = post_order(world, "busy")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_request_in_progress"
    assert Order.objects.count() == 0


def test_keys_are_scoped_to_the_caller(world: World) -> None:
    post_order(world, "shared")
    other = client_for(world.other_buyer.user).post(
        "/api/v1/orders/",
        world.order_body(("TEA-0001", 1)),
        format="json",
        HTTP_IDEMPOTENCY_KEY="shared",
    )
    assert other.status_code == 201
    assert Order.objects.count() == 2


def test_failed_requests_are_not_stored_and_may_be_retried(world: World) -> None:
    failed = post_order(world, "retry", ("BOOT-0002", 500))
    assert failed.status_code == 409
    assert not IdempotencyKey.objects.filter(key="retry").exists()
    invalid = client_for(world.buyer.user).post(
        "/api/v1/orders/", {"lines": []}, format="json", HTTP_IDEMPOTENCY_KEY="retry"
    )
    assert invalid.status_code == 400
    assert not IdempotencyKey.objects.filter(key="retry").exists()


def test_keys_are_kept_24_hours_then_purged(world: World) -> None:
    from core.idempotency import idempotency_keys_purge

    post_order(world, "old")
    row = IdempotencyKey.objects.get(key="old")
    assert row.expires_at - row.locked_at == timedelta(hours=24)
    assert idempotency_keys_purge() == 0
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency_keys_purge() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_identical_requests_create_one_order(world: World) -> None:
    client_for(world.buyer.user)  # token first, outside the race
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(10)

    def worker() -> None:
        try:
            start.wait()
            response = post_order(world, "race")
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Order.objects.count() == 1
    assert statuses.count(201) >= 1
    assert set(statuses) <= {201, 409}
    assert len(statuses) == 10


# Replays send the first response's very bytes.


def test_a_replayed_order_is_byte_identical(world: World) -> None:
    first = post_order(world, "bytes", ("TEA-0001", 2), ("BOOT-0002", 1))
    second = post_order(world, "bytes", ("TEA-0001", 2), ("BOOT-0002", 1))
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"] == "application/json"
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Order.objects.count() == 1
    row = IdempotencyKey.objects.get(key="bytes")
    assert row.response_content is not None
    assert bytes(row.response_content) == first.content
    assert row.response_body is None


def test_a_replayed_payment_is_byte_identical(world: World) -> None:
    number = post_order(world, "order-for-pay").json()["number"]
    client = client_for(world.buyer.user)

    def pay() -> Any:
        return client.post(
            f"/api/v1/orders/{number}/pay/",
            {"token": "tok_approve"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="pay-once",
        )

    first = pay()
    assert first.status_code == 201, first.json()
    events = OutboxEvent.objects.count()
    second = pay()
    assert second.status_code == 201
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1
    assert OutboxEvent.objects.count() == events


@pytest.mark.postgres
def test_replay_bytes_survive_jsonb_reordering_keys(world: World) -> None:
    """What the old column did on PostgreSQL: jsonb keeps an object's keys in
    its own order (shortest first), so the JSON it gave back, rendered again,
    was not the response sent."""
    first = post_order(world, "jsonb")
    IdempotencyKey.objects.filter(key="jsonb").update(response_body=first.json())
    stored = IdempotencyKey.objects.get(key="jsonb").response_body
    assert stored == first.json()
    assert list(stored) != list(first.json())
    second = post_order(world, "jsonb")
    assert second.content == first.content


def test_rows_stored_before_the_bytes_were_kept_still_replay(world: World) -> None:
    stored = {"number": "AM2601ABCDEFGHJK", "status": "pending_payment"}
    key_of_an_order(
        world,
        "legacy",
        status=IdempotencyKey.Status.COMPLETE,
        response_status=201,
        response_body=stored,
    )
    response = post_order(world, "legacy")
    assert response.status_code == 201
    assert response.json() == stored
    assert response["Idempotent-Replayed"] == "true"
    assert Order.objects.count() == 0


# The layer itself, whatever the route lets through.


class EchoView(APIView):
    @idempotent()
    def post(self, request: Request) -> Response:
        return Response({"path_length": len(request.path)}, status=201)


def echo(world: World, path: str, key: str) -> Any:
    request = APIRequestFactory().post(path, {"a": 1}, format="json", HTTP_IDEMPOTENCY_KEY=key)
    force_authenticate(request, user=world.buyer.user)
    response = EchoView.as_view()(request)
    if isinstance(response, Response):  # a replay is sent as stored
        response.render()
    return response


def test_a_path_longer_than_the_column_is_stored_cut_and_fingerprinted_whole(
    world: World,
) -> None:
    long_path = "/api/v1/" + "a" * 1000
    first = echo(world, long_path, "long")
    assert first.status_code == 201
    row = IdempotencyKey.objects.get(key="long")
    assert row.path == long_path[:PATH_MAX_LENGTH]
    assert len(row.path) == PATH_MAX_LENGTH == 500
    replay = echo(world, long_path, "long")
    assert replay.content == first.content == b'{"path_length":1008}'
    # The same first 500 characters, another path: another request.
    other = echo(world, long_path + "b", "long")
    assert other.status_code == 422
    assert other.data["code"] == "idempotency_key_reused"
    assert IdempotencyKey.objects.count() == 1


def test_a_key_with_control_characters_is_refused_by_the_layer_too(world: World) -> None:
    response = echo(world, "/api/v1/echo/", "tab\there")
    assert response.status_code == 201
    refused = echo(world, "/api/v1/echo/", "bell\x07")
    assert refused.status_code == 400
    assert refused.data["code"] == "idempotency_key_invalid"
    assert IdempotencyKey.objects.filter(key__startswith="bell").count() == 0


def test_the_admin_shows_a_stored_response_as_text(world: World) -> None:
    first = post_order(world, "shown")
    row = IdempotencyKey.objects.get(key="shown")
    root = UserFactory.create(email="root@amur.example", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(root)
    page = browser.get(f"/admin/core/idempotencykey/{row.id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    number = first.json()["number"]
    assert f"&quot;number&quot;:&quot;{number}&quot;" in html
    assert "b&#x27;{" not in html  # the text, not Python's repr of the bytes

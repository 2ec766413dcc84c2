"""Idempotency-Key on POSTs that create something."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from core.idempotency import request_fingerprint
from core.models import IdempotencyKey
from orders.models import Order
from tests.conftest import World, client_for


def post_order(world: World, key: str | None, *lines: tuple[str, int]) -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client_for(world.buyer.user).post(
        "/api/v1/orders/",
        world.order_body(*(lines or (("TEA-0001", 1),))),
        format="json",
        **headers,
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
    body = world.order_body(("TEA-0001", 1))
    # What the first request leaves while it runs: its key, claimed, not complete.
    IdempotencyKey.objects.create(
        user=world.buyer.user,
        key="busy",
        fingerprint=request_fingerprint(method="POST", path="/api/v1/orders/", data=body),
        method="POST",
        path="/api/v1/orders/",
        locked_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=24),
    )
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

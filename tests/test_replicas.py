"""Reads that tolerate lag go to the read replica (core.replicas): here a
second alias mirroring the test database (TEST MIRROR), as a streaming
replica mirrors the primary."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connections, router
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.replicas import replica_configured, replica_reads
from shipping.tracking.models import TrackingEvent
from tests.conftest import World
from tests.factories import UserFactory
from tests.test_tracking_life import packed_parcel

# The replica alias exists on PostgreSQL only; on SQLite these tests skip.
ALIASES = ["default", "replica"] if "replica" in django_settings.DATABASES else ["default"]


def _tables(queries: CaptureQueriesContext) -> set[str]:
    names = {"shipping_parcel", "shipping_trackingevent", "catalogue_listing", "catalogue_product"}
    return {name for q in queries.captured_queries for name in names if name in q["sql"]}


def _both() -> tuple[CaptureQueriesContext, CaptureQueriesContext]:
    return CaptureQueriesContext(connections["default"]), CaptureQueriesContext(
        connections["replica"]
    )


@pytest.mark.parametrize("path", ["/api/v1/tracking/{number}/", "/track/{number}"])
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=ALIASES)
def test_public_tracking_reads_the_replica(world: World, settings: Any, path: str) -> None:
    settings.READ_REPLICA_ENABLED = True
    parcel = packed_parcel(world)
    primary, replica = _both()

    with primary, replica:
        response = APIClient().get(path.format(number=parcel.tracking_number))

    assert response.status_code == 200
    assert _tables(replica) == {"shipping_parcel", "shipping_trackingevent"}
    assert _tables(primary) == set()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=ALIASES)
def test_catalogue_lists_read_the_replica(world: World, settings: Any) -> None:
    settings.READ_REPLICA_ENABLED = True
    primary, replica = _both()

    with primary, replica:
        response = APIClient().get("/api/v1/listings/")

    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert "catalogue_listing" in _tables(replica)
    assert "catalogue_listing" not in _tables(primary)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=ALIASES)
def test_admin_lists_of_the_large_tables_read_the_replica(
    world: World, settings: Any, client: Any
) -> None:
    settings.READ_REPLICA_ENABLED = True
    packed_parcel(world)
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    primary, replica = _both()

    with primary, replica:
        response = client.get("/admin/shipping/trackingevent/")

    assert response.status_code == 200
    assert "shipping_trackingevent" in _tables(replica)
    assert "shipping_trackingevent" not in _tables(primary)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=ALIASES)
def test_without_a_replica_everything_reads_the_primary(world: World, settings: Any) -> None:
    settings.READ_REPLICA_ENABLED = False
    parcel = packed_parcel(world)
    primary, replica = _both()

    with primary, replica:
        response = APIClient().get(f"/api/v1/tracking/{parcel.tracking_number}/")

    assert response.status_code == 200
    assert _tables(primary) == {"shipping_parcel", "shipping_trackingevent"}
    assert replica.captured_queries == []


def test_writes_and_other_reads_stay_on_the_primary(db: Any, settings: Any) -> None:
    settings.READ_REPLICA_ENABLED = True
    expected = "replica" if replica_configured() else "default"

    with replica_reads():
        assert TrackingEvent.objects.all().db == expected
        assert router.db_for_write(TrackingEvent) == "default"
    assert TrackingEvent.objects.all().db == "default"


def test_the_embedded_stack_has_no_replica(db: Any) -> None:
    if connections["default"].vendor == "postgresql":
        pytest.skip("SQLite behaviour")
    with replica_reads():
        assert TrackingEvent.objects.all().db == "default"

"""Web nodes hold no state of their own: two gunicorn servers on one
database serve the same sessions, idempotent replays and tracking, one of
them reading through DATABASE_REPLICA_URL."""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.conftest import World
from tests.factories import PASSWORD, UserFactory, token_for
from tests.servers import gunicorn_server, served_database_url
from tests.test_tracking_life import packed_parcel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_web_nodes_share_sessions_replays_and_tracking(world: World) -> None:
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    # The servers check passwords with the production hasher, not the tests' MD5.
    hasher = PBKDF2PasswordHasher()
    staff.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    staff.save(update_fields=["password"])
    parcel = packed_parcel(world)
    headers = {"Authorization": f"Token {token_for(world.buyer.user)}"}
    body = world.order_body(("TEA-0001", 1))
    key = str(uuid.uuid4())
    with (
        gunicorn_server(workers=1) as a,
        gunicorn_server(workers=1, DATABASE_REPLICA_URL=served_database_url()) as b,
    ):
        browser = requests.Session()
        form = browser.get(f"{a}/admin/login/", timeout=30).text
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert csrf is not None
        login = browser.post(
            f"{a}/admin/login/?next=/admin/",
            data={
                "username": staff.get_username(),
                "password": PASSWORD,
                "csrfmiddlewaretoken": csrf.group(1),
            },
            headers={"Referer": f"{a}/admin/login/"},
            timeout=30,
            allow_redirects=False,
        )
        assert login.status_code == 302
        on_b = browser.get(f"{b}/admin/", timeout=30, allow_redirects=False)

        placed = requests.post(
            f"{a}/api/v1/orders/",
            json=body,
            headers={**headers, "Idempotency-Key": key},
            timeout=30,
        )
        replayed = requests.post(
            f"{b}/api/v1/orders/",
            json=body,
            headers={**headers, "Idempotency-Key": key},
            timeout=30,
        )
        tracked = requests.get(f"{b}/api/v1/tracking/{parcel.tracking_number}/", timeout=30)

    assert on_b.status_code == 200  # the session made on node a
    assert placed.status_code == replayed.status_code == 201
    assert replayed.content == placed.content
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert tracked.status_code == 200
    assert tracked.json()["tracking_number"] == parcel.tracking_number

"""The whole order-to-delivery path over HTTP, shared by the embedded test
and the services test (PostgreSQL, Redis and a real Celery worker)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from tests.factories import PASSWORD, CourierFactory, UserFactory, token_for


class Http:
    """Minimal JSON client over either Django's test client or real HTTP."""

    def __init__(self, send: Callable[..., tuple[int, Any]]) -> None:
        self.send = send
        self.token: str | None = None

    def __call__(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        if self.token:
            headers.setdefault("Authorization", f"Token {self.token}")
        return self.send(method, path, body, headers)


IDENTITY_BODY = {
    "passport_series": "4509",
    "passport_number": "731902",
    "passport_issued_on": "2015-02-10",
    "birth_date": "1990-05-17",
    "inn": "500100732259",
}


def run_order_to_delivery(
    http: Http, staff: Http, courier_http: Http, hook_url: str
) -> dict[str, Any]:
    """Drive the path; returns what the assertions need."""
    status, body = http(
        "POST",
        "/api/v1/auth/register/",
        {"email": "buyer@example.ru", "password": PASSWORD, "personal_data_consent": True},
    )
    assert status == 201, body
    status, body = http(
        "POST", "/api/v1/auth/token/", {"email": "buyer@example.ru", "password": PASSWORD}
    )
    assert status == 200, body
    http.token = body["token"]

    # Saved once: every order that crosses the border is declared with it.
    status, body = http("PUT", "/api/v1/account/recipient-identity/", IDENTITY_BODY)
    assert status == 200, body
    assert body["inn"] == "50**********"

    status, body = http("POST", "/api/v1/webhooks/", {"url": hook_url})
    assert status == 201, body
    secret = body["secret"]

    status, body = http("GET", "/api/v1/products/?search=TEA")
    assert status == 200 and body["count"] == 1, body
    sku = body["results"][0]["sku"]

    order_body = {
        # One merchant's goods: one fulfilment order, one parcel to follow.
        "lines": [{"sku": sku, "quantity": 3}],
        "shipping_address": {
            "recipient_name": "Иван Петров",
            "recipient_phone": "+79221234567",
            "region": "RU-SVE",
            "city": "Екатеринбург",
            "postcode": "620014",
            "street": "ул. Малышева, 51",
        },
        "payment_method": "card",
    }
    status, quote = http("POST", "/api/v1/checkout/quote/", order_body)
    assert status == 200, quote
    status, order = http("POST", "/api/v1/orders/", order_body, **{"Idempotency-Key": "order-1"})
    assert status == 201, order
    assert order["totals"] == quote["totals"]
    number = order["number"]

    status, body = http("POST", f"/api/v1/orders/{number}/pay/", {"token": "tok_approve"})
    assert status == 201, body

    status, parcels = staff("POST", f"/api/v1/ops/orders/{number}/pack/", {})
    assert status == 201, parcels
    tracking = parcels[0]["tracking_number"]
    lane = parcels[0]["lane"]

    status, plan = staff("POST", f"/api/v1/ops/lanes/{lane}/plan/")
    assert status == 200 and plan["assigned"] == 1, plan
    status, departures = staff("GET", f"/api/v1/ops/departures/?lane={lane}&status=scheduled")
    departure_id = departures["results"][0]["id"]
    for step in ("closed", "departed", "arrived"):
        status, body = staff(
            "POST", f"/api/v1/ops/departures/{departure_id}/status/", {"status": step}
        )
        assert status == 200, body

    now = timezone.now()
    scans = [
        ("customs_presented", 1),
        ("customs_released", 2),
        ("out_for_delivery", 3),
        ("delivered", 4),
    ]
    status, body = courier_http(
        "POST",
        "/api/v1/courier/scans/",
        {
            "scans": [
                {
                    "scan_id": f"scan-{event}",
                    "tracking_number": tracking,
                    "event": event,
                    "occurred_at": (now + timedelta(minutes=minutes)).isoformat(),
                    "location": "Екатеринбург",
                }
                for event, minutes in scans
            ]
        },
    )
    assert status == 200 and body["accepted"] == 4, body

    # Scans reach their parcel after the request (in process on the embedded
    # stack, by a worker on the services stack): wait for the delivery.
    deadline = time.monotonic() + 30
    while True:
        status, final = http("GET", f"/api/v1/orders/{number}/")
        if final["status"] == "delivered" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    status, track = http("GET", f"/api/v1/tracking/{tracking}/")
    assert status == 200, track
    status, events = http("GET", f"/api/v1/orders/{number}/events/")
    return {
        "number": number,
        "tracking": tracking,
        "track": track,
        "order": final,
        "order_events": events,
        "secret": secret,
        "buyer_token": http.token,
    }


def make_staff_and_courier() -> tuple[str, str]:
    staff = UserFactory.create(email="ops@amur.example", is_staff=True)
    courier = CourierFactory.create(
        user=UserFactory.create(email="courier@example.ru"), regions=["RU-SVE"]
    )
    from shipping.linehaul.models import Lane

    courier.lanes.set(Lane.objects.all())
    return token_for(staff), token_for(courier.user)


def expected_status_changes(number: str, tracking: str) -> int:
    """Every order transition and every parcel status change is one webhook."""
    from orders.models import OrderEvent
    from shipping.fulfilment.models import Parcel

    parcel = Parcel.objects.get(tracking_number=tracking)
    return OrderEvent.objects.filter(order__number=number).count() + parcel.event_seq

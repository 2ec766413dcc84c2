"""The whole path on the embedded stack: tasks run in process after commit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from notifications.models import WebhookDelivery
from notifications.signing import signature_verify
from tests.flow import Http, expected_status_changes, make_staff_and_courier, run_order_to_delivery
from tests.receiver import webhook_receiver


def django_http(client: Client, token: str | None = None) -> Http:
    def send(method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        extra: dict[str, Any] = {
            f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()
        }
        response = client.generic(
            method,
            path,
            json.dumps(body) if body is not None else "",
            content_type="application/json",
            **extra,
        )
        return response.status_code, response.json() if response.content else None

    http = Http(send)
    http.token = token
    return http


@pytest.mark.django_db(transaction=True)
def test_order_to_delivery_over_http_pushes_one_signed_webhook_per_status_change(
    world: Any,
) -> None:
    staff_token, courier_token = make_staff_and_courier()
    with webhook_receiver() as receiver:
        result = run_order_to_delivery(
            django_http(Client()),
            django_http(Client(), staff_token),
            django_http(Client(), courier_token),
            receiver.url,
        )
        received = list(receiver.received)

    assert result["order"]["status"] == "delivered"
    timeline = [(e["event"], e["status"], e["emsevt"]) for e in result["track"]["events"]]
    assert timeline == [
        ("label_created", "info_received", ""),
        ("loaded", "", "EMB"),
        ("departed", "in_transit", "EMC"),
        ("arrived", "in_transit", "EMD"),
        ("customs_presented", "in_customs", "EDB"),
        ("customs_released", "in_transit", "EMF"),
        ("out_for_delivery", "out_for_delivery", "EDG"),
        ("delivered", "delivered", "EMI"),
    ]
    assert result["track"]["status"] == "delivered"
    assert [e["to_status"] for e in result["order_events"]] == [
        "pending_payment",
        "paid",
        "allocated",
        "packed",
        "in_transit",
        "delivered",
    ]

    expected = expected_status_changes(result["number"], result["tracking"])
    assert len(received) == expected == 6 + 6
    ids = [r.headers["webhook-id"] for r in received]
    assert len(set(ids)) == len(ids)
    for hit in received:
        assert signature_verify(
            secret=result["secret"],
            msg_id=hit.headers["webhook-id"],
            timestamp=int(hit.headers["webhook-timestamp"]),
            body=hit.body,
            header=hit.headers["webhook-signature"],
        )
    parcel_events = sorted(
        (r.json["sequence"], r.json["data"]["status"])
        for r in received
        if r.json["type"] == "parcel.status_changed"
    )
    parcel_statuses = [status for _sequence, status in parcel_events]
    assert parcel_statuses == [
        "info_received",
        "in_transit",
        "in_customs",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert WebhookDelivery.objects.filter(status="delivered").count() == expected

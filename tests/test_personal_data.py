"""Personal data (152-FZ): consent recorded at registration, staff abroad
see recipients masked, and the retention run anonymises recipients of
orders closed longer than RECIPIENT_DATA_RETENTION_DAYS ago."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from accounts.models import PersonalDataConsent
from orders.models import Order, OrderRecipientIdentity, OrderStatus
from orders.retention import recipients_anonymise
from orders.tasks import recipients_anonymise_task
from tests.conftest import World
from tests.factories import PASSWORD, MerchantStaffFactory, UserFactory
from tests.test_recipient_identity import place

REGISTER = "/api/v1/auth/register/"


# --- Consent ---------------------------------------------------------------------


def test_registration_records_the_consent_to_the_policy_in_force(db: Any, api: Any) -> None:
    before = timezone.now()
    response = api.post(
        REGISTER,
        {"email": "Vera@Example.ru", "password": PASSWORD, "personal_data_consent": True},
        format="json",
    )
    assert response.status_code == 201
    consent = PersonalDataConsent.objects.get()
    assert (consent.user.email, consent.policy_version, consent.withdrawn_at) == (
        "vera@example.ru",
        settings.AMUR["PERSONAL_DATA_POLICY_VERSION"],
        None,
    )
    assert before <= consent.given_at <= timezone.now()


@pytest.mark.parametrize(
    ("consent", "code"),
    [(False, "consent_required"), (None, "invalid")],
    ids=["declined", "not-given"],
)
def test_no_account_without_consent(db: Any, api: Any, consent: bool | None, code: str) -> None:
    body: dict[str, Any] = {"email": "vera@example.ru", "password": PASSWORD}
    if consent is not None:
        body["personal_data_consent"] = consent
    response = api.post(REGISTER, body, format="json")
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["fields"])) == (
        code,
        ["personal_data_consent"],
    )
    assert not PersonalDataConsent.objects.exists()
    assert not get_user_model().objects.filter(email="vera@example.ru").exists()


# --- Who sees what -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "phone_shown"),
    [("staff-in-china", False), ("staff-in-russia", True), ("operator", True)],
)
def test_recipients_phone_is_masked_for_staff_abroad(
    world: World, who: str, phone_shown: bool
) -> None:
    order = place(world, world.buyer.user_id, ("TEA-0001", 1))
    if who == "operator":
        user = UserFactory.create(is_staff=True, is_superuser=True)
    else:
        line = order.lines.first()
        assert line is not None
        country = "RU" if who == "staff-in-russia" else "CN"
        user = MerchantStaffFactory.create(merchant=line.merchant, country=country).user
        user.is_superuser = True
        user.save()
    client = Client()
    client.force_login(user)
    if who == "operator":
        page = client.get(f"/admin/orders/order/{order.id}/change/").content.decode()
        # The identity document is masked on the order's page.
        assert "45 ** ****** · **.**.**** · **.**.**** · 50**********" in page
    else:
        # Merchant staff see their fulfilment order, which names no document.
        part = order.fulfilment_orders.get()
        response = client.get(f"/admin/shipping/fulfilmentorder/{part.id}/change/")
        assert response.status_code == 200
        page = response.content.decode()
        assert "45 **" not in page
    assert ("+79221234567" in page) is phone_shown
    assert ("+7 *** ***-**-67" in page) is not phone_shown
    assert "500100732259" not in page


def test_buyers_contacts_are_for_operator_staff_only(world: World) -> None:
    staff = MerchantStaffFactory.create(merchant=world.products[0].merchant).user
    staff.is_superuser = True
    staff.save()
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/accounts/buyer/").status_code == 403


# --- Retention ---------------------------------------------------------------------


def closed(order: Order, status: str, days_ago: int) -> Order:
    """Mark an order delivered or cancelled that many days ago."""
    when = timezone.now() - timedelta(days=days_ago)
    stamp = "delivered_at" if status == OrderStatus.DELIVERED else "cancelled_at"
    Order.objects.filter(id=order.id).update(status=status, **{stamp: when})
    return Order.objects.get(id=order.id)


@override_settings(AMUR={**settings.AMUR, "RECIPIENT_DATA_RETENTION_DAYS": 1095})
def test_retention_anonymises_only_orders_closed_longer_ago_and_is_idempotent(
    world: World,
) -> None:
    placed = [place(world, world.buyer.user_id, ("TEA-0001", 1)) for _ in range(5)]
    old_delivered = closed(placed[0], OrderStatus.DELIVERED, 1096)
    old_cancelled = closed(placed[1], OrderStatus.CANCELLED, 1200)
    recent = closed(placed[2], OrderStatus.DELIVERED, 1094)
    # An old order still on its way is not closed, whatever its age.
    Order.objects.filter(id=placed[3].id).update(
        status=OrderStatus.IN_TRANSIT, created_at=timezone.now() - timedelta(days=2000)
    )
    open_order = placed[4]
    now = timezone.now()

    assert recipients_anonymise(now=now) == 2

    for order in (old_delivered, old_cancelled):
        order.refresh_from_db()
        assert (order.recipient_name, order.recipient_phone, order.street) == ("—", "", "")
        assert order.anonymised_at == now
        assert not OrderRecipientIdentity.objects.filter(order=order).exists()
        # What the books need stays.
        assert (order.city, order.region, order.total_rub > 0) == ("Екатеринбург", "RU-SVE", True)
    for order in (recent, placed[3], open_order):
        order.refresh_from_db()
        assert (order.recipient_name, order.recipient_phone, order.anonymised_at) == (
            "Иван Петров",
            "+79221234567",
            None,
        )
        assert OrderRecipientIdentity.objects.filter(order=order).exists()

    # Again: nothing left to do, nothing changes.
    assert recipients_anonymise(now=now + timedelta(hours=1)) == 0
    old_delivered.refresh_from_db()
    assert old_delivered.anonymised_at == now


def test_the_command_and_the_daily_task_run_the_retention(world: World) -> None:
    order = closed(place(world, world.buyer.user_id, ("TEA-0001", 1)), OrderStatus.DELIVERED, 4000)
    out = StringIO()
    call_command("recipients_anonymise", stdout=out)
    assert out.getvalue() == "1 orders anonymised\n"
    assert Order.objects.get(id=order.id).recipient_name == "—"
    assert recipients_anonymise_task.delay().get() == 0
    assert settings.CELERY_BEAT_SCHEDULE["recipients-anonymise"]["task"] == (
        "orders.recipients_anonymise"
    )

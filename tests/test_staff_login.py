"""Staff sign in to the admin with a password and a TOTP code; wrong
passwords lock the account out from that address for a while."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import UserFactory, staff_login

pytestmark = pytest.mark.django_db

PASSWORD = "staff-pass-2026"
ADMIN = "/admin/"
LOGIN = "/admin/login/?next=/admin/"


def staff() -> Any:
    user = UserFactory.create(email="ops@amur.example", is_staff=True, is_superuser=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def code(device: TOTPDevice) -> str:
    """The code the staff member's authenticator app shows now."""
    now = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return str(now.token()).zfill(device.digits)


def sign_in(client: Client, password: str, device: TOTPDevice, otp_token: str) -> Any:
    return client.post(
        LOGIN,
        {
            "username": "ops@amur.example",
            "password": password,
            "otp_device": device.persistent_id,
            "otp_token": otp_token,
        },
        REMOTE_ADDR="198.51.100.20",
    )


def test_a_password_alone_does_not_open_the_admin() -> None:
    user = staff()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    # A session with the password only (no second factor) is sent to log in.
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session.pop("otp_device_id", None)
    session.save()
    assert client.get(ADMIN).status_code == 302
    # Password and a wrong code: refused.
    assert sign_in(Client(), PASSWORD, device, "000000").status_code == 200
    # Password and the device's current code: in (once the device's own
    # throttle after a wrong code, a second here, has passed).
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    device.throttle_reset()
    signed = Client()
    response = sign_in(signed, PASSWORD, device, code(device))
    assert (response.status_code, response["Location"]) == (302, ADMIN)
    assert signed.get(ADMIN).status_code == 200


def test_wrong_passwords_lock_the_account_out() -> None:
    user = staff()
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    statuses = [sign_in(client, "wrong", device, code(device)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks it
    # Locked now, even with the right password and code.
    assert sign_in(client, PASSWORD, device, code(device)).status_code == 429
    assert client.get(ADMIN).status_code == 302


def test_the_test_helper_logs_staff_in_with_a_verified_device() -> None:
    user = staff()
    client = Client()
    staff_login(client, user)
    assert client.get(ADMIN).status_code == 200
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1

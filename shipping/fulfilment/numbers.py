"""UPU S10 tracking numbers: 2 letters, 8-digit serial, check digit, country,
and their issue from the series.

e.g. RR123456785CN: weights 8 6 4 2 3 5 9 7 over the serial; 11 minus the sum
mod 11, where 10 becomes 0 and 11 becomes 5."""

from __future__ import annotations

import re

from django.conf import settings

from core.locking import Rank, lock_rows, locked_transaction
from shipping.fulfilment.models import TrackingSeries

WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
S10_RE = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")


def check_digit(serial: str) -> int:
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError("An S10 serial has 8 digits")
    remainder = 11 - sum(int(d) * w for d, w in zip(serial, WEIGHTS, strict=True)) % 11
    return {10: 0, 11: 5}.get(remainder, remainder)


def s10_build(prefix: str, serial: int, country: str) -> str:
    digits = f"{serial:08d}"
    return f"{prefix}{digits}{check_digit(digits)}{country}"


def s10_is_valid(number: str) -> bool:
    match = S10_RE.match(number or "")
    return bool(match) and check_digit(match.group(2)) == int(match.group(3))  # type: ignore[union-attr]


def tracking_numbers_issue(*, count: int) -> list[str]:
    """Take `count` consecutive S10 serials from the series, under a row lock."""
    conf = settings.AMUR
    with locked_transaction():
        series, _created = TrackingSeries.objects.get_or_create(
            prefix=conf["S10_PREFIX"], country=conf["S10_COUNTRY"]
        )
        series = lock_rows(TrackingSeries.objects.filter(id=series.id), rank=Rank.SERIES)[0]
        first = series.next_serial
        series.next_serial = first + count
        series.save(update_fields=["next_serial"])
    return [s10_build(series.prefix, first + i, series.country) for i in range(count)]

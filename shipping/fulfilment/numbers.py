"""UPU S10 tracking numbers: 2 letters, 8-digit serial, check digit, country,
and their issue from the series.

e.g. RR123456785CN: weights 8 6 4 2 3 5 9 7 over the serial; 11 minus the sum
mod 11, where 10 becomes 0 and 11 becomes 5."""

from __future__ import annotations

import calendar
import logging
import operator
import re
from datetime import datetime

from django.conf import settings
from django.db import DataError, ProgrammingError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict
from core.locking import Rank, lock_rows, locked_transaction
from shipping.fulfilment.models import TrackingSeries

log = logging.getLogger(__name__)

# Share of a series' range after which it warns (once per cycle).
WARN_AT = 0.8
REUSE_AFTER_MONTHS = 12


class SeriesExhausted(Conflict):
    code = "tracking_series_exhausted"
    default_message = _("Every tracking number series is used up: add a series.")


WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
# The weighted sum of the digits' ASCII codes exceeds the digits' by this.
_ASCII_ZERO_WEIGHTED = ord("0") * sum(WEIGHTS)
# ASCII: \d alone also matches other scripts' digits, which no S10 number holds.
S10_RE = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$", re.ASCII)


def check_digit(serial: str) -> int:
    if len(serial) != 8 or not (serial.isascii() and serial.isdigit()):
        raise ValueError("An S10 serial has 8 digits")
    # The digits' bytes, in C: a generator here was a twentieth of a courier
    # batch's time, int() of each digit still a fiftieth.
    weighted = sum(map(operator.mul, serial.encode(), WEIGHTS)) - _ASCII_ZERO_WEIGHTED
    remainder = 11 - weighted % 11
    return {10: 0, 11: 5}.get(remainder, remainder)


def s10_build(prefix: str, serial: int, country: str) -> str:
    digits = f"{serial:08d}"
    return f"{prefix}{digits}{check_digit(digits)}{country}"


def s10_is_valid(number: str) -> bool:
    match = S10_RE.match(number or "")
    return bool(match) and check_digit(match.group(2)) == int(match.group(3))  # type: ignore[union-attr]


def tracking_numbers_issue(*, count: int) -> list[str]:
    """Take `count` S10 numbers from the first active series not exhausted
    (lowest priority first), moving to the next when one runs out.

    On PostgreSQL each series is a sequence: nextval takes no row lock, so
    concurrent packs never wait for each other here (a rolled-back pack
    leaves a gap, which S10 allows). A series that cannot give all `count`
    is marked exhausted and the whole count comes from the next one (the
    few serials left at its end are not used). On SQLite, the series row is
    locked and its next_serial moved, as a single writer may."""
    now = timezone.now()
    while True:
        series = _current_series()
        serials = _serials_take(series, count)
        if serials is None:
            # Conditional: two packs may find the end at once; one stamps it.
            TrackingSeries.objects.filter(id=series.id, exhausted_at__isnull=True).update(
                exhausted_at=now
            )
            log.warning("S10 series %s exhausted; the next series takes over", series)
            continue
        _usage_check(series, last_taken=serials[-1], now=now)
        return [s10_build(series.prefix, serial, series.country) for serial in serials]


def _current_series() -> TrackingSeries:
    conf = settings.AMUR
    series = (
        TrackingSeries.objects.filter(is_active=True, exhausted_at__isnull=True)
        .order_by("priority", "id")
        .first()
    )
    if series is not None:
        return series
    if not TrackingSeries.objects.exists():
        # A new installation: the configured prefix is the first series.
        series, _created = TrackingSeries.objects.get_or_create(
            prefix=conf["S10_PREFIX"], country=conf["S10_COUNTRY"]
        )
        return series
    raise SeriesExhausted()


def _serials_take(series: TrackingSeries, count: int) -> list[int] | None:
    """`count` consecutive or increasing serials of the series, or None when
    it has not that many left."""
    if connection.vendor == "postgresql":
        return _sequence_take(series, count)
    with locked_transaction():
        locked = lock_rows(TrackingSeries.objects.filter(id=series.id), rank=Rank.SERIES)[0]
        first = locked.next_serial
        if first + count - 1 > locked.last_serial:
            return None
        locked.next_serial = first + count
        locked.save(update_fields=["next_serial"])
    return list(range(first, first + count))


def _sequence_take(series: TrackingSeries, count: int) -> list[int] | None:
    name = connection.ops.quote_name(series.sequence_name)
    for attempt in (1, 2):
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [name, count]
                )
                return [serial for (serial,) in cursor.fetchall()]
        except DataError:  # nextval: reached maximum value of sequence
            return None
        except ProgrammingError:  # no such sequence yet: made on first use
            if attempt == 2:
                raise
            series_sequence_ensure(series=series)
    return None


def series_sequence_ensure(*, series: TrackingSeries) -> None:
    """PostgreSQL: the series' sequence, from its next_serial to its last."""
    if connection.vendor != "postgresql":
        return
    name = connection.ops.quote_name(series.sequence_name)
    start = max(series.next_serial, series.first_serial)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE SEQUENCE IF NOT EXISTS {name} AS bigint MINVALUE {series.first_serial}"
            f" MAXVALUE {series.last_serial} START WITH {start} NO CYCLE"
        )


def series_used(series: TrackingSeries) -> int:
    """How many serials of the series were taken in its current cycle (a read,
    no lock)."""
    if connection.vendor == "postgresql":
        name = series.sequence_name
        with connection.cursor() as cursor:
            # last_value is null until the first nextval.
            cursor.execute(
                "SELECT last_value FROM pg_sequences"
                " WHERE schemaname = current_schema() AND sequencename = %s",
                [name],
            )
            row = cursor.fetchone()
        if row is None or row[0] is None:
            return max(series.next_serial - series.first_serial, 0)
        return int(row[0]) - series.first_serial + 1
    return series.next_serial - series.first_serial


def _usage_check(series: TrackingSeries, *, last_taken: int, now: datetime) -> None:
    """Alert once per cycle when the series passes WARN_AT of its range."""
    used = last_taken - series.first_serial + 1
    if used < WARN_AT * series.size or series.warned_at is not None:
        return
    if TrackingSeries.objects.filter(id=series.id, warned_at__isnull=True).update(warned_at=now):
        log.warning(
            "S10 series %s%s is %d %% used (%d of %d serials): add the next series",
            series.prefix,
            series.country,
            int(100 * used / series.size),
            used,
            series.size,
        )


def tracking_series_restart(*, series_id: int, now: datetime) -> TrackingSeries:
    """Start an exhausted series again from its first serial. Refused
    (409 series_reuse_too_soon) unless its last number was issued more than
    REUSE_AFTER_MONTHS ago: S10 numbers must not repeat within 12 months."""
    series = TrackingSeries.objects.get(id=series_id)
    if series.exhausted_at is None or series.exhausted_at > _months_before(now, REUSE_AFTER_MONTHS):
        raise Conflict(
            _("A tracking number series may start again only 12 months after its last number."),
            code="series_reuse_too_soon",
        )
    if connection.vendor == "postgresql":
        series_sequence_ensure(series=series)
        name = connection.ops.quote_name(series.sequence_name)
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER SEQUENCE {name} RESTART WITH {series.first_serial}")
    TrackingSeries.objects.filter(id=series.id).update(
        next_serial=series.first_serial, exhausted_at=None, warned_at=None
    )
    series.refresh_from_db()
    return series


def _months_before(moment: datetime, months: int) -> datetime:
    month = moment.month - months
    year = moment.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)

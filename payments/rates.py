"""Exchange rates: the Central Bank of Russia's daily rates that checkout
prices in, refused when too old."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.cache import ReferenceCache
from core.errors import Conflict
from core.money import CURRENCY_CHOICES
from payments.cbr import feed_parse
from payments.models import ExchangeRate


@dataclass(frozen=True)
class Rates:
    cny_rub: Decimal
    eur_rub: Decimal
    date: date


class StaleRates(Conflict):
    code = "exchange_rate_stale"
    default_message = _("Exchange rates are out of date; checkout is paused until they refresh.")


_newest_rates = ReferenceCache[dict[str, ExchangeRate]](seconds=30)


def _newest_rates_read() -> dict[str, ExchangeRate]:
    newest: dict[str, ExchangeRate] = {}
    for rate in ExchangeRate.objects.filter(currency__in=["CNY", "EUR"]).order_by("-date")[:10]:
        newest.setdefault(rate.currency, rate)
    return newest


def rates_current() -> Rates:
    """The newest CNY and EUR rates, refusing ones older than the allowed age."""
    newest = _newest_rates.get("CNY+EUR", _newest_rates_read)
    if set(newest) != {"CNY", "EUR"}:
        raise StaleRates(_("No exchange rates are recorded yet."))
    oldest = min(newest["CNY"].date, newest["EUR"].date)
    max_age = timedelta(hours=settings.AMUR["RATE_MAX_AGE_HOURS"])
    if timezone.now().date() - oldest > max_age:
        raise StaleRates()
    return Rates(cny_rub=newest["CNY"].rate_to_rub, eur_rub=newest["EUR"].rate_to_rub, date=oldest)


def rate_record(*, currency: str, on: date, rate_to_rub: Decimal, source: str) -> ExchangeRate:
    rate, _created = ExchangeRate.objects.update_or_create(
        currency=currency, date=on, defaults={"rate_to_rub": rate_to_rub, "source": source}
    )
    _newest_rates.clear()
    return rate


def rate_latest(*, currency: str) -> Decimal | None:
    """Newest recorded rate, for display only (checkout uses rates_current)."""
    return (
        ExchangeRate.objects.filter(currency=currency)
        .order_by("-date")
        .values_list("rate_to_rub", flat=True)
        .first()
    )


def rates_refresh(*, fetch: Callable[[str], bytes] | None = None) -> list[ExchangeRate]:
    """Fetch the CBR daily feed and record the currencies Amur prices in.

    Idempotent: the same day's feed twice leaves the same rows."""
    url = settings.AMUR["CBR_DAILY_URL"]
    raw = (fetch or _http_get)(url)
    on, feed = feed_parse(raw)
    wanted = {code for code, _label in CURRENCY_CHOICES if code != "RUB"}
    with transaction.atomic():
        return [
            rate_record(currency=r.currency, on=on, rate_to_rub=r.rate_to_rub, source="cbr")
            for r in feed
            if r.currency in wanted
        ]


def _http_get(url: str) -> bytes:
    response = requests.get(url, timeout=15, headers={"user-agent": "Amur/1 (+rates)"})
    response.raise_for_status()
    return response.content

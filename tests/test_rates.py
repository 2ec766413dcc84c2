"""Exchange rates from the Central Bank of Russia's daily feed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from payments.cbr import FeedError, feed_parse
from payments.models import ExchangeRate
from payments.rates import rates_refresh

SAMPLE = (Path(__file__).parent / "data" / "cbr_xml_daily.xml").read_bytes()


def test_feed_parser_reads_the_stored_sample() -> None:
    on, rates = feed_parse(SAMPLE)
    assert on == date(2026, 11, 28)
    by_code = {r.currency: r.rate_to_rub for r in rates}
    assert by_code["CNY"] == Decimal("11.05200000")
    assert by_code["EUR"] == Decimal("92.48100000")
    # Per unit: 100 forints cost 21.3040 RUB; 10 Hong Kong dollars 102.6711 RUB.
    assert by_code["HUF"] == Decimal("0.21304000")
    assert by_code["HKD"] == Decimal("10.26711000")


@pytest.mark.parametrize(
    "raw",
    [
        b"<html>maintenance</html>",
        b"not xml at all",
        b'<ValCurs Date="31.02.2026"></ValCurs>',
        b'<ValCurs Date="28.11.2026"></ValCurs>',
        b'<ValCurs Date="28.11.2026"><Valute><CharCode>CNY</CharCode><Nominal>1</Nominal>'
        b"<Value>abc</Value></Valute></ValCurs>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><ValCurs Date="28.11.2026">&a;</ValCurs>',
    ],
)
def test_feed_parser_rejects_what_is_not_a_rates_feed(raw: bytes) -> None:
    with pytest.raises(FeedError):
        feed_parse(raw)


def test_refresh_records_the_priced_currencies_once(db: Any, settings: Any) -> None:
    settings.AMUR = {**settings.AMUR, "CBR_DAILY_URL": "https://cbr.example/XML_daily.asp"}
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return SAMPLE

    rates_refresh(fetch=fetch)
    rates_refresh(fetch=fetch)
    assert asked == ["https://cbr.example/XML_daily.asp"] * 2
    assert sorted(
        ExchangeRate.objects.values_list("currency", "date", "rate_to_rub", "source")
    ) == [
        ("CNY", date(2026, 11, 28), Decimal("11.05200000"), "cbr"),
        ("EUR", date(2026, 11, 28), Decimal("92.48100000"), "cbr"),
        ("USD", date(2026, 11, 28), Decimal("79.88120000"), "cbr"),
    ]


def test_refresh_failure_writes_nothing(db: Any) -> None:
    with pytest.raises(FeedError):
        rates_refresh(fetch=lambda url: b"<html>busy</html>")
    assert ExchangeRate.objects.count() == 0

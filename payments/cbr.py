"""The Central Bank of Russia's daily rates feed (XML_daily.asp).

<ValCurs Date="28.11.2026"><Valute><CharCode>CNY</CharCode><Nominal>1</Nominal>
<Value>11,0520</Value></Valute>...</ValCurs>: roubles for `Nominal` units, with
a decimal comma, in windows-1251."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from defusedxml import DefusedXmlException, ElementTree

from core.money import RATE_PLACES


class FeedError(ValueError):
    pass


@dataclass(frozen=True)
class FeedRate:
    currency: str
    rate_to_rub: Decimal  # roubles for one unit


def feed_parse(raw: bytes) -> tuple[date, list[FeedRate]]:
    try:
        root = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise FeedError(f"not a safe XML document: {exc}") from exc
    if root.tag != "ValCurs" or not root.get("Date"):
        raise FeedError("not a ValCurs document")
    try:
        on = datetime.strptime(root.get("Date", ""), "%d.%m.%Y").date()  # noqa: DTZ007 - a date
    except ValueError as exc:
        raise FeedError(f"bad date {root.get('Date')!r}") from exc
    rates: list[FeedRate] = []
    for valute in root.iter("Valute"):
        code = (valute.findtext("CharCode") or "").strip()
        try:
            nominal = Decimal((valute.findtext("Nominal") or "").strip())
            value = Decimal((valute.findtext("Value") or "").strip().replace(",", "."))
        except InvalidOperation as exc:
            raise FeedError(f"bad number for {code}") from exc
        if not code or nominal <= 0 or value <= 0:
            raise FeedError(f"bad entry for {code!r}")
        per_unit = (value / nominal).quantize(Decimal(1).scaleb(-RATE_PLACES))
        rates.append(FeedRate(currency=code, rate_to_rub=per_unit))
    if not rates:
        raise FeedError("no rates in the feed")
    return on, rates

"""Money as Decimal with a currency; never float."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

MINOR_UNITS = {"RUB": 2, "CNY": 2, "EUR": 2, "USD": 2}
CURRENCY_CHOICES = [(code, code) for code in MINOR_UNITS]
MONEY_DIGITS = 14
MONEY_PLACES = 2
RATE_DIGITS = 18
RATE_PLACES = 8


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-MINOR_UNITS[currency])


def money_round(amount: Decimal, currency: str, *, up: bool = False) -> Decimal:
    """Round to the currency's minor unit (kopek, fen, cent)."""
    return amount.quantize(quantum(currency), rounding=ROUND_CEILING if up else ROUND_HALF_UP)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money amount must be a Decimal")
        if self.currency not in MINOR_UNITS:
            raise ValueError(f"Unknown currency {self.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def rounded(self) -> Money:
        return Money(money_round(self.amount, self.currency), self.currency)

    def convert(self, rate: Decimal, currency: str) -> Money:
        return Money(money_round(self.amount * rate, currency), currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"Cannot combine {self.currency} with {other.currency}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def as_dict(self) -> dict[str, str]:
        return {"amount": str(money_round(self.amount, self.currency)), "currency": self.currency}

"""A parcel recipient's identity document, as customs want it for express
parcels to individuals (FTS order No. 1861 of 2017-11-24): Russian passport
series and number, date of issue, date of birth and INN.

`RecipientIdentity` is the value: its repr masks everything, so a stray log
line or traceback shows no document. `identity_check` holds the rules that
span fields; the formats are the serializers' validators (core.validators).
The masks are what merchant staff and API readers see."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

from django.utils.translation import gettext_lazy as _

from core.errors import ValidationFailed

# A Russian passport is issued from the age of 14.
PASSPORT_AGE = 14
DATE_MASK = "**.**.****"


@dataclass(frozen=True)
class RecipientIdentity:
    passport_series: str  # 4 digits
    passport_number: str  # 6 digits
    passport_issued_on: date
    birth_date: date
    inn: str  # 12 digits

    def __repr__(self) -> str:
        return f"RecipientIdentity(passport={self.masked()['passport']!r}, ...)"

    __str__ = __repr__

    def masked(self) -> dict[str, str]:
        return {
            "passport": mask_passport(self.passport_series, self.passport_number),
            "passport_issued_on": DATE_MASK,
            "birth_date": DATE_MASK,
            "inn": mask_inn(self.inn),
        }

    def values(self) -> dict[str, str]:
        """Every value as text, for checks that none of them leaks."""
        return {f.name: str(getattr(self, f.name)) for f in fields(self)}


def identity_check(identity: RecipientIdentity, *, today: date) -> None:
    """Dates that a real passport can have: born in the past, issued at 14 or
    later and not in the future (400 with the fields otherwise)."""
    errors: dict[str, list[str]] = {}
    if identity.birth_date >= today:
        errors["birth_date"] = [str(_("The date of birth must be in the past."))]
    if identity.passport_issued_on > today:
        errors["passport_issued_on"] = [str(_("The date of issue cannot be in the future."))]
    elif "birth_date" not in errors and identity.passport_issued_on < _add_years(
        identity.birth_date, PASSPORT_AGE
    ):
        errors["passport_issued_on"] = [
            str(_("A passport is issued from the age of 14: check the dates."))
        ]
    if errors:
        raise ValidationFailed(_("The identity document is not valid."), fields=errors)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def mask_passport(series: str, number: str) -> str:
    """4509 123456 -> "45 ** ******": the region digits, nothing that identifies."""
    return f"{series[:2]} ** {'*' * len(number)}"


def mask_inn(inn: str) -> str:
    """The tax office's region (two digits), the rest hidden: 77**********."""
    return inn[:2] + "*" * (len(inn) - 2)


def mask_phone(phone: str) -> str:
    """+79221234567 -> +7 *** ***-**-67."""
    if len(phone) < 4:
        return "*" * len(phone)
    return f"{phone[:2]} *** ***-**-{phone[-2:]}"

"""Field validators shared by several apps' models and serializers."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from stdnum.ru import inn

hs_code_validator = RegexValidator(r"^\d{6,10}$", _("An HS code has 6 to 10 digits."))
country_validator = RegexValidator(r"^[A-Z]{2}$", _("Use a two-letter ISO country code."))
postcode_validator = RegexValidator(r"^\d{6}$", _("A Russian postcode has 6 digits."))
phone_validator = RegexValidator(r"^\+7\d{10}$", _("Use a Russian number: +7 and 10 digits."))
international_phone_validator = RegexValidator(
    r"^\+\d{7,15}$", _("Use an international number: + and 7 to 15 digits.")
)


def inn_validator(value: str) -> None:
    """An individual's INN: 12 digits whose last two are its check digits
    (python-stdnum's ru.inn computes them)."""
    if not re.fullmatch(r"\d{12}", value) or not inn.is_valid(value):
        raise ValidationError(
            _("An individual's INN has 12 digits and valid check digits."), code="inn_invalid"
        )


def supplier_inn_validator(value: str) -> None:
    """A company's INN (10 digits) or an individual entrepreneur's (12), with
    valid check digits."""
    if not re.fullmatch(r"\d{10}|\d{12}", value) or not inn.is_valid(value):
        raise ValidationError(
            _("An INN has 10 or 12 digits and valid check digits."), code="inn_invalid"
        )


passport_series_validator = RegexValidator(r"^\d{4}$", _("A Russian passport series has 4 digits."))
passport_number_validator = RegexValidator(r"^\d{6}$", _("A Russian passport number has 6 digits."))

# C0 control characters and DEL: never in an id, a key or a header value (a
# horizontal tab may separate words in a header, so it is let through).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

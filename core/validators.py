"""Field validators shared by several apps' models and serializers."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

hs_code_validator = RegexValidator(r"^\d{6,10}$", _("An HS code has 6 to 10 digits."))
country_validator = RegexValidator(r"^[A-Z]{2}$", _("Use a two-letter ISO country code."))
postcode_validator = RegexValidator(r"^\d{6}$", _("A Russian postcode has 6 digits."))
phone_validator = RegexValidator(r"^\+7\d{10}$", _("Use a Russian number: +7 and 10 digits."))

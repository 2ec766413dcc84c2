"""Cities of Amur's hubs and warehouses by code, in the reader's language:
lanes and stock rows are named by them ("HRB-SVX-AIR: Harbin – Yekaterinburg")."""

from django.utils.translation import gettext_lazy as _

CITIES = {
    "HRB": _("Harbin"),
    "SFH": _("Suifenhe"),
    "HEK": _("Heihe"),
    "SVX": _("Yekaterinburg"),
    "OVB": _("Novosibirsk"),
    "KJA": _("Krasnoyarsk"),
    "VVO": _("Vladivostok"),
    "MOW": _("Moscow"),
    "LED": _("Saint Petersburg"),
}


def city_name(code: str) -> str:
    """The city of a hub or warehouse code; the code itself if unknown."""
    return str(CITIES.get(code, code))

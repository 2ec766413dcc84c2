"""Federal subjects of Russia by ISO 3166-2:RU code (delivery regions)."""

from django.utils.functional import lazy
from django.utils.translation import get_language

from core.region_names import EN, ZH

REGIONS: dict[str, str] = {
    "RU-AD": "Республика Адыгея",
    "RU-AL": "Республика Алтай",
    "RU-BA": "Республика Башкортостан",
    "RU-BU": "Республика Бурятия",
    "RU-CE": "Чеченская Республика",
    "RU-CU": "Чувашская Республика",
    "RU-DA": "Республика Дагестан",
    "RU-IN": "Республика Ингушетия",
    "RU-KB": "Кабардино-Балкарская Республика",
    "RU-KL": "Республика Калмыкия",
    "RU-KC": "Карачаево-Черкесская Республика",
    "RU-KR": "Республика Карелия",
    "RU-KK": "Республика Хакасия",
    "RU-KO": "Республика Коми",
    "RU-ME": "Республика Марий Эл",
    "RU-MO": "Республика Мордовия",
    "RU-SA": "Республика Саха (Якутия)",
    "RU-SE": "Республика Северная Осетия — Алания",
    "RU-TA": "Республика Татарстан",
    "RU-TY": "Республика Тыва",
    "RU-UD": "Удмуртская Республика",
    "RU-ALT": "Алтайский край",
    "RU-KAM": "Камчатский край",
    "RU-KHA": "Хабаровский край",
    "RU-KDA": "Краснодарский край",
    "RU-KYA": "Красноярский край",
    "RU-PER": "Пермский край",
    "RU-PRI": "Приморский край",
    "RU-STA": "Ставропольский край",
    "RU-ZAB": "Забайкальский край",
    "RU-AMU": "Амурская область",
    "RU-ARK": "Архангельская область",
    "RU-AST": "Астраханская область",
    "RU-BEL": "Белгородская область",
    "RU-BRY": "Брянская область",
    "RU-CHE": "Челябинская область",
    "RU-IRK": "Иркутская область",
    "RU-IVA": "Ивановская область",
    "RU-KGD": "Калининградская область",
    "RU-KLU": "Калужская область",
    "RU-KEM": "Кемеровская область",
    "RU-KIR": "Кировская область",
    "RU-KOS": "Костромская область",
    "RU-KGN": "Курганская область",
    "RU-KRS": "Курская область",
    "RU-LEN": "Ленинградская область",
    "RU-LIP": "Липецкая область",
    "RU-MAG": "Магаданская область",
    "RU-MOS": "Московская область",
    "RU-MUR": "Мурманская область",
    "RU-NIZ": "Нижегородская область",
    "RU-NGR": "Новгородская область",
    "RU-NVS": "Новосибирская область",
    "RU-OMS": "Омская область",
    "RU-ORE": "Оренбургская область",
    "RU-ORL": "Орловская область",
    "RU-PNZ": "Пензенская область",
    "RU-PSK": "Псковская область",
    "RU-ROS": "Ростовская область",
    "RU-RYA": "Рязанская область",
    "RU-SAK": "Сахалинская область",
    "RU-SAM": "Самарская область",
    "RU-SAR": "Саратовская область",
    "RU-SMO": "Смоленская область",
    "RU-SVE": "Свердловская область",
    "RU-TAM": "Тамбовская область",
    "RU-TOM": "Томская область",
    "RU-TUL": "Тульская область",
    "RU-TVE": "Тверская область",
    "RU-TYU": "Тюменская область",
    "RU-ULY": "Ульяновская область",
    "RU-VLA": "Владимирская область",
    "RU-VGG": "Волгоградская область",
    "RU-VLG": "Вологодская область",
    "RU-VOR": "Воронежская область",
    "RU-YAR": "Ярославская область",
    "RU-MOW": "Москва",
    "RU-SPE": "Санкт-Петербург",
    "RU-YEV": "Еврейская автономная область",
    "RU-CHU": "Чукотский автономный округ",
    "RU-KHM": "Ханты-Мансийский автономный округ — Югра",
    "RU-NEN": "Ненецкий автономный округ",
    "RU-YAN": "Ямало-Ненецкий автономный округ",
}


def region_name(code: str, language: str | None = None) -> str:
    """The region's name in the language (the active one by default):
    Russian, Chinese or English; the code itself if it is no region."""
    language = (language or get_language() or "ru").lower()
    if language.startswith("zh"):
        return ZH.get(code, code)
    if language.startswith("en"):
        return EN.get(code, code)
    return REGIONS.get(code, code)


# Labels in the reader's language; with no language active (makemigrations)
# they are the Russian names the migrations hold.
REGION_CHOICES = [(code, lazy(region_name, str)(code)) for code in sorted(REGIONS)]

# Each region's legal time (IANA zone), for local times and dates shown to
# people there. Where a region spans zones (Yakutia), its capital's.
_ZONE_REGIONS: dict[str, str] = {
    "Europe/Kaliningrad": "KGD",
    "Europe/Moscow": (
        "AD CE DA IN KB KL KC KR KO ME MO SE TA CU KDA STA ARK BEL BRY IVA KLU KIR KOS KRS"
        " LEN LIP MOS MUR NIZ NGR ORL PNZ PSK ROS RYA SMO TAM TUL TVE VLA VLG VOR YAR MOW"
        " SPE NEN"
    ),
    "Europe/Volgograd": "VGG",
    "Europe/Samara": "SAM UD",
    "Europe/Astrakhan": "AST",
    "Europe/Saratov": "SAR",
    "Europe/Ulyanovsk": "ULY",
    "Asia/Yekaterinburg": "BA PER CHE KGN ORE SVE TYU KHM YAN",
    "Asia/Omsk": "OMS",
    "Asia/Novosibirsk": "NVS",
    "Asia/Barnaul": "AL ALT",
    "Asia/Tomsk": "TOM",
    "Asia/Novokuznetsk": "KEM",
    "Asia/Krasnoyarsk": "KYA KK TY",
    "Asia/Irkutsk": "IRK BU",
    "Asia/Chita": "ZAB",
    "Asia/Yakutsk": "SA AMU",
    "Asia/Vladivostok": "PRI KHA YEV",
    "Asia/Sakhalin": "SAK",
    "Asia/Magadan": "MAG",
    "Asia/Kamchatka": "KAM",
    "Asia/Anadyr": "CHU",
}
REGION_ZONES: dict[str, str] = {
    f"RU-{code}": zone for zone, codes in _ZONE_REGIONS.items() for code in codes.split()
}
DEFAULT_ZONE = "Europe/Moscow"


def region_zone(region: str) -> str:
    """The IANA zone of a delivery region (Moscow's for an unknown one)."""
    return REGION_ZONES.get(region, DEFAULT_ZONE)

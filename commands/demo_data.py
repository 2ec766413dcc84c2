"""Static facts for the demo operator: merchants, products, lanes, regions."""

from __future__ import annotations

from decimal import Decimal as D

MERCHANTS = [
    ("harbin-bear", "Harbin Bear Trading", "哈尔滨熊贸易有限公司", "Harbin"),
    ("suifenhe-border", "Suifenhe Border Goods", "绥芬河边境商品公司", "Suifenhe"),
    ("heihe-amber", "Heihe Amber Crafts", "黑河琥珀工艺品", "Heihe"),
]
# The merchants' office phones (Harbin 0451, Suifenhe 0453, Heihe 0456), which
# their goods' receipts name as the supplier's (tag 1171). No INN: they are
# foreign suppliers, registered in China.
MERCHANT_PHONES = {
    "harbin-bear": "+8645186672015",
    "suifenhe-border": "+864533921784",
    "heihe-amber": "+864568230547",
}
# What the storefront calls each merchant: (ru, zh, en).
MERCHANT_DISPLAY_NAMES = {
    "harbin-bear": ("Харбинский медведь", "哈尔滨熊", "Harbin Bear"),
    "suifenhe-border": ("Товары Суйфэньхэ", "绥芬河好物", "Suifenhe Goods"),
    "heihe-amber": ("Янтарь Хэйхэ", "黑河琥珀", "Heihe Amber"),
}

# The category tree: (slug, ru, zh, en, parent slug).
CATEGORIES = [
    ("clothing", "Одежда и обувь", "服装鞋靴", "Clothing and shoes", None),
    ("outerwear", "Верхняя одежда", "外套", "Outerwear", "clothing"),
    ("footwear", "Обувь", "鞋靴", "Footwear", "clothing"),
    ("underwear", "Бельё и носки", "内衣袜子", "Underwear and socks", "clothing"),
    ("electronics", "Электроника", "电子产品", "Electronics", None),
    ("gadgets", "Смартфоны и гаджеты", "手机与智能设备", "Phones and gadgets", "electronics"),
    ("power", "Зарядка и питание", "充电与电源", "Chargers and power", "electronics"),
    ("home", "Дом и кухня", "家居厨房", "Home and kitchen", None),
    ("appliances", "Бытовая техника", "家用电器", "Appliances", "home"),
    ("tableware", "Посуда", "餐具", "Tableware", "home"),
    ("tea", "Чай", "茶叶", "Tea", None),
    ("kids", "Детям", "儿童", "For children", None),
    ("accessories", "Сумки и аксессуары", "箱包配饰", "Bags and accessories", None),
    ("beauty", "Красота", "美妆", "Beauty", None),
    ("sport", "Спорт и отдых", "运动户外", "Sport and outdoors", None),
]

# Attributes variants differ by: (code, ru, zh, en, values as (value, ru, zh, en)),
# values in size-chart order.
ATTRIBUTES = [
    (
        "size",
        "Размер",
        "尺码",
        "Size",
        [
            ("S", "S", "S", "S"),
            ("M", "M", "M", "M"),
            ("L", "L", "L", "L"),
            ("XL", "XL", "XL", "XL"),
            ("standard", "стандартный", "标准", "standard"),
            ("large", "большой", "大号", "large"),
        ],
    ),
    (
        "colour",
        "Цвет",
        "颜色",
        "Colour",
        [
            ("black", "чёрный", "黑色", "black"),
            ("red", "красный", "红色", "red"),
            ("blue", "синий", "蓝色", "blue"),
        ],
    ),
]

# (ru, zh, en, hs code, grams, (l, w, h) mm, CNY, category): one listing each
PRODUCTS = [
    (
        "Пуховик женский",
        "女式羽绒服",
        "Women's down jacket",
        "620193",
        1200,
        (450, 350, 120),
        D("459.00"),
        "outerwear",
    ),
    (
        "Зимние ботинки",
        "冬季靴子",
        "Winter boots",
        "640391",
        1500,
        (350, 250, 150),
        D("329.00"),
        "footwear",
    ),
    (
        "Термобельё",
        "保暖内衣",
        "Thermal underwear set",
        "610821",
        350,
        (300, 220, 40),
        D("89.00"),
        "underwear",
    ),
    (
        "Шерстяные носки",
        "羊毛袜",
        "Wool socks (3 pairs)",
        "611595",
        180,
        (200, 120, 40),
        D("39.90"),
        "underwear",
    ),
    (
        "Смартфон 128 ГБ",
        "智能手机128GB",
        "Smartphone 128 GB",
        "851713",
        420,
        (180, 100, 60),
        D("1299.00"),
        "gadgets",
    ),
    (
        "Беспроводные наушники",
        "无线耳机",
        "Wireless earbuds",
        "851830",
        120,
        (110, 90, 40),
        D("159.00"),
        "gadgets",
    ),
    (
        "Внешний аккумулятор",
        "移动电源",
        "Power bank 20000 mAh",
        "850760",
        450,
        (160, 80, 30),
        D("119.00"),
        "power",
    ),
    (
        "Умные часы",
        "智能手表",
        "Smart watch",
        "851762",
        150,
        (120, 100, 70),
        D("399.00"),
        "gadgets",
    ),
    (
        "Зарядное устройство USB-C",
        "USB-C充电器",
        "USB-C charger 65 W",
        "850440",
        160,
        (90, 70, 40),
        D("79.00"),
        "power",
    ),
    (
        "Светодиодная лампа",
        "LED台灯",
        "LED desk lamp",
        "940520",
        900,
        (400, 180, 120),
        D("139.00"),
        "appliances",
    ),
    (
        "Электрочайник",
        "电水壶",
        "Electric kettle",
        "851671",
        1100,
        (250, 200, 240),
        D("169.00"),
        "appliances",
    ),
    (
        "Рисоварка",
        "电饭煲",
        "Rice cooker 3 L",
        "851660",
        2800,
        (320, 300, 280),
        D("289.00"),
        "appliances",
    ),
    (
        "Набор палочек для еды",
        "筷子套装",
        "Chopsticks set",
        "441900",
        150,
        (260, 80, 30),
        D("29.90"),
        "tableware",
    ),
    (
        "Чайный сервиз",
        "茶具套装",
        "Porcelain tea set",
        "691110",
        2100,
        (400, 300, 150),
        D("259.00"),
        "tableware",
    ),
    (
        "Зелёный чай Лунцзин",
        "龙井绿茶",
        "Longjing green tea 250 g",
        "090210",
        300,
        (150, 100, 80),
        D("98.00"),
        "tea",
    ),
    (
        "Чай пуэр",
        "普洱茶饼",
        "Pu'er tea cake 357 g",
        "090230",
        400,
        (200, 200, 40),
        D("128.00"),
        "tea",
    ),
    (
        "Шёлковый платок",
        "丝绸围巾",
        "Silk scarf",
        "621410",
        90,
        (250, 200, 20),
        D("149.00"),
        "accessories",
    ),
    (
        "Детский конструктор",
        "儿童积木",
        "Building blocks set",
        "950300",
        1300,
        (380, 280, 90),
        D("199.00"),
        "kids",
    ),
    (
        "Мягкая игрушка панда",
        "熊猫毛绒玩具",
        "Panda plush toy",
        "950300",
        350,
        (300, 200, 150),
        D("69.00"),
        "kids",
    ),
    (
        "Рюкзак городской",
        "城市背包",
        "City backpack",
        "420292",
        800,
        (450, 300, 150),
        D("179.00"),
        "accessories",
    ),
    (
        "Кошелёк кожаный",
        "真皮钱包",
        "Leather wallet",
        "420231",
        150,
        (120, 100, 30),
        D("99.00"),
        "accessories",
    ),
    (
        "Янтарный браслет",
        "琥珀手链",
        "Amber bracelet",
        "711790",
        60,
        (100, 80, 30),
        D("239.00"),
        "accessories",
    ),
    (
        "Крем для лица",
        "面霜",
        "Face cream 50 ml",
        "330499",
        120,
        (80, 80, 70),
        D("119.00"),
        "beauty",
    ),
    (
        "Маска для лица (10 шт)",
        "面膜10片",
        "Sheet masks x10",
        "330499",
        300,
        (200, 150, 40),
        D("59.00"),
        "beauty",
    ),
    (
        "Велосипедный фонарь",
        "自行车灯",
        "Bike light set",
        "851210",
        250,
        (150, 90, 60),
        D("49.00"),
        "sport",
    ),
]
# Each listing's two variants: (attribute, [(value, larger and dearer)]).
VARIANTS = ("size", [("standard", False), ("large", True)])
VARIANTS_OF = {
    "Women's down jacket": ("size", [("M", False), ("XL", True)]),
    "Silk scarf": ("colour", [("red", False), ("blue", False)]),
}
# Pictures drawn at seed time: (background, ink) colours per category, and
# the down jacket's second picture.
PICTURE_COLOURS = {
    "outerwear": ((226, 232, 240), (30, 41, 59)),
    "footwear": ((237, 228, 214), (87, 56, 31)),
    "underwear": ((241, 232, 245), (91, 33, 182)),
    "gadgets": ((224, 236, 250), (29, 78, 216)),
    "power": ((231, 246, 236), (21, 128, 61)),
    "appliances": ((250, 240, 226), (194, 65, 12)),
    "tableware": ((245, 242, 233), (120, 90, 30)),
    "tea": ((232, 244, 228), (63, 98, 18)),
    "kids": ((254, 242, 220), (217, 119, 6)),
    "accessories": ((250, 232, 232), (159, 18, 57)),
    "beauty": ((252, 236, 246), (190, 24, 93)),
    "sport": ((228, 240, 246), (14, 116, 144)),
}

WAREHOUSES = [
    ("HRB", "Harbin domestic warehouse", "domestic", "Harbin", "CN"),
    ("SFH", "Suifenhe border warehouse", "border", "Suifenhe", "CN"),
    ("SVX", "Yekaterinburg overseas warehouse", "overseas", "Yekaterinburg", "RU"),
    ("MOW", "Moscow overseas warehouse", "overseas", "Moscow", "RU"),
]

FAR_EAST = ["RU-PRI", "RU-KHA", "RU-AMU", "RU-SAK", "RU-KAM", "RU-MAG", "RU-YEV", "RU-CHU", "RU-SA"]
URALS = [
    "RU-SVE",
    "RU-CHE",
    "RU-TYU",
    "RU-KGN",
    "RU-PER",
    "RU-BA",
    "RU-UD",
    "RU-ORE",
    "RU-KHM",
    "RU-YAN",
]
SIBERIA = [
    "RU-NVS",
    "RU-OMS",
    "RU-TOM",
    "RU-KEM",
    "RU-ALT",
    "RU-AL",
    "RU-KYA",
    "RU-IRK",
    "RU-BU",
    "RU-ZAB",
    "RU-KK",
    "RU-TY",
]

# code, name, origin, from hub, to hub, mode, carrier, transit days, crosses border,
# max parcel g, base fee CNY, CNY per 100 g, departures: (hour UTC, every n days, kg, m3, pieces)
LANES = [
    (
        "HRB-SVX-AIR",
        "Harbin - Yekaterinburg charter",
        "HRB",
        "HRB",
        "SVX",
        "air",
        "Ural Airlines cargo charter",
        1,
        True,
        31_000,
        D("25.00"),
        D("4.50"),
        (6, 1, D("18000"), D("110"), 9000),
    ),
    (
        "SFH-VVO-ROAD",
        "Suifenhe - Vladivostok truck",
        "SFH",
        "SFH",
        "VVO",
        "road",
        "Suifenhe border trucking",
        1,
        True,
        31_000,
        D("15.00"),
        D("2.00"),
        (2, 1, D("12000"), D("82"), 4000),
    ),
    (
        "HRB-MOW-RAIL",
        "Harbin - Moscow container train",
        "HRB",
        "HRB",
        "MOW",
        "rail",
        "Harbin-Europe rail",
        12,
        True,
        31_000,
        D("12.00"),
        D("1.50"),
        (10, 3, D("250000"), D("1500"), 60000),
    ),
    (
        "SVX-LOCAL-ROAD",
        "Yekaterinburg local delivery",
        "SVX",
        "SVX",
        "SVX",
        "road",
        "Yekaterinburg city courier",
        1,
        False,
        31_000,
        D("10.00"),
        D("1.00"),
        (8, 1, D("4000"), D("30"), 1500),
    ),
    (
        "MOW-LOCAL-ROAD",
        "Moscow regional delivery",
        "MOW",
        "MOW",
        "MOW",
        "road",
        "Moscow regional courier",
        1,
        False,
        31_000,
        D("12.00"),
        D("1.20"),
        (7, 1, D("6000"), D("45"), 2500),
    ),
]

# Central Russia, reached from the Moscow overseas warehouse.
CENTRAL = {
    "RU-MOW": (1, 2),
    "RU-MOS": (1, 3),
    "RU-SPE": (2, 4),
    "RU-TVE": (2, 3),
    "RU-TUL": (2, 3),
    "RU-KLU": (2, 3),
    "RU-VLA": (2, 3),
    "RU-YAR": (2, 4),
    "RU-RYA": (2, 3),
    "RU-NIZ": (2, 4),
}


def lane_regions(code: str) -> dict[str, tuple[int, int]]:
    """Promised days from dispatch, per region, for each lane."""
    from core.regions import REGIONS

    if code == "SFH-VVO-ROAD":
        return {r: ((2, 4) if r == "RU-PRI" else (4, 8)) for r in FAR_EAST}
    if code == "SVX-LOCAL-ROAD":
        near = {
            "RU-SVE": (1, 2),
            "RU-CHE": (2, 3),
            "RU-TYU": (2, 3),
            "RU-KGN": (2, 4),
            "RU-PER": (2, 4),
        }
        return {r: near.get(r, (3, 6)) for r in URALS}
    if code == "MOW-LOCAL-ROAD":
        return dict(CENTRAL)
    if code == "HRB-SVX-AIR":
        # Not Kaliningrad: the charter's onward post does not serve the
        # exclave; the container train's Moscow consolidator does.
        out = {r: (5, 12) for r in REGIONS if r != "RU-KGD"}
        out.update({r: (4, 7) for r in URALS})
        out.update({r: (5, 9) for r in SIBERIA})
        return out
    return {r: (16, 24) for r in REGIONS if r not in FAR_EAST}


BUYERS = [
    (
        "ivan.petrov@example.ru",
        "Иван Петров",
        "+79221234567",
        "RU-SVE",
        "Екатеринбург",
        "620014",
        "ул. Малышева, 51, кв. 12",
    ),
    (
        "olga.smirnova@example.ru",
        "Ольга Смирнова",
        "+79141234567",
        "RU-PRI",
        "Владивосток",
        "690091",
        "ул. Светланская, 33, кв. 8",
    ),
    (
        "anna.kuznetsova@example.ru",
        "Анна Кузнецова",
        "+79161234567",
        "RU-MOW",
        "Москва",
        "101000",
        "ул. Мясницкая, 24, кв. 3",
    ),
]

# The demo buyers' identity documents for customs, by e-mail: fictional
# passports, INNs with valid check digits (the region's first two digits).
IDENTITIES = {
    "ivan.petrov@example.ru": ("6508", "123456", "2012-03-14", "1985-09-02", "660123456729"),
    "olga.smirnova@example.ru": ("0512", "654321", "2016-07-21", "1992-01-30", "250123456753"),
    "anna.kuznetsova@example.ru": ("4515", "246810", "2019-11-05", "1999-04-18", "770123456703"),
}

COURIERS = [
    (
        "courier.svx@example.ru",
        "Yekaterinburg last mile",
        "Russian Post",
        ["HRB-SVX-AIR", "SVX-LOCAL-ROAD"],
        URALS + SIBERIA,
    ),
    (
        "courier.vvo@example.ru",
        "Vladivostok last mile",
        "Primorye Express",
        ["SFH-VVO-ROAD"],
        FAR_EAST,
    ),
    (
        "handling.hrb@example.cn",
        "Harbin airport handling",
        "HRB Cargo Terminal",
        ["HRB-SVX-AIR", "HRB-MOW-RAIL"],
        [],
    ),
    (
        "courier.mow@example.ru",
        "Moscow last mile",
        "CDEK",
        ["MOW-LOCAL-ROAD", "HRB-MOW-RAIL"],
        list(CENTRAL),
    ),
]

DEMO_PASSWORD = "amur-demo-2026"  # noqa: S105 - published demo login
ADMIN_EMAIL = "admin@amur.local"
ADMIN_PASSWORD = "amur-admin-2026"  # noqa: S105 - published demo login

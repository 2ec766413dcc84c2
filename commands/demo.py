"""Builds a believable demo operator, idempotently (safe to run twice)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.utils import timezone

from accounts.models import Buyer, BuyerIdentity, Courier, MerchantStaff
from accounts.services import buyer_identity_save, token_create
from catalogue.models import Merchant, Product
from commands import demo_data as data
from commands.demo_catalogue import catalogue_seed
from commands.demo_shop import shop_seed
from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from core.identity import RecipientIdentity
from orders.models import Order
from orders.services import Address
from payments.rates import rate_record
from shipping.customs.services import duty_rules_seed
from shipping.fulfilment.models import Parcel
from shipping.lastmile.services import DEMO_POINTS_FILE, pickup_points_load, pickup_points_read
from shipping.linehaul.departures import departure_transition, departures_plan
from shipping.linehaul.models import Departure, Lane, LaneRegion
from warehouses.models import StockLevel, Warehouse
from warehouses.reasons import DEMO_OPENING_STOCK
from warehouses.services import stock_receive

MERCHANT_PERMISSIONS = [
    ("catalogue", "view_product"),
    ("catalogue", "add_product"),
    ("catalogue", "change_product"),
    ("catalogue", "view_listing"),
    ("catalogue", "add_listing"),
    ("catalogue", "change_listing"),
    ("catalogue", "view_listingimage"),
    ("catalogue", "add_listingimage"),
    ("catalogue", "change_listingimage"),
    ("catalogue", "delete_listingimage"),
    ("orders", "view_orderevent"),
    ("shipping", "view_fulfilmentorder"),
    ("catalogue", "view_merchant"),
    ("warehouses", "view_stocklevel"),
    ("warehouses", "change_stocklevel"),
    ("warehouses", "view_stockmovement"),
    ("warehouses", "view_reservation"),
    ("shipping", "view_parcel"),
    ("shipping", "view_trackingevent"),
    ("shipping", "view_return"),
    ("shipping", "view_returnline"),
    ("shipping", "view_returnevent"),
    ("payments", "view_settlementstatement"),
]


@dataclass
class DemoSummary:
    admin_email: str
    admin_password: str
    sample_tracking_number: str
    buyer_email: str
    buyer_password: str
    buyer_token: str


def _user(email: str, *, password: str, staff: bool = False, superuser: bool = False) -> User:
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=email, defaults={"email": email, "is_staff": staff, "is_superuser": superuser}
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


def _merchant_group() -> Group:
    group, _created = Group.objects.get_or_create(name="Merchant staff")
    perms = [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in MERCHANT_PERMISSIONS
    ]
    group.permissions.set(perms)
    return group


def _catalogue() -> list[Product]:
    merchants = []
    group = _merchant_group()
    for code, name, name_zh, city in data.MERCHANTS:
        display_ru, display_zh, display_en = data.MERCHANT_DISPLAY_NAMES[code]
        merchant, _created = Merchant.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_zh": name_zh,
                "city": city,
                "display_name_ru": display_ru,
                "display_name_zh": display_zh,
                "display_name_en": display_en,
                "phone": data.MERCHANT_PHONES[code],
            },
        )
        staff = _user(f"{code}@merchant.example.cn", password=data.DEMO_PASSWORD, staff=True)
        staff.groups.add(group)
        MerchantStaff.objects.get_or_create(user=staff, defaults={"merchant": merchant})
        merchants.append(merchant)
    return catalogue_seed(merchants)


def _network() -> dict[str, Warehouse]:
    warehouses = {}
    for code, name, kind, city, country in data.WAREHOUSES:
        warehouses[code], _created = Warehouse.objects.get_or_create(
            code=code, defaults={"name": name, "kind": kind, "city": city, "country": country}
        )
    today = timezone.now().date()
    for code, name, origin, hub_from, hub_to, mode, carrier, transit, border, max_g, base, per100, (
        hour,
        every,
        kg,
        m3,
        pieces,
    ) in data.LANES:
        lane, _created = Lane.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "origin": warehouses[origin],
                "origin_hub": hub_from,
                "destination_hub": hub_to,
                "mode": mode,
                "carrier": carrier,
                "transit_days": transit,
                "crosses_border": border,
                "max_parcel_weight_g": max_g,
                "base_fee_cny": base,
                "per_100g_cny": per100,
            },
        )
        for region, (low, high) in data.lane_regions(code).items():
            LaneRegion.objects.get_or_create(
                lane=lane, region=region, defaults={"min_days": low, "max_days": high}
            )
        for day in range(0, 15, every):
            when = timezone.make_aware(datetime.combine(today + timedelta(days=day), time(hour)))
            Departure.objects.get_or_create(
                lane=lane,
                number=f"{code.split('-')[0]}{code.split('-')[1]}-{when:%m%d}",
                scheduled_at=when,
                defaults={
                    "cutoff_at": when - timedelta(hours=4),
                    "capacity_kg": kg,
                    "capacity_m3": m3,
                    "capacity_pieces": pieces,
                },
            )
    return warehouses


def _stock(products: list[Product], warehouses: dict[str, Warehouse]) -> None:
    for i, product in enumerate(products):
        plan = {"HRB": 200 + (i * 37) % 300}
        if i % 2 == 0:
            plan["SFH"] = 60 + (i * 13) % 90
        if i % 3 == 0:
            plan["SVX"] = 30 + (i * 7) % 50
        if i % 4 == 1:
            plan["MOW"] = 40 + (i * 11) % 60
        for code, quantity in plan.items():
            if not StockLevel.objects.filter(warehouse=warehouses[code], product=product).exists():
                stock_receive(
                    warehouse_id=warehouses[code].id,
                    product_id=product.id,
                    quantity=quantity,
                    reason=DEMO_OPENING_STOCK,
                )


def _people() -> list[Buyer]:
    _user(data.ADMIN_EMAIL, password=data.ADMIN_PASSWORD, staff=True, superuser=True)
    buyers = []
    for email, _name, phone, *_rest in data.BUYERS:
        user = _user(email, password=data.DEMO_PASSWORD)
        buyer, _created = Buyer.objects.get_or_create(user=user, defaults={"phone": phone})
        if not BuyerIdentity.objects.filter(buyer=buyer).exists():
            series, number, issued_on, born_on, inn = data.IDENTITIES[email]
            buyer_identity_save(
                buyer=buyer,
                identity=RecipientIdentity(
                    passport_series=series,
                    passport_number=number,
                    passport_issued_on=date.fromisoformat(issued_on),
                    birth_date=date.fromisoformat(born_on),
                    inn=inn,
                ),
            )
        buyers.append(buyer)
    lanes = {lane.code: lane for lane in Lane.objects.all()}
    for email, name, company, lane_codes, regions in data.COURIERS:
        user = _user(email, password=data.DEMO_PASSWORD)
        courier, _created = Courier.objects.get_or_create(
            user=user, defaults={"name": name, "company": company, "regions": regions}
        )
        courier.lanes.set([lanes[c] for c in lane_codes])
    return buyers


def _duty_rule() -> None:
    """The duty rules ship as migrations; re-seed them if they were removed."""
    duty_rules_seed()


def _rates() -> None:
    today = timezone.now().date()
    for back in range(7):
        day = today - timedelta(days=back)
        wobble = Decimal(back) / 100
        rate_record(currency="CNY", on=day, rate_to_rub=Decimal("11.0520") - wobble, source="demo")
        rate_record(currency="EUR", on=day, rate_to_rub=Decimal("92.4810") + wobble, source="demo")


def _sample_shipment(buyer: Buyer) -> str:
    """One order taken all the way to a departed flight, for the tracking demo."""
    existing = Parcel.objects.order_by("id").values_list("tracking_number", flat=True).first()
    if existing:
        return existing
    _email, name, phone, region, city, postcode, street = data.BUYERS[0]
    skus = list(
        StockLevel.objects.filter(warehouse__code="HRB", on_hand__gte=10)
        .exclude(product__in=StockLevel.objects.filter(warehouse__code="SVX").values("product"))
        .order_by("product__sku")
        .values_list("product__sku", flat=True)[:2]
    )
    order = order_place(
        user_id=buyer.user_id,
        lines=[LineRequest(sku=sku, quantity=1) for sku in skus],
        address=Address(name, phone, region, city, postcode, street),
        payment_method="card",
    )
    sandbox_token = "tok_approve"  # noqa: S105 - the sandbox's published test token
    payment_card_charge(order_id=order.id, token=sandbox_token, actor_id=buyer.user_id)
    parcels = order_pack(order_id=order.id)
    lane = parcels[0].lane
    departures_plan(lane_id=lane.id)
    departure = Parcel.objects.get(id=parcels[0].id).departure
    if departure is not None:
        departure_transition(departure_id=departure.id, to="closed")
        departure_transition(departure_id=departure.id, to="departed")
    return parcels[0].tracking_number


def demo_seed() -> DemoSummary:
    with transaction.atomic():
        products = _catalogue()
        warehouses = _network()
        _stock(products, warehouses)
        _rates()
        _duty_rule()
        pickup_points_load(points=pickup_points_read(DEMO_POINTS_FILE))
        buyers = _people()
        tracking = _sample_shipment(buyers[0])
        shop_seed(buyers)
    # A new token each run: only digests are stored, so an old one cannot be shown.
    token, _expiry = token_create(user=buyers[0].user)
    return DemoSummary(
        admin_email=data.ADMIN_EMAIL,
        admin_password=data.ADMIN_PASSWORD,
        sample_tracking_number=tracking,
        buyer_email=buyers[0].user.email,
        buyer_password=data.DEMO_PASSWORD,
        buyer_token=token,
    )


def demo_orders_count() -> int:
    return Order.objects.count()

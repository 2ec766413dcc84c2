from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import Buyer, BuyerIdentity, Courier, MerchantStaff
from catalogue.models import Listing, Merchant, Product
from catalogue.services import listing_search_refresh
from core.identity import RecipientIdentity
from payments.models import ExchangeRate
from shipping.linehaul.models import Departure, Lane, LaneRegion
from warehouses.models import Warehouse

PASSWORD = "Correct-Horse-9"  # test fixture


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.ru")
    username = factory.SelfAttribute("email")
    password = factory.django.Password(PASSWORD)


# A Russian passport and a published valid individual INN (check digits 5, 9).
IDENTITY = RecipientIdentity(
    passport_series="4509",
    passport_number="731902",
    passport_issued_on=date(2015, 2, 10),
    birth_date=date(1990, 5, 17),
    inn="500100732259",
)


class BuyerIdentityFactory(factory.django.DjangoModelFactory[BuyerIdentity]):
    """The buyer's saved identity document (BuyerFactory makes one unless
    given identity=None), so that cross-border orders can be packed."""

    class Meta:
        model = BuyerIdentity

    passport_series = IDENTITY.passport_series
    passport_number = IDENTITY.passport_number
    passport_issued_on = IDENTITY.passport_issued_on
    birth_date = IDENTITY.birth_date
    inn = IDENTITY.inn


class BuyerFactory(factory.django.DjangoModelFactory[Buyer]):
    class Meta:
        model = Buyer
        skip_postgeneration_save = True

    user = factory.SubFactory(UserFactory)
    language = "ru"
    phone = "+79221234567"
    identity = factory.RelatedFactory(BuyerIdentityFactory, factory_related_name="buyer")


class MerchantFactory(factory.django.DjangoModelFactory[Merchant]):
    class Meta:
        model = Merchant
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"merchant-{n}")
    name = factory.Sequence(lambda n: f"Merchant {n}")
    name_zh = "商家"


class MerchantStaffFactory(factory.django.DjangoModelFactory[MerchantStaff]):
    class Meta:
        model = MerchantStaff

    user = factory.SubFactory(UserFactory, is_staff=True)
    merchant = factory.SubFactory(MerchantFactory)


class ListingFactory(factory.django.DjangoModelFactory[Listing]):
    class Meta:
        model = Listing
        django_get_or_create = ("slug",)

    merchant = factory.SubFactory(MerchantFactory)
    slug = factory.Sequence(lambda n: f"listing-{n}")
    name_ru = factory.Sequence(lambda n: f"Товар {n}")
    name_zh = factory.Sequence(lambda n: f"商品{n}")
    name_en = factory.Sequence(lambda n: f"Product {n}")


class ProductFactory(factory.django.DjangoModelFactory[Product]):
    """A SKU; unless given a listing, the only variant of one of its own
    (as the migration made them), named as it is."""

    class Meta:
        model = Product
        django_get_or_create = ("sku",)
        skip_postgeneration_save = True

    merchant = factory.SubFactory(MerchantFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name_ru = factory.Sequence(lambda n: f"Товар {n}")
    name_zh = factory.Sequence(lambda n: f"商品{n}")
    name_en = factory.Sequence(lambda n: f"Product {n}")
    listing = factory.SubFactory(
        ListingFactory,
        merchant=factory.SelfAttribute("..merchant"),
        slug=factory.LazyAttribute(lambda o: o.factory_parent.sku.lower()),
        name_ru=factory.SelfAttribute("..name_ru"),
        name_zh=factory.SelfAttribute("..name_zh"),
        name_en=factory.SelfAttribute("..name_en"),
    )
    hs_code = "620193"
    weight_g = 500
    length_mm = 300
    width_mm = 200
    height_mm = 100
    price_cny = Decimal("100.00")

    @factory.post_generation
    def search(obj: Product, create: bool, extracted: Any, **kwargs: Any) -> None:
        # As catalogue.services writes it for every product it saves.
        if create:
            listing_search_refresh(listing_id=obj.listing_id)
            obj.refresh_from_db(fields=["search_text"])


class WarehouseFactory(factory.django.DjangoModelFactory[Warehouse]):
    class Meta:
        model = Warehouse
        django_get_or_create = ("code",)

    code = "HRB"
    name = factory.LazyAttribute(lambda o: f"{o.code} warehouse")
    kind = "domestic"
    city = "Harbin"
    country = "CN"


class LaneFactory(factory.django.DjangoModelFactory[Lane]):
    class Meta:
        model = Lane
        django_get_or_create = ("code",)

    code = "HRB-SVX-AIR"
    name = "Harbin - Yekaterinburg charter"
    origin = factory.SubFactory(WarehouseFactory)
    origin_hub = "HRB"
    destination_hub = "SVX"
    mode = "air"
    carrier = "Charter"
    transit_days = 1
    crosses_border = True
    max_parcel_weight_g = 31_000
    base_fee_cny = Decimal("25.00")
    per_100g_cny = Decimal("4.50")


class LaneRegionFactory(factory.django.DjangoModelFactory[LaneRegion]):
    class Meta:
        model = LaneRegion
        django_get_or_create = ("lane", "region")

    lane = factory.SubFactory(LaneFactory)
    region = "RU-SVE"
    min_days = 4
    max_days = 7


class DepartureFactory(factory.django.DjangoModelFactory[Departure]):
    class Meta:
        model = Departure

    lane = factory.SubFactory(LaneFactory)
    number = factory.Sequence(lambda n: f"CF{n:04d}")
    scheduled_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    cutoff_at = factory.LazyAttribute(lambda o: o.scheduled_at - timedelta(hours=4))
    capacity_kg = Decimal("1000")
    capacity_m3 = Decimal("10")
    capacity_pieces = 500


class CourierFactory(factory.django.DjangoModelFactory[Courier]):
    class Meta:
        model = Courier

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Courier {n}")
    regions = factory.LazyFunction(list)


def rates_today(cny: str = "11.0000", eur: str = "92.0000") -> None:
    today = timezone.now().date()
    ExchangeRate.objects.update_or_create(
        currency="CNY", date=today, defaults={"rate_to_rub": Decimal(cny)}
    )
    ExchangeRate.objects.update_or_create(
        currency="EUR", date=today, defaults={"rate_to_rub": Decimal(eur)}
    )


def token_for(user: User) -> str:
    """A new API token for the user (only its digest is stored)."""
    return AuthToken.objects.create(user=user)[1]


MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
# Django's own, before tests/conftest.py makes force_login call staff_login.
plain_force_login = Client.force_login


def staff_login(client: Any, user: User) -> None:
    """Log a staff member into the admin as after password and TOTP code:
    a confirmed TOTP device, a session, and the session marked verified
    with that device (django-otp's own session key)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="tests", confirmed=True)
    plain_force_login(client, user, backend=MODEL_BACKEND)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()

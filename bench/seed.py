"""Seeds a benchmark database: run as `python bench/seed.py SKUS BUYERS UNITS`.

Prints one line of JSON: the SKUs and the buyers' tokens."""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecommerce.settings")

import django

django.setup()

from django.contrib.auth import get_user_model
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import Buyer
from catalogue.models import Listing, Merchant, Product
from payments.rates import rate_record
from shipping.linehaul.models import Lane, LaneRegion
from warehouses.models import StockLevel, StockMovement, Warehouse


def harbin_lane(merchant_code: str) -> tuple[Merchant, Warehouse, Lane]:
    """A merchant, the Harbin warehouse and its air lane to Yekaterinburg."""
    merchant = Merchant.objects.create(code=merchant_code, name="Bench merchant")
    hrb = Warehouse.objects.create(
        code="HRB", name="Harbin", kind="domestic", city="Harbin", country="CN"
    )
    lane = Lane.objects.create(
        code="HRB-SVX-AIR",
        name="Harbin - Yekaterinburg",
        origin=hrb,
        origin_hub="HRB",
        destination_hub="SVX",
        mode="air",
        carrier="Charter",
        transit_days=1,
        base_fee_cny=Decimal("25"),
        per_100g_cny=Decimal("4.5"),
    )
    LaneRegion.objects.create(lane=lane, region="RU-SVE", min_days=4, max_days=7)
    return merchant, hrb, lane


def main(skus: int, buyers: int, units: int) -> None:
    merchant, hrb, _lane = harbin_lane("bench")
    listings = Listing.objects.bulk_create(
        [
            Listing(merchant=merchant, slug=f"b-{i:05d}", name_ru="-", name_zh="-", name_en="-")
            for i in range(skus)
        ]
    )
    products = Product.objects.bulk_create(
        [
            Product(
                merchant=merchant,
                listing=listings[i],
                sku=f"B-{i:05d}",
                name_ru=f"Товар {i}",
                name_zh=f"商品{i}",
                name_en=f"Item {i}",
                hs_code="620193",
                weight_g=300,
                length_mm=200,
                width_mm=100,
                height_mm=50,
                price_cny=Decimal("49.90"),
            )
            for i in range(skus)
        ]
    )
    levels = StockLevel.objects.bulk_create(
        [StockLevel(warehouse=hrb, product=p, on_hand=units) for p in products]
    )
    StockMovement.objects.bulk_create(
        [StockMovement(stock=level, kind="receipt", on_hand_delta=units) for level in levels]
    )
    today = timezone.now().date()
    for day in (today, today - timedelta(days=1)):
        rate_record(currency="CNY", on=day, rate_to_rub=Decimal("11.05"), source="bench")
        rate_record(currency="EUR", on=day, rate_to_rub=Decimal("92.48"), source="bench")
    User = get_user_model()
    tokens = []
    for i in range(buyers):
        user = User.objects.create_user(username=f"b{i}@bench.ru", email=f"b{i}@bench.ru")
        Buyer.objects.create(user=user)
        tokens.append(AuthToken.objects.create(user=user)[1])
    print(json.dumps({"skus": [p.sku for p in products], "tokens": tokens}))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))

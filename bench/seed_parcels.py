"""Seeds parcels in bulk for the scan and fan-out benchmarks.

    python bench/seed_parcels.py PARCELS --buyers N --stage {in_transit,loaded}

One order of one line and one parcel per purchase, spread over N buyers (each
with an e-mail address, as real buyers have; a buyer's orders are consecutive,
so a buyer's parcels go to one courier), all on the Harbin - Yekaterinburg
air lane:

- stage in_transit: the parcels have departed and arrived in Yekaterinburg
  (label_created, loaded, departed, arrived, hours ago), their orders are in
  transit: ready for customs and last-mile scans;
- stage loaded: the parcels are loaded on one closed departure (label_created,
  loaded), their orders packed: ready to depart.

Also a courier (token) on the lane and an operator (token). Prints one line of
JSON: tokens, the departure id and the tracking numbers."""

from __future__ import annotations

import argparse
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
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import Buyer, Courier
from bench.seed import harbin_lane
from catalogue.models import Listing, Product
from orders.models import Order, OrderLine, OrderStatus
from shipping.fulfilment.models import Parcel, ParcelLine, ParcelStatus, TrackingSeries
from shipping.fulfilment.numbers import s10_build
from shipping.linehaul.models import Departure
from shipping.tracking.events import EVENT_KINDS
from shipping.tracking.models import TrackingEvent

BATCH = 2000
PRICE = Decimal("49.90")
RATE = Decimal("11.05")


def main(parcels: int, buyers: int, stage: str) -> None:
    User = get_user_model()
    now = timezone.now()
    unusable = make_password(None)
    with transaction.atomic():
        merchant, hrb, lane = harbin_lane("bench-parcels")
        listing = Listing.objects.create(
            merchant=merchant, slug="tea-bench", name_ru="Чай", name_zh="茶", name_en="Tea"
        )
        product = Product.objects.create(
            merchant=merchant,
            listing=listing,
            sku="TEA-BENCH",
            name_ru="Чай",
            name_zh="茶",
            name_en="Tea",
            hs_code="090230",
            weight_g=300,
            length_mm=200,
            width_mm=100,
            height_mm=50,
            price_cny=PRICE,
        )
        departure = Departure.objects.create(
            lane=lane,
            number="CZ6001",
            scheduled_at=now + timedelta(hours=2),
            cutoff_at=now + timedelta(hours=1),
            capacity_kg=Decimal("1000000"),
            capacity_m3=Decimal("100000"),
            capacity_pieces=parcels + 1,
            status="departed" if stage == "in_transit" else "closed",
        )

        users = User.objects.bulk_create(
            [
                User(username=f"buyer{i}@bench.ru", email=f"buyer{i}@bench.ru", password=unusable)
                for i in range(buyers)
            ],
            batch_size=BATCH,
        )
        buyer_rows = Buyer.objects.bulk_create(
            [
                Buyer(user=user, language=("ru", "ru", "en", "zh-hans")[i % 4])
                for i, user in enumerate(users)
            ],
            batch_size=BATCH,
        )

        in_transit = stage == "in_transit"
        shipping_rub = (Decimal(25) + Decimal("4.5") * 3) * RATE
        goods_rub = (PRICE * RATE).quantize(Decimal("0.01"))
        orders = Order.objects.bulk_create(
            [
                Order(
                    number=f"AMB{i:09d}",
                    buyer=buyer_rows[i * buyers // parcels],
                    status=OrderStatus.IN_TRANSIT if in_transit else OrderStatus.PACKED,
                    payment_method="card",
                    recipient_name="Иван Петров",
                    recipient_phone="+79221234567",
                    region="RU-SVE",
                    city="Екатеринбург",
                    postcode="620014",
                    street="ул. Малышева, 51",
                    goods_cny=PRICE,
                    goods_rub=goods_rub,
                    shipping_rub=shipping_rub,
                    duty_rub=Decimal(0),
                    total_rub=goods_rub + shipping_rub,
                    cny_rub_rate=RATE,
                    eur_rub_rate=Decimal("92.48"),
                    rates_date=now.date(),
                    plan=[
                        {"warehouse_id": hrb.id, "lane": lane.code, "min_days": 4, "max_days": 7}
                    ],
                    event_seq=5 if in_transit else 4,
                    paid_at=now - timedelta(days=1),
                )
                for i in range(parcels)
            ],
            batch_size=BATCH,
        )
        lines = OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=order,
                    product=product,
                    merchant=merchant,
                    sku=product.sku,
                    name=product.name_ru,
                    quantity=1,
                    unit_price_cny=PRICE,
                    line_total_cny=PRICE,
                )
                for order in orders
            ],
            batch_size=BATCH,
        )
        numbers = [s10_build("RB", 10_000_000 + i, "CN") for i in range(parcels)]
        parcel_rows = Parcel.objects.bulk_create(
            [
                Parcel(
                    order=order,
                    warehouse=hrb,
                    lane=lane,
                    departure=departure,
                    tracking_number=number,
                    status=ParcelStatus.IN_TRANSIT if in_transit else ParcelStatus.INFO_RECEIVED,
                    weight_g=300,
                    expected_weight_g=300,
                    length_mm=200,
                    width_mm=100,
                    height_mm=50,
                    value_cny=PRICE,
                    promised_min_days=4,
                    promised_max_days=7,
                    event_seq=2 if in_transit else 1,
                )
                for order, number in zip(orders, numbers, strict=True)
            ],
            batch_size=BATCH,
        )
        ParcelLine.objects.bulk_create(
            [
                ParcelLine(parcel=parcel, line=line, quantity=1)
                for parcel, line in zip(parcel_rows, lines, strict=True)
            ],
            batch_size=BATCH,
        )
        timeline = [("label_created", 8, ""), ("loaded", 7, "HRB")]
        if in_transit:
            timeline += [("departed", 6, "HRB"), ("arrived", 3, "SVX")]
        TrackingEvent.objects.bulk_create(
            [
                TrackingEvent(
                    parcel=parcel,
                    event=event,
                    status=EVENT_KINDS[event].status,
                    emsevt=EVENT_KINDS[event].emsevt,
                    occurred_at=now - timedelta(hours=hours_ago),
                    location=location,
                    source="system" if event == "label_created" else "departure",
                    data={} if event == "label_created" else {"departure": departure.number},
                )
                for parcel in parcel_rows
                for event, hours_ago, location in timeline
            ],
            batch_size=BATCH,
        )
        TrackingSeries.objects.update_or_create(
            prefix="RB", country="CN", defaults={"next_serial": 10_000_000 + parcels}
        )

        courier_user = User.objects.create_user(
            username="courier@bench.ru", email="courier@bench.ru"
        )
        courier = Courier.objects.create(user=courier_user, name="Bench courier", regions=[])
        courier.lanes.add(lane)
        staff = User.objects.create_user(
            username="ops@bench.ru", email="ops@bench.ru", is_staff=True
        )
        result = {
            "courier_token": AuthToken.objects.create(user=courier_user)[1],
            "staff_token": AuthToken.objects.create(user=staff)[1],
            "staff_user_id": staff.id,
            "departure_id": departure.id,
            "tracking_numbers": numbers,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parcels", type=int)
    parser.add_argument("--buyers", type=int, default=1000)
    parser.add_argument("--stage", choices=["in_transit", "loaded"], default="in_transit")
    args = parser.parse_args()
    main(args.parcels, args.buyers, args.stage)

"""A living shop for each demo merchant: orders in every status that lasts
(mixed-merchant ones among them), parcels on the way on each lane, and a
delivered, released and settled week with its issued statement.

Every order goes through the real commands (place, pay, cancel, pack, plan,
departures, courier scans, release, statements). Only the clock is faked:
once an order's story is told, its rows are moved back in time together
(`_backdate`), so the charts have days behind them, parcels have an age, and
last week's statement has something to settle."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import DateTimeField, F, Model, QuerySet
from django.utils import timezone

from accounts.models import Buyer, Courier
from commands import demo_data as data
from commands.cancel import order_cancel
from commands.pack import order_pack
from commands.pay import payment_card_charge
from commands.place import order_place
from commands.quote import LineRequest
from commands.scans import courier_scans_report
from orders.models import Order, OrderEvent, OrderStatus
from orders.services import Address
from payments.models import LedgerTransaction, Payment, PaymentEvent, SettlementStatement
from payments.settlement import RELEASE, payables_release, statements_build_weekly, week_start_of
from risk.models import RiskRule
from shipping.fulfilment.models import FulfilmentOrder, FulfilmentOrderEvent, Parcel
from shipping.linehaul.departures import departure_transition, departures_plan
from shipping.linehaul.models import Lane
from shipping.tracking.models import TrackingEvent
from shipping.tracking.scans import Scan
from shipping.tracking.timeline import pending_events_apply
from warehouses.models import Reservation, StockLevel, StockMovement

TOKEN = "tok_approve"  # noqa: S105 - the sandbox's published test token
# Where each lane's parcels go, and the warehouse whose stock sends them
# there (a SKU stocked nowhere nearer, so allocation picks that lane).
LANE_TRIPS = {
    "HRB-SVX-AIR": ("RU-NVS", "HRB", {"SVX", "MOW"}),
    "SFH-VVO-ROAD": ("RU-PRI", "SFH", set()),
    "SVX-LOCAL-ROAD": ("RU-SVE", "SVX", set()),
    "MOW-LOCAL-ROAD": ("RU-MOW", "MOW", set()),
    "HRB-MOW-RAIL": ("RU-KGD", "HRB", {"SVX", "MOW"}),
}
CITY = {
    "RU-NVS": ("Новосибирск", "630099", "Красный проспект, 25"),
    "RU-PRI": ("Владивосток", "690091", "ул. Светланская, 29"),
    "RU-SVE": ("Екатеринбург", "620014", "ул. Малышева, 51"),
    "RU-MOW": ("Москва", "125009", "ул. Тверская, 7"),
    "RU-KGD": ("Калининград", "236022", "Ленинский проспект, 83"),
    "RU-TOM": ("Томск", "634050", "проспект Ленина, 36"),
    "RU-OMS": ("Омск", "644043", "ул. Ленина, 14"),
}


class _Shop:
    def __init__(self, buyers: list[Buyer]) -> None:
        self.buyers = buyers
        self.turn = 0
        self.merchants = [code for code, *_rest in data.MERCHANTS]

    def buyer(self) -> Buyer:
        self.turn += 1
        return self.buyers[self.turn % len(self.buyers)]

    def sku(self, merchant: str, *, at: str, not_at: set[str], skip: int = 0) -> str:
        levels = (
            StockLevel.objects.filter(
                product__merchant__code=merchant, warehouse__code=at, on_hand__gte=20
            )
            .exclude(
                product__in=StockLevel.objects.filter(warehouse__code__in=not_at).values("product")
            )
            .order_by("product__sku")
            .values_list("product__sku", flat=True)
        )
        skus = list(levels)
        return skus[skip % len(skus)]

    def air(self, merchant: str, skip: int = 0) -> str:
        """A SKU that only Harbin stocks: it flies the charter."""
        return self.sku(merchant, at="HRB", not_at={"SVX", "MOW"}, skip=skip)

    def place(
        self,
        skus: list[str],
        *,
        region: str,
        pay: bool = True,
        method: str = "card",
        quantity: int = 1,
    ) -> Order:
        buyer = self.buyer()
        _email, name, phone, *_rest = next(b for b in data.BUYERS if b[0] == buyer.user.email)
        city, postcode, street = CITY[region]
        order = order_place(
            user_id=buyer.user_id,
            lines=[LineRequest(sku=sku, quantity=quantity) for sku in skus],
            address=Address(name, phone, region, city, postcode, street),
            payment_method=method,
        )
        if pay and method == "card":
            payment_card_charge(order_id=order.id, token=TOKEN, actor_id=buyer.user_id)
        return Order.objects.get(id=order.id)


def _shift(queryset: QuerySet[Any], model: type[Model], delta: timedelta) -> None:
    fields = [f.name for f in model._meta.concrete_fields if isinstance(f, DateTimeField)]
    queryset.update(**{name: F(name) - delta for name in fields})


def _backdate(order_ids: list[int], delta: timedelta) -> None:
    """Move the orders' whole history back by delta: as if it happened then."""
    _shift(Order.objects.filter(id__in=order_ids), Order, delta)
    _shift(OrderEvent.objects.filter(order_id__in=order_ids), OrderEvent, delta)
    _shift(Payment.objects.filter(order_id__in=order_ids), Payment, delta)
    _shift(PaymentEvent.objects.filter(payment__order_id__in=order_ids), PaymentEvent, delta)
    _shift(FulfilmentOrder.objects.filter(order_id__in=order_ids), FulfilmentOrder, delta)
    _shift(
        FulfilmentOrderEvent.objects.filter(fulfilment_order__order_id__in=order_ids),
        FulfilmentOrderEvent,
        delta,
    )
    _shift(Parcel.objects.filter(order_id__in=order_ids), Parcel, delta)
    _shift(TrackingEvent.objects.filter(parcel__order_id__in=order_ids), TrackingEvent, delta)
    _shift(LedgerTransaction.objects.filter(order_id__in=order_ids), LedgerTransaction, delta)
    _shift(Reservation.objects.filter(order_id__in=order_ids), Reservation, delta)
    _shift(StockMovement.objects.filter(order_id__in=order_ids), StockMovement, delta)


def _ship(order_ids: list[int], *, lane_code: str) -> list[Parcel]:
    """Pack the orders and fly (drive, rail) them off on the lane's next departure."""
    parcels = [p for order_id in order_ids for p in order_pack(order_id=order_id)]
    lane = Lane.objects.get(code=lane_code)
    departures_plan(lane_id=lane.id)
    departure_ids = {
        d
        for d in Parcel.objects.filter(id__in=[p.id for p in parcels]).values_list(
            "departure_id", flat=True
        )
        if d
    }
    for departure_id in sorted(departure_ids):
        departure_transition(departure_id=departure_id, to="closed")
        departure_transition(departure_id=departure_id, to="departed")
    return parcels


def _deliver(parcels: list[Parcel], *, courier: Courier) -> None:
    departure_ids = sorted(
        {
            d
            for d in Parcel.objects.filter(id__in=[p.id for p in parcels]).values_list(
                "departure_id", flat=True
            )
            if d
        }
    )
    for departure_id in departure_ids:
        departure_transition(departure_id=departure_id, to="arrived")
    now = timezone.now()
    steps = ["customs_presented", "customs_released", "out_for_delivery", "delivered"]
    scans = [
        Scan(
            index=i,
            scan_id=f"demo-{parcel.tracking_number}-{event}",
            tracking_number=parcel.tracking_number,
            event=event,
            occurred_at=now + timedelta(minutes=n + 1),
            location="Екатеринбург",
        )
        for i, (parcel, (n, event)) in enumerate(
            (parcel, step) for parcel in parcels for step in enumerate(steps)
        )
    ]
    courier_scans_report(courier=courier, scans=scans)
    # In the demo's one transaction the after-commit task would come too late.
    pending_events_apply()


def _settled_week(shop: _Shop) -> None:
    """Orders of every merchant (one of them mixed) delivered three weeks ago,
    released last Wednesday, and last week's statements issued."""
    h, s, k = shop.merchants
    orders = [
        shop.place([shop.air(h), shop.air(s)], region="RU-SVE"),
        shop.place([shop.air(h, 1)], region="RU-SVE"),
        shop.place([shop.air(s, 1)], region="RU-SVE"),
        shop.place([shop.air(k)], region="RU-SVE"),
    ]
    ids = [o.id for o in orders]
    parcels = _ship(ids, lane_code="HRB-SVX-AIR")
    _deliver(parcels, courier=Courier.objects.get(user__username="courier.svx@example.ru"))
    released_at = datetime.combine(
        week_start_of(timezone.now()) - timedelta(days=5),
        time(10),
        tzinfo=timezone.get_current_timezone(),
    )
    delivered = (
        Order.objects.filter(id__in=ids)
        .order_by("delivered_at")
        .values_list("delivered_at", flat=True)
    )
    last = max(d for d in delivered if d is not None)
    _backdate(ids, last - (released_at - timedelta(days=15)))
    payables_release(now=timezone.now())
    releases = LedgerTransaction.objects.filter(order_id__in=ids, kind=RELEASE)
    releases.update(created_at=released_at)
    statements_build_weekly(now=timezone.now())


def shop_seed(buyers: list[Buyer]) -> None:
    """Idempotent: a shop with an issued statement is already alive."""
    if SettlementStatement.objects.filter(status=SettlementStatement.Status.ISSUED).exists():
        return
    shop = _Shop(buyers)
    _settled_week(shop)
    h, s, k = shop.merchants

    # Parcels on the way on every lane, a day or more old; some mixed orders.
    for days, (lane, (region, at, not_at)) in enumerate(LANE_TRIPS.items(), start=1):
        merchant = shop.merchants[days % 3]
        skus = [shop.sku(merchant, at=at, not_at=not_at, skip=2)]
        if lane == "HRB-SVX-AIR":
            skus.append(shop.sku(k if merchant != k else h, at=at, not_at=not_at, skip=3))
        order = shop.place(skus, region=region)
        _ship([order.id], lane_code=lane)
        _backdate([order.id], timedelta(days=days, hours=3 * days))

    # Recently delivered (its payable still held) for each merchant.
    for days, merchant in enumerate(shop.merchants, start=2):
        order = shop.place([shop.air(merchant, 4)], region="RU-SVE")
        parcels = _ship([order.id], lane_code="HRB-SVX-AIR")
        _deliver(parcels, courier=Courier.objects.get(user__username="courier.svx@example.ru"))
        _backdate([order.id], timedelta(days=days + 4))

    # Allocated (paid, waiting to be packed) and packed (waiting for a
    # departure), one of each mixed; cancelled; awaiting payment; held for
    # review (a new account's large order trips the new-account cap).
    for days, merchant in enumerate(shop.merchants):
        other = shop.merchants[(days + 1) % 3]
        skus = [shop.air(merchant, 5)]
        if days == 0:
            skus.append(shop.air(other, 6))
        allocated = shop.place(skus, region="RU-TOM")
        packed = shop.place([shop.air(merchant, 7), *skus[1:]], region="RU-TOM")
        order_pack(order_id=packed.id)
        cancelled = shop.place([shop.air(merchant, 8)], region="RU-OMS", pay=False)
        order_cancel(order_id=cancelled.id, actor_id=None)
        _backdate([allocated.id, packed.id, cancelled.id], timedelta(days=days, hours=days + 1))
        shop.place([shop.air(merchant, 9)], region="RU-OMS", pay=False)
    # The packed parcels are booked on the charter's next departures: the
    # operators' index shows their load.
    departures_plan(lane_id=Lane.objects.get(code="HRB-SVX-AIR").id)
    cod = shop.place([shop.air(s, 10)], region="RU-SVE", method="cod")
    _backdate([cod.id], timedelta(days=1))
    # The migration's default rule; a database flushed by tests lacks it.
    RiskRule.objects.get_or_create(
        code="new-account-cap",
        defaults={"kind": "new_account_cap", "limit": Decimal("30000.00"), "account_age_days": 7},
    )
    held = shop.place([shop.air(h, 11)], region="RU-SVE", pay=False, quantity=12)
    assert held.status == OrderStatus.ON_HOLD, held.status

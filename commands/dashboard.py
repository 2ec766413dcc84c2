"""The figures of the admin's index pages: a merchant's dashboard (its orders,
sales, parcels on the way, low stock, money) and the operators' departures.

Reads across orders, shipping, stock and the ledger, so they live in the
application layer; every figure is one aggregate query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from catalogue.models import Merchant
from orders.models import Order, OrderLine, OrderStatus
from payments.ledger import MERCHANT_PAYABLE, MERCHANT_PAYABLE_RELEASED
from payments.models import LedgerEntry, SettlementStatement
from shipping.fulfilment.models import Parcel, ParcelStatus
from shipping.linehaul.models import Departure, DepartureStatus, Lane
from warehouses.models import StockLevel

# Below this many available units a stock level without its own threshold
# counts as low: a small seller restocks from Harbin within about a week.
LOW_STOCK_DEFAULT = 10
DASHBOARD_DAYS = 14
# Parcels that have left the packing table and are not yet in the buyer's hands.
PARCELS_ON_THE_WAY = (
    ParcelStatus.INFO_RECEIVED,
    ParcelStatus.IN_TRANSIT,
    ParcelStatus.IN_CUSTOMS,
    ParcelStatus.CUSTOMS_HELD,
    ParcelStatus.OUT_FOR_DELIVERY,
    ParcelStatus.DELIVERY_FAILED,
    ParcelStatus.AVAILABLE_FOR_PICKUP,
)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DayFigures:
    day: date
    orders: int
    sales_cny: Decimal


@dataclass(frozen=True)
class LaneInTransit:
    lane: Lane
    parcels: int
    oldest_days: int
    average_days: Decimal


@dataclass(frozen=True)
class LowStock:
    level: StockLevel
    available: int
    threshold: int


@dataclass(frozen=True)
class MerchantDashboard:
    merchant: Merchant
    days: list[DayFigures]
    by_status: list[tuple[str, str, int]]  # (status, label, orders)
    lanes: list[LaneInTransit]
    low_stock: list[LowStock]
    payable_held_rub: Decimal
    payable_released_rub: Decimal
    last_statement: SettlementStatement | None


def _account_balance(*, merchant_id: int, account: str) -> Decimal:
    """Credit less debit: what the platform owes the merchant on the account."""
    totals = LedgerEntry.objects.filter(account__code=account, merchant_id=merchant_id).aggregate(
        credit=Coalesce(Sum("credit"), Value(ZERO)), debit=Coalesce(Sum("debit"), Value(ZERO))
    )
    return Decimal(totals["credit"] - totals["debit"]).quantize(ZERO)


def merchant_dashboard(*, merchant_id: int, now: datetime, tz: tzinfo) -> MerchantDashboard:
    """Days are the viewer's calendar days (Harbin staff count in UTC+8)."""
    merchant = Merchant.objects.get(id=merchant_id)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=DASHBOARD_DAYS - 1)
    lines = OrderLine.objects.filter(merchant_id=merchant_id)
    per_day = {
        row["day"]: row
        for row in lines.exclude(order__status=OrderStatus.CANCELLED)
        .annotate(day=TruncDate("order__created_at", tzinfo=tz))
        .filter(day__gte=first, day__lte=today)
        .values("day")
        .annotate(orders=Count("order", distinct=True), sales=Sum("line_total_cny"))
    }
    days = [
        DayFigures(
            day=day,
            orders=per_day[day]["orders"] if day in per_day else 0,
            sales_cny=Decimal(per_day[day]["sales"]).quantize(ZERO) if day in per_day else ZERO,
        )
        for day in (first + timedelta(days=n) for n in range(DASHBOARD_DAYS))
    ]
    counts = dict(
        Order.objects.filter(lines__merchant_id=merchant_id)
        .values("status")
        .annotate(n=Count("id", distinct=True))
        .values_list("status", "n")
    )
    by_status = [
        (status.value, str(status.label), counts.get(status.value, 0)) for status in OrderStatus
    ]
    return MerchantDashboard(
        merchant=merchant,
        days=days,
        by_status=by_status,
        lanes=_lanes_in_transit(merchant_id=merchant_id, now=now),
        low_stock=_low_stock(merchant_id=merchant_id),
        payable_held_rub=_account_balance(merchant_id=merchant_id, account=MERCHANT_PAYABLE),
        payable_released_rub=_account_balance(
            merchant_id=merchant_id, account=MERCHANT_PAYABLE_RELEASED
        ),
        last_statement=SettlementStatement.objects.filter(merchant_id=merchant_id)
        .order_by("-period_start")
        .first(),
    )


def _lanes_in_transit(*, merchant_id: int, now: datetime) -> list[LaneInTransit]:
    """Parcels holding the merchant's goods, by lane, with their age since packing."""
    parcels = (
        Parcel.objects.filter(
            status__in=PARCELS_ON_THE_WAY,
            order__in=OrderLine.objects.filter(merchant_id=merchant_id).values("order_id"),
        )
        .values_list("lane_id", "created_at")
        .order_by("lane_id", "created_at")
    )
    ages: dict[int, list[timedelta]] = {}
    for lane_id, created_at in parcels:
        ages.setdefault(lane_id, []).append(now - created_at)
    lanes = Lane.objects.in_bulk(list(ages))
    rows = []
    for lane_id in sorted(ages, key=lambda i: lanes[i].code):
        spans = ages[lane_id]
        mean = sum(spans, timedelta()) / len(spans)
        rows.append(
            LaneInTransit(
                lane=lanes[lane_id],
                parcels=len(spans),
                oldest_days=max(spans).days,
                average_days=Decimal(mean.total_seconds() / 86400).quantize(Decimal("0.1")),
            )
        )
    return rows


def _low_stock(*, merchant_id: int) -> list[LowStock]:
    levels = (
        StockLevel.objects.filter(product__merchant_id=merchant_id, product__is_active=True)
        .annotate(free=F("on_hand") - F("reserved"))
        .filter(
            Q(low_stock_threshold__isnull=False, free__lt=F("low_stock_threshold"))
            | Q(low_stock_threshold__isnull=True, free__lt=LOW_STOCK_DEFAULT)
        )
        .select_related("product", "warehouse")
        .order_by("free", "product__sku", "warehouse__code")
    )
    return [
        LowStock(
            level=level,
            available=level.available,
            threshold=level.low_stock_threshold
            if level.low_stock_threshold is not None
            else LOW_STOCK_DEFAULT,
        )
        for level in levels
    ]


@dataclass(frozen=True)
class DepartureLoad:
    departure: Departure
    parcels: int
    weight_kg: Decimal
    volume_m3: Decimal

    def _share(self, used: Decimal, capacity: Decimal) -> int:
        return min(100, int(used * 100 / capacity)) if capacity else 0

    @property
    def kg_percent(self) -> int:
        return self._share(self.weight_kg, self.departure.capacity_kg)

    @property
    def m3_percent(self) -> int:
        return self._share(self.volume_m3, self.departure.capacity_m3)

    @property
    def pieces_percent(self) -> int:
        return self._share(Decimal(self.parcels), Decimal(self.departure.capacity_pieces))


def departures_load(*, now: datetime, limit: int = 15) -> list[DepartureLoad]:
    """The next departures not yet gone, each with what is loaded on it."""
    departures = (
        Departure.objects.filter(
            status__in=[DepartureStatus.SCHEDULED, DepartureStatus.LOADING, DepartureStatus.CLOSED],
            scheduled_at__gte=now,
        )
        .select_related("lane")
        .annotate(
            n=Count("parcels"),
            grams=Coalesce(Sum("parcels__weight_g"), 0),
            mm3=Coalesce(
                Sum(
                    F("parcels__length_mm") * F("parcels__width_mm") * F("parcels__height_mm"),
                    output_field=DecimalField(max_digits=20, decimal_places=0),
                ),
                Value(Decimal(0)),
            ),
        )
        .order_by("scheduled_at", "id")[:limit]
    )
    return [
        DepartureLoad(
            departure=d,
            parcels=d.n,
            weight_kg=(Decimal(d.grams) / 1000).quantize(Decimal("0.001")),
            volume_m3=(Decimal(d.mm3) / Decimal(10**9)).quantize(Decimal("0.001")),
        )
        for d in departures
    ]

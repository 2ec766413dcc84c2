"""Orders placed before the split get their fulfilment orders: one per
merchant and warehouse of their lines, in the status their order is in, and
the parcels whose contents are one such part point to it."""

from collections import defaultdict
from decimal import Decimal

from django.db import migrations
from django.utils import timezone

STATUS_OF_ORDER = {
    "pending_payment": "pending",
    "on_hold": "pending",
    "paid": "pending",
    "cod_confirmed": "pending",
    "allocated": "ready",
    "packed": "packed",
    "in_transit": "shipped",
    "delivered": "delivered",
    "cancelled": "cancelled",
}


def _warehouse_of_lines(order, Reservation):
    """Each line's warehouse: where its units were reserved, or else where
    the quote planned them."""
    found = {}
    for line_id, warehouse_id in (
        Reservation.objects.filter(order_id=order.id)
        .order_by("id")
        .values_list("line_id", "stock__warehouse_id")
    ):
        found.setdefault(line_id, warehouse_id)
    planned = {}
    for group in order.plan or []:
        for parcel in group.get("parcels", []):
            for product_id in parcel.get("items", {}):
                planned.setdefault(int(product_id), group["warehouse_id"])
    return found, planned


def split(apps, schema_editor):
    Order = apps.get_model("orders", "Order")
    OrderLine = apps.get_model("orders", "OrderLine")
    Reservation = apps.get_model("warehouses", "Reservation")
    FulfilmentOrder = apps.get_model("shipping", "FulfilmentOrder")
    FulfilmentOrderLine = apps.get_model("shipping", "FulfilmentOrderLine")
    FulfilmentOrderEvent = apps.get_model("shipping", "FulfilmentOrderEvent")
    Parcel = apps.get_model("shipping", "Parcel")
    ParcelLine = apps.get_model("shipping", "ParcelLine")
    now = timezone.now()
    done = set(FulfilmentOrder.objects.values_list("order_id", flat=True).distinct())
    for order in Order.objects.exclude(id__in=done).order_by("id").iterator(chunk_size=500):
        found, planned = _warehouse_of_lines(order, Reservation)
        parts = defaultdict(list)
        for line in OrderLine.objects.filter(order_id=order.id).order_by("id"):
            warehouse_id = found.get(line.id) or planned.get(line.product_id)
            if warehouse_id is None:
                continue
            parts[(line.merchant_id, warehouse_id)].append(line)
        status = STATUS_OF_ORDER.get(order.status, "pending")
        part_of_line = {}
        for index, ((merchant_id, warehouse_id), lines) in enumerate(
            sorted(parts.items()), start=1
        ):
            fo = FulfilmentOrder.objects.create(
                order_id=order.id,
                merchant_id=merchant_id,
                warehouse_id=warehouse_id,
                number=f"{order.number}-{index}",
                status=status,
                goods_cny=sum((line.line_total_cny for line in lines), Decimal(0)),
                event_seq=1,
            )
            FulfilmentOrderLine.objects.bulk_create(
                [
                    FulfilmentOrderLine(fulfilment_order=fo, line_id=line.id, quantity=line.quantity)
                    for line in lines
                ]
            )
            FulfilmentOrderEvent.objects.create(
                fulfilment_order=fo,
                sequence=1,
                from_status="",
                to_status=status,
                reason="split of an order placed before fulfilment orders",
                created_at=now,
            )
            for line in lines:
                part_of_line[line.id] = (fo.id, warehouse_id)
        for parcel in Parcel.objects.filter(order_id=order.id, fulfilment_order__isnull=True):
            owners = {
                part_of_line.get(line_id)
                for line_id in ParcelLine.objects.filter(parcel_id=parcel.id).values_list(
                    "line_id", flat=True
                )
            }
            if len(owners) == 1:
                owner = owners.pop()
                if owner is not None and owner[1] == parcel.warehouse_id:
                    Parcel.objects.filter(id=parcel.id).update(fulfilment_order_id=owner[0])


class Migration(migrations.Migration):
    dependencies = [
        ("shipping", "0012_fulfilment_orders"),
        ("orders", "0001_initial"),
        ("warehouses", "0001_initial"),
    ]

    operations = [migrations.RunPython(split, migrations.RunPython.noop)]

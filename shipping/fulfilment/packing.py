"""Packing an allocated order into parcels: as the quote planned (one per
warehouse, split at the lane's weight limit) or as the packer measured, with
weights checked against the catalogue within a tolerance; each parcel gets
its S10 tracking number and a `label_created` event."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import Conflict, Forbidden, ValidationFailed
from core.locking import Rank, lock_new
from core.tenancy import user_is_operator_staff
from orders.models import Order, OrderStatus
from shipping.customs.duty import PackedContents, parcel_duties_from_plan
from shipping.fulfilment.models import FulfilmentOrder, Parcel, ParcelLine
from shipping.fulfilment.numbers import tracking_numbers_issue
from shipping.linehaul.models import Lane
from shipping.linehaul.pricing import Unit, parcels_split
from shipping.tracking.timeline import NewEvent, parcel_events_apply
from warehouses.models import Reservation


@dataclass(frozen=True)
class PackedParcel:
    warehouse_id: int
    lines: dict[int, int]  # order line id -> quantity
    weight_g: int
    length_mm: int
    width_mm: int
    height_mm: int


def _auto_packing(order: Order, reservations: Sequence[Reservation]) -> list[PackedParcel]:
    """Pack as the quote planned: per warehouse, split at the lane's limit."""
    lanes = _lanes_by_warehouse(order)
    by_warehouse: dict[int, list[Unit]] = defaultdict(list)
    for res in reservations:
        line = res.line
        by_warehouse[res.stock.warehouse_id].append(
            Unit(
                key=line.id,
                weight_g=line.product.weight_g,
                value_cny=line.unit_price_cny,
                quantity=res.quantity,
            )
        )
    packed: list[PackedParcel] = []
    products = {res.line_id: res.line.product for res in reservations}
    for warehouse_id, units in sorted(by_warehouse.items()):
        for planned in parcels_split(units, max_weight_g=lanes[warehouse_id].max_parcel_weight_g):
            dims = [products[key] for key in planned.items]
            packed.append(
                PackedParcel(
                    warehouse_id=warehouse_id,
                    lines=planned.items,
                    weight_g=planned.weight_g,
                    length_mm=max(p.length_mm for p in dims),
                    width_mm=max(p.width_mm for p in dims),
                    height_mm=sum(products[k].height_mm * q for k, q in planned.items.items()),
                )
            )
    return packed


def _lanes_by_warehouse(order: Order) -> dict[int, Lane]:
    codes = {entry["warehouse_id"]: entry["lane"] for entry in order.plan}
    lanes = {lane.code: lane for lane in Lane.objects.filter(code__in=set(codes.values()))}
    return {warehouse_id: lanes[code] for warehouse_id, code in codes.items()}


@dataclass(frozen=True)
class PackingPlan:
    """Parcels checked against an order's reservations, ready to be made."""

    parcels: list[PackedParcel]
    expected_weights: list[int]
    # Indexes of the parcels whose measured weight staff accepted.
    overridden: frozenset[int]
    override_reason: str


def packing_prepare(
    *,
    order: Order,
    reservations: Sequence[Reservation],
    parcels: Sequence[PackedParcel] | None = None,
    actor_id: int | None = None,
    override_reason: str = "",
    positions: Sequence[int] | None = None,
) -> PackingPlan:
    """Check a packing of an allocated order's reserved units, writing
    nothing: as the quote planned (auto-packing, weighed by the catalogue),
    or as the packer measured. Measured parcels must each be within
    PACK_WEIGHT_TOLERANCE of their contents' catalogue weight, or the packing
    is refused (409 weight_out_of_tolerance) unless operator staff
    (`actor_id`) give an `override_reason`, which those parcels keep.
    `positions`: where each parcel stood in the packer's list (errors name
    it so), when these are one fulfilment order's of a longer list."""
    override_reason = override_reason.strip()
    if override_reason and not parcels:
        raise ValidationFailed(
            fields={"override_reason": [_("Only for parcels packed with measured weights.")]}
        )
    if order.status != OrderStatus.ALLOCATED:
        raise Conflict(_("Only an allocated order can be packed."), code="order_not_packable")
    packing = list(parcels) if parcels else _auto_packing(order, reservations)
    _check_packing(reservations, packing)
    expected = _expected_weights(reservations, packing)
    overridden = (
        _check_weights(
            packing,
            expected,
            override_reason=override_reason,
            actor_id=actor_id,
            positions=positions or range(len(packing)),
        )
        if parcels
        else set()
    )
    return PackingPlan(
        parcels=packing,
        expected_weights=expected,
        overridden=frozenset(overridden),
        override_reason=override_reason,
    )


def parcels_create(
    *,
    order: Order,
    fulfilment_order: FulfilmentOrder,
    plan: PackingPlan,
    reservations: Sequence[Reservation],
    actor_id: int | None,
) -> list[Parcel]:
    """Make the planned parcels of one part of an order the caller has
    locked: each with its contents and its S10 tracking number (labelled by
    `parcels_label`)."""
    lanes = _lanes_by_warehouse(order)
    windows = {entry["warehouse_id"]: entry for entry in order.plan}
    prices = {res.line_id: res.line.unit_price_cny for res in reservations}
    duties = _duties(order, reservations, plan.parcels, prices)
    numbers = tracking_numbers_issue(count=len(plan.parcels))
    created = Parcel.objects.bulk_create(
        [
            Parcel(
                order=order,
                fulfilment_order=fulfilment_order,
                warehouse_id=spec.warehouse_id,
                lane=lanes[spec.warehouse_id],
                tracking_number=number,
                status="",  # announced by its first event, label_created
                weight_g=spec.weight_g,
                expected_weight_g=plan.expected_weights[index],
                weight_override_reason=(
                    plan.override_reason[:300] if index in plan.overridden else ""
                ),
                weight_override_by_id=actor_id if index in plan.overridden else None,
                length_mm=spec.length_mm,
                width_mm=spec.width_mm,
                height_mm=spec.height_mm,
                value_cny=sum((prices[k] * q for k, q in spec.lines.items()), Decimal(0)),
                duty_eur=duty[0] if duty else None,
                duty_rub=duty[1] if duty else None,
                promised_min_days=windows[spec.warehouse_id]["min_days"],
                promised_max_days=windows[spec.warehouse_id]["max_days"],
            )
            for index, (spec, number, duty) in enumerate(
                zip(plan.parcels, numbers, duties, strict=True)
            )
        ]
    )
    # bulk_create returns ids on PostgreSQL and SQLite; read back to be sure.
    by_number = {p.tracking_number: p for p in Parcel.objects.filter(tracking_number__in=numbers)}
    created = [by_number[p.tracking_number] for p in created]
    lock_new(Rank.PARCEL, [p.id for p in created])
    ParcelLine.objects.bulk_create(
        [
            ParcelLine(parcel=parcel, line_id=line_id, quantity=quantity)
            for parcel, spec in zip(created, plan.parcels, strict=True)
            for line_id, quantity in spec.lines.items()
        ]
    )
    return created


def parcels_label(*, parcels: Sequence[Parcel]) -> None:
    """Each new parcel's first event, `label_created`, which announces it."""
    now = timezone.now()
    parcel_events_apply(
        events=[
            NewEvent(parcel_id=p.id, event="label_created", occurred_at=now, source="system")
            for p in parcels
        ]
    )


def _duties(
    order: Order,
    reservations: Sequence[Reservation],
    packing: Sequence[PackedParcel],
    prices: dict[int, Decimal],
) -> list[tuple[Decimal, Decimal] | None]:
    """Each parcel's prepaid duty, from what the order's plan charged."""
    product_of = {res.line_id: res.line.product_id for res in reservations}
    contents = []
    for spec in packing:
        items: dict[int, int] = defaultdict(int)
        for line_id, quantity in spec.lines.items():
            items[product_of[line_id]] += quantity
        contents.append(
            PackedContents(
                warehouse_id=spec.warehouse_id,
                items=dict(items),
                value_cny=sum((prices[k] * q for k, q in spec.lines.items()), Decimal(0)),
            )
        )
    return parcel_duties_from_plan(plan=order.plan, parcels=contents)


def _check_packing(reservations: Sequence[Reservation], packing: Sequence[PackedParcel]) -> None:
    if not reservations:
        raise Conflict(_("The order has no reserved stock to pack."), code="nothing_to_pack")
    expected: dict[tuple[int, int], int] = defaultdict(int)
    for res in reservations:
        expected[(res.stock.warehouse_id, res.line_id)] += res.quantity
    got: dict[tuple[int, int], int] = defaultdict(int)
    for spec in packing:
        if spec.weight_g <= 0 or not spec.lines:
            raise ValidationFailed(fields={"parcels": [_("Each parcel needs lines and a weight.")]})
        for line_id, quantity in spec.lines.items():
            got[(spec.warehouse_id, line_id)] += quantity
    if got != expected:
        raise ValidationFailed(
            _("The parcels must hold exactly the reserved units, each from its warehouse."),
            code="packing_mismatch",
            fields={"parcels": [_("Packed quantities differ from the reserved ones.")]},
        )


def _expected_weights(
    reservations: Sequence[Reservation], packing: Sequence[PackedParcel]
) -> list[int]:
    """Per parcel, the catalogue weight of its contents."""
    unit_g = {res.line_id: res.line.product.weight_g for res in reservations}
    return [sum(unit_g[k] * q for k, q in spec.lines.items()) for spec in packing]


def _check_weights(
    packing: Sequence[PackedParcel],
    expected: Sequence[int],
    *,
    override_reason: str,
    actor_id: int | None,
    positions: Sequence[int],
) -> set[int]:
    """The indexes of the parcels whose measured weight is off by more than
    the tolerance; refused unless operator staff override."""
    tolerance = Decimal(str(settings.AMUR["PACK_WEIGHT_TOLERANCE"]))
    off = [
        {"index": index, "expected_weight_g": want, "weight_g": spec.weight_g}
        for index, (spec, want) in enumerate(zip(packing, expected, strict=True))
        if abs(spec.weight_g - want) > tolerance * want
    ]
    named = [{**row, "index": positions[row["index"]]} for row in off]
    if not off:
        return set()
    if not override_reason:
        raise Conflict(
            _("A parcel's measured weight is outside the tolerance."),
            code="weight_out_of_tolerance",
            fields={
                f"parcels[{row['index']}].weight_g": [
                    gettext("Measured %(weight)d g, expected %(expected)d g.")
                    % {"weight": row["weight_g"], "expected": row["expected_weight_g"]}
                ]
                for row in named
            },
            extra={"parcels": named, "tolerance": str(tolerance)},
        )
    if not user_is_operator_staff(user_id=actor_id):
        raise Forbidden(_("Only operator staff may accept a weight outside the tolerance."))
    return {row["index"] for row in off}

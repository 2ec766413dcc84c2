"""Departure manifests: the carrier's cargo manifest and the customs registry.

`departure_manifest` is the selector: it reads a closed (or departed, or
arrived) departure and its parcels and returns the data as dataclasses. The
renderers below turn that data into CSV or an A4 landscape PDF; the ops API
(`shipping.manifests_api`) also serves it as JSON.

- Cargo manifest: the departure (number, lane, carrier, scheduled time), its
  totals (pieces, gross kg, m3) and one row per destination, the destination
  being the region of the orders' delivery address.
- Customs registry: one entry per parcel, by tracking number: the recipient
  with the identity document and INN, the contents as declared on its CN 23
  (`shipping.customs`) with the link to each good, the total value in CNY,
  the gross weight and the customs payments the buyer prepaid.

Weights are exact in kg to 3 decimals (grams). Volumes are summed in mm3 and
rounded half up to 0.001 m3 at the end, for each destination and for the
total alike, so the destination rows may add up to a total 0.001 m3 off."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Paragraph, Spacer, TableStyle

from core.errors import Conflict, NotFound
from core.identity import RecipientIdentity
from core.regions import REGIONS
from shipping.customs.declarations import DeclarationItem, declarations_for_parcels, kg
from shipping.fulfilment.documents import _build, _markup, _styles, _table
from shipping.fulfilment.models import Parcel
from shipping.linehaul.models import Departure, DepartureStatus

MANIFEST_STATUSES = frozenset(
    {DepartureStatus.CLOSED, DepartureStatus.DEPARTED, DepartureStatus.ARRIVED}
)
M3 = Decimal("0.001")
MM3_PER_M3 = Decimal(1_000_000_000)


class DepartureNotClosed(Conflict):
    code = "departure_not_closed"
    default_message = _("A manifest is issued only once the departure is closed.")


@dataclass(frozen=True)
class DepartureInfo:
    id: int
    number: str
    status: str
    lane: str
    lane_name: str
    carrier: str
    mode: str
    origin_hub: str
    destination_hub: str
    scheduled_at: datetime


@dataclass(frozen=True)
class Destination:
    region: str  # ISO 3166-2:RU code
    region_name: str
    pieces: int
    gross_weight_kg: Decimal
    volume_m3: Decimal


@dataclass(frozen=True)
class CargoManifest:
    pieces: int
    gross_weight_kg: Decimal
    volume_m3: Decimal
    destinations: tuple[Destination, ...]  # by region code


@dataclass(frozen=True)
class RegistryEntry:
    tracking_number: str
    order_number: str
    sender: str
    recipient_name: str
    recipient_phone: str
    recipient_address: str
    region: str
    items: tuple[DeclarationItem, ...]
    total_value_cny: Decimal
    net_weight_kg: Decimal
    gross_weight_kg: Decimal
    identity: RecipientIdentity | None = None
    duty_eur: Decimal | None = None
    # Collected at a pickup point: its code and carrier, and the carrier's number.
    pickup_point: str = ""
    carrier: str = ""
    carrier_number: str = ""


@dataclass(frozen=True)
class CustomsRegistry:
    parcels: tuple[RegistryEntry, ...]  # by tracking number
    total_value_cny: Decimal
    gross_weight_kg: Decimal


@dataclass(frozen=True)
class Manifest:
    departure: DepartureInfo
    cargo: CargoManifest
    registry: CustomsRegistry


def m3(volume_mm3: int) -> Decimal:
    return (Decimal(volume_mm3) / MM3_PER_M3).quantize(M3, ROUND_HALF_UP)


def departure_manifest(*, departure_id: int) -> Manifest:
    """The manifest of a departure. A missing departure raises NotFound; one
    still scheduled or loading (or cancelled) DepartureNotClosed (409). A
    product without a valid HS code raises `shipping.customs.HsCodeInvalid`."""
    departure = Departure.objects.select_related("lane").filter(id=departure_id).first()
    if departure is None:
        raise NotFound()
    if departure.status not in MANIFEST_STATUSES:
        raise DepartureNotClosed(extra={"status": departure.status})
    parcels = list(
        Parcel.objects.filter(departure=departure)
        .select_related("order", "warehouse", "pickup_point")
        .order_by("tracking_number")
    )
    declarations = declarations_for_parcels(parcels=parcels)
    lane = departure.lane

    by_region: dict[str, list[Parcel]] = {}
    for parcel in parcels:
        by_region.setdefault(parcel.order.region, []).append(parcel)
    destinations = tuple(
        Destination(
            region=region,
            region_name=REGIONS.get(region, region),
            pieces=len(group),
            gross_weight_kg=kg(sum(p.weight_g for p in group)),
            volume_m3=m3(sum(_mm3(p) for p in group)),
        )
        for region, group in sorted(by_region.items())
    )
    entries = []
    for parcel in parcels:
        declaration = declarations[parcel.id]
        addressee = declaration.addressee
        entries.append(
            RegistryEntry(
                tracking_number=parcel.tracking_number,
                order_number=declaration.order_number,
                sender=declaration.sender.name,
                recipient_name=addressee.name,
                recipient_phone=addressee.phone,
                recipient_address=addressee.address,
                region=addressee.region,
                items=declaration.items,
                total_value_cny=declaration.total_value,
                net_weight_kg=declaration.total_net_weight_kg,
                gross_weight_kg=declaration.gross_weight_kg,
                identity=addressee.identity,
                duty_eur=declaration.duty_eur,
                pickup_point=parcel.pickup_point.code if parcel.pickup_point else "",
                carrier=parcel.carrier,
                carrier_number=parcel.carrier_number,
            )
        )
    gross = kg(sum(p.weight_g for p in parcels))
    return Manifest(
        departure=DepartureInfo(
            id=departure.id,
            number=departure.number,
            status=departure.status,
            lane=lane.code,
            lane_name=lane.name,
            carrier=lane.carrier,
            mode=lane.mode,
            origin_hub=lane.origin_hub,
            destination_hub=lane.destination_hub,
            scheduled_at=departure.scheduled_at,
        ),
        cargo=CargoManifest(
            pieces=len(parcels),
            gross_weight_kg=gross,
            volume_m3=m3(sum(_mm3(p) for p in parcels)),
            destinations=destinations,
        ),
        registry=CustomsRegistry(
            parcels=tuple(entries),
            total_value_cny=sum((e.total_value_cny for e in entries), Decimal("0.00")),
            gross_weight_kg=gross,
        ),
    )


def _mm3(parcel: Parcel) -> int:
    return parcel.length_mm * parcel.width_mm * parcel.height_mm


# --- CSV -------------------------------------------------------------------------

REGISTRY_COLUMNS = (
    "tracking_number",
    "order_number",
    "sender",
    "recipient_name",
    "recipient_phone",
    "recipient_address",
    "region",
    "recipient_passport",
    "recipient_passport_issued_on",
    "recipient_birth_date",
    "recipient_inn",
    "item",
    "sku",
    "description_ru",
    "description_zh",
    "hs_code",
    "quantity",
    "net_weight_kg",
    "value",
    "currency",
    "origin_country",
    "product_url",
    "parcel_value_cny",
    "parcel_gross_weight_kg",
    "parcel_duty_eur",
    "pickup_point",
    "carrier",
    "carrier_number",
)
CARGO_COLUMNS = (
    "departure",
    "lane",
    "scheduled_at",
    "region",
    "region_name",
    "pieces",
    "gross_weight_kg",
    "volume_m3",
)
CARGO_TOTAL = "TOTAL"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def _cell(value: str) -> str:
    """Text that a spreadsheet would run as a formula gets a leading
    apostrophe; numbers such as +79221234567 are left alone."""
    if value.startswith(_FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return f"'{value}"
    return value


def _scheduled(at: datetime) -> str:
    return timezone.localtime(at).isoformat()


def manifest_registry_csv(*, manifest: Manifest) -> str:
    """The customs registry: one row per item, the parcel's columns repeated
    on each of its items."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REGISTRY_COLUMNS)
    for entry in manifest.registry.parcels:
        identity = entry.identity
        document = (
            [
                f"{identity.passport_series} {identity.passport_number}",
                identity.passport_issued_on.isoformat(),
                identity.birth_date.isoformat(),
                identity.inn,
            ]
            if identity
            else ["", "", "", ""]
        )
        for number, item in enumerate(entry.items, start=1):
            writer.writerow(
                [
                    _cell(entry.tracking_number),
                    _cell(entry.order_number),
                    _cell(entry.sender),
                    _cell(entry.recipient_name),
                    _cell(entry.recipient_phone),
                    _cell(entry.recipient_address),
                    _cell(entry.region),
                    *document,
                    number,
                    _cell(item.sku),
                    _cell(item.description_ru),
                    _cell(item.description_zh),
                    _cell(item.hs_code),
                    item.quantity,
                    item.net_weight_kg,
                    item.value,
                    item.currency,
                    _cell(item.origin_country),
                    _cell(item.product_url),
                    entry.total_value_cny,
                    entry.gross_weight_kg,
                    "" if entry.duty_eur is None else entry.duty_eur,
                    _cell(entry.pickup_point),
                    _cell(entry.carrier),
                    _cell(entry.carrier_number),
                ]
            )
    return out.getvalue()


def manifest_cargo_csv(*, manifest: Manifest) -> str:
    """The cargo manifest: one row per destination, then the total row
    (region "TOTAL")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CARGO_COLUMNS)
    head = [
        _cell(manifest.departure.number),
        _cell(manifest.departure.lane),
        _scheduled(manifest.departure.scheduled_at),
    ]
    cargo = manifest.cargo
    for row in cargo.destinations:
        writer.writerow(
            [
                *head,
                _cell(row.region),
                _cell(row.region_name),
                row.pieces,
                row.gross_weight_kg,
                row.volume_m3,
            ]
        )
    writer.writerow([*head, CARGO_TOTAL, "", cargo.pieces, cargo.gross_weight_kg, cargo.volume_m3])
    return out.getvalue()


# --- PDF -------------------------------------------------------------------------

PAGE = landscape(A4)


def manifest_pdf(*, manifest: Manifest) -> bytes:
    """A4 landscape: the cargo manifest on the first page, the customs
    registry from the next, one row per item."""
    s = _styles()
    departure = manifest.departure
    cargo = manifest.cargo
    scheduled = timezone.localtime(departure.scheduled_at)
    story: list[Flowable] = [
        Paragraph(
            _markup(f"Грузовой манифест / Cargo manifest / 货运舱单 · {departure.number}"),
            s["title"],
        ),
        Paragraph(
            _markup(
                f"Линия / Lane: {departure.lane} · {departure.lane_name} · "
                f"{departure.origin_hub} → {departure.destination_hub}"
            ),
            s["body"],
        ),
        Paragraph(
            _markup(f"Перевозчик / Carrier: {departure.carrier} · {departure.mode}"),
            s["body"],
        ),
        Paragraph(
            _markup(
                f"Отправление / Scheduled: {scheduled:%d.%m.%Y %H:%M} {scheduled:%Z} · "
                f"статус / status: {departure.status}"
            ),
            s["body"],
        ),
        Paragraph(
            _markup(
                f"Итого / Total: {cargo.pieces} мест / pieces · "
                f"{cargo.gross_weight_kg} кг брутто / kg gross · {cargo.volume_m3} м³ / m3"
            ),
            s["heading"],
        ),
        Spacer(1, 2 * mm),
    ]
    right = [2, 3, 4]
    rows: list[list[object]] = [
        _head(
            s,
            (
                "Регион / Region",
                "Назначение / Destination",
                "Мест / Pieces",
                "Брутто, кг / Gross kg",
                "Объём, м³ / m3",
            ),
            right=right,
        )
    ]
    for row in cargo.destinations:
        rows.append(
            [
                row.region,
                Paragraph(_markup(row.region_name), s["cell"]),
                str(row.pieces),
                str(row.gross_weight_kg),
                str(row.volume_m3),
            ]
        )
    rows.append(
        [
            Paragraph(_markup("Итого / Total", bold=True), s["cell"]),
            "",
            str(cargo.pieces),
            str(cargo.gross_weight_kg),
            str(cargo.volume_m3),
        ]
    )
    story.append(_table(rows, [35 * mm, 100 * mm, 35 * mm, 45 * mm, 45 * mm], right=right))

    story += [PageBreak(), *_registry(manifest, s)]
    return _build(story, title=f"Manifest {departure.number}", pagesize=PAGE)


def _head(
    s: dict[str, ParagraphStyle], titles: Sequence[str], *, right: Sequence[int]
) -> list[object]:
    """Header cells, right-aligned over the right-aligned columns."""
    head_right = ParagraphStyle("head_right", parent=s["head"], alignment=TA_RIGHT)
    return [
        Paragraph(_markup(title), head_right if index in right else s["head"])
        for index, title in enumerate(titles)
    ]


def _registry(manifest: Manifest, s: dict[str, ParagraphStyle]) -> list[Flowable]:
    registry = manifest.registry
    story: list[Flowable] = [
        Paragraph(
            _markup(
                f"Таможенный реестр / Customs registry / 海关申报清单 · {manifest.departure.number}"
            ),
            s["title"],
        ),
        Paragraph(
            _markup(
                f"Посылок / Parcels: {len(registry.parcels)} · "
                f"стоимость / value: {registry.total_value_cny} CNY · "
                f"брутто / gross: {registry.gross_weight_kg} кг · "
                "категория / category: продажа товаров / sale of goods (CN 23)"
            ),
            s["body"],
        ),
        Spacer(1, 3 * mm),
    ]
    right = [5, 6, 7, 9, 10]
    head = _head(
        s,
        (
            "№",
            "Трек-номер / Tracking",
            "Получатель / Recipient",
            "Описание / 品名",
            "HS",
            "Кол.",
            "Нетто, кг",
            "CNY",
            "Стр.",
            "Итого CNY",
            "Брутто, кг",
        ),
        right=right,
    )
    rows: list[list[object]] = [head]
    firsts: list[int] = []
    for number, entry in enumerate(registry.parcels, start=1):
        firsts.append(len(rows))
        recipient = [
            Paragraph(_markup(entry.recipient_name, bold=True), s["cell"]),
            Paragraph(_markup(entry.recipient_phone), s["cell"]),
            Paragraph(_markup(entry.recipient_address), s["cell"]),
        ]
        if entry.identity is not None:
            doc = entry.identity
            recipient.append(
                Paragraph(
                    _markup(
                        f"{doc.passport_series} {doc.passport_number}"
                        f" ({doc.passport_issued_on:%d.%m.%Y}), {doc.birth_date:%d.%m.%Y},"
                        f" ИНН {doc.inn}"
                    ),
                    s["cell"],
                )
            )
        for index, item in enumerate(entry.items):
            first = index == 0
            rows.append(
                [
                    str(number) if first else "",
                    Paragraph(_markup(entry.tracking_number, bold=True), s["cell"])
                    if first
                    else "",
                    recipient if first else "",
                    [
                        Paragraph(_markup(item.description_ru), s["cell"]),
                        Paragraph(_markup(item.description_zh), s["cell_zh"]),
                    ],
                    Paragraph(_markup(item.hs_code), s["cell"]),
                    str(item.quantity),
                    str(item.net_weight_kg),
                    str(item.value),
                    item.origin_country,
                    str(entry.total_value_cny) if first else "",
                    str(entry.gross_weight_kg) if first else "",
                ]
            )
    rows.append(
        [
            "",
            Paragraph(_markup("Итого / Total", bold=True), s["cell"]),
            "",
            "",
            "",
            str(sum(item.quantity for e in registry.parcels for item in e.items)),
            "",
            "",
            "",
            str(registry.total_value_cny),
            str(registry.gross_weight_kg),
        ]
    )
    widths = [8, 35, 52, 52, 21, 13, 16, 19, 12, 20, 19]  # mm: the 267 mm between margins
    table = _table(rows, [w * mm for w in widths], right=right)
    table.setStyle(
        TableStyle([("LINEABOVE", (0, row), (-1, row), 0.8, colors.black) for row in firsts[1:]])
    )
    story.append(table)
    return story

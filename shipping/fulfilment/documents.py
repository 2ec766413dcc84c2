"""Printable pick-and-pack documents: parcel labels, packing slips, pick lists.

Pure functions: each reads the database and returns the bytes of a PDF. Fonts,
mixed-script text and the A4 frame come from core.pdf."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import groupby

from django.utils import timezone
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    Spacer,
)

from core.errors import NotFound
from core.identity import mask_phone as phone_mask
from core.pdf import SANS, fonts_register
from core.pdf import pdf_build as _build
from core.pdf import pdf_markup as _markup
from core.pdf import pdf_styles as _styles
from core.pdf import pdf_table as _table
from core.pdf import text_runs as _runs
from core.regions import REGIONS
from orders.models import Order, OrderLine, OrderStatus
from shipping.fulfilment.models import Parcel, ParcelLine
from warehouses.models import Reservation, Warehouse

LABEL_SIZE = (100 * mm, 150 * mm)
ELLIPSIS = "…"
COUNTRIES = {"CN": "China / 中国", "RU": "Россия / Russia"}


# --- Mixed-script text -------------------------------------------------------


def _width(text: str, size: float, *, bold: bool = False) -> float:
    return sum(pdfmetrics.stringWidth(run, font, size) for font, run in _runs(text, bold=bold))


def _fit(text: str, size: float, width: float, *, bold: bool = False) -> str:
    """The text, cut with an ellipsis where it would run wider than width."""
    text = " ".join(text.split())
    if _width(text, size, bold=bold) <= width:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if _width(text[:middle].rstrip() + ELLIPSIS, size, bold=bold) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS


def _wrap(text: str, size: float, width: float, *, bold: bool = False, lines: int) -> list[str]:
    """Text broken at spaces into at most `lines` lines of width; the last is
    cut with an ellipsis if text remains."""
    words = text.split()
    out: list[str] = []
    while words and len(out) < lines - 1:
        taken = 1
        while taken < len(words) and (
            _width(" ".join(words[: taken + 1]), size, bold=bold) <= width
        ):
            taken += 1
        if _width(words[0], size, bold=bold) > width:
            break  # one long word: the last line cuts it
        out.append(" ".join(words[:taken]))
        words = words[taken:]
    if words:
        out.append(_fit(" ".join(words), size, width, bold=bold))
    return out


def _country(code: str) -> str:
    return COUNTRIES.get(code, code)


def _kg(weight_g: int) -> str:
    return f"{Decimal(weight_g) / 1000:.3f} kg"


def _cny(amount: Decimal) -> str:
    return f"{amount:.2f}"


# --- Parcel label ------------------------------------------------------------


class _Label:
    """Draws top-down on a 100 x 150 mm page."""

    margin = 4 * mm

    def __init__(self, canvas: Canvas) -> None:
        self.canvas = canvas
        self.left = self.margin
        self.right = LABEL_SIZE[0] - self.margin
        self.width = self.right - self.left
        self.y = LABEL_SIZE[1] - self.margin

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        *,
        bold: bool = False,
        width: float | None = None,
        align: str = "left",
    ) -> None:
        if width is None:
            width = self.right - x if align == "left" else self.width
        text = _fit(text, size, width, bold=bold)
        if align == "right":
            x -= _width(text, size, bold=bold)
        elif align == "center":
            x -= _width(text, size, bold=bold) / 2
        # One text object, so that the runs read back as one string.
        out = self.canvas.beginText(x, y)
        for font, run in _runs(text, bold=bold):
            out.setFont(font, size)
            out.textOut(run)
        self.canvas.drawText(out)

    def line(
        self, size: float, text: str, *, bold: bool = False, gap: float = 1.3, lines: int = 1
    ) -> None:
        """The next line of text across the label (wrapped to `lines` lines)."""
        for part in _wrap(text, size, self.width, bold=bold, lines=lines) or [""]:
            self.y -= size
            self.text(self.left, self.y, part, size, bold=bold)
            self.y -= size * (gap - 1)

    def rule(self, *, space: float = 1.5 * mm, weight: float = 1.0) -> None:
        self.y -= space
        self.canvas.setLineWidth(weight)
        self.canvas.line(self.left, self.y, self.right, self.y)
        self.y -= space


def parcel_label_pdf(*, parcel_id: int) -> bytes:
    """A 100 x 150 mm shipping label: barcode of the S10 number, sender,
    recipient, weight, lane and a customs contents summary (CN22 style)."""
    return parcel_labels_pdf(parcel_ids=[parcel_id])


def parcel_labels_pdf(*, parcel_ids: Sequence[int]) -> bytes:
    """One label page per parcel, in the order given, for a printer run."""
    parcels = {
        p.id: p
        for p in Parcel.objects.select_related(
            "order", "lane", "warehouse", "fulfilment_order"
        ).filter(id__in=parcel_ids)
    }
    if not parcel_ids or len(parcels) != len(set(parcel_ids)):
        raise NotFound()
    lines_of: dict[int, list[ParcelLine]] = {pid: [] for pid in parcels}
    for parcel_line in (
        ParcelLine.objects.filter(parcel_id__in=parcels)
        .select_related("line__product", "line__merchant")
        .order_by("id")
    ):
        lines_of[parcel_line.parcel_id].append(parcel_line)
    # "Parcel 2 of 3" counts the parcels of the label's fulfilment order: a
    # merchant's packer knows nothing of another merchant's parcels.
    siblings: dict[tuple[int, int | None], list[int]] = {}
    for parcel_id, order_id, part_id in (
        Parcel.objects.filter(order_id__in={p.order_id for p in parcels.values()})
        .order_by("id")
        .values_list("id", "order_id", "fulfilment_order_id")
    ):
        siblings.setdefault((order_id, part_id), []).append(parcel_id)

    fonts_register()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LABEL_SIZE, initialFontName=SANS, pageCompression=1)
    first = parcels[parcel_ids[0]]
    canvas.setTitle(
        f"{first.tracking_number} {first.order.number}"
        if len(parcel_ids) == 1
        else f"{len(parcel_ids)} labels"
    )
    canvas.setAuthor("Amur")
    for parcel_id in parcel_ids:
        parcel = parcels[parcel_id]
        _draw_label(
            canvas,
            parcel,
            lines_of[parcel_id],
            siblings[(parcel.order_id, parcel.fulfilment_order_id)],
        )
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_label(
    canvas: Canvas, parcel: Parcel, lines: Sequence[ParcelLine], siblings: Sequence[int]
) -> None:
    order = parcel.order
    label = _Label(canvas)

    # Lane and weight, large enough to sort by.
    label.y -= 14
    label.text(label.left, label.y, parcel.lane.code, 14, bold=True, width=label.width * 0.62)
    label.text(label.right, label.y, _kg(parcel.weight_g), 14, bold=True, align="right")
    label.y -= 9
    number = parcel.fulfilment_order.number if parcel.fulfilment_order else order.number
    label.text(label.left, label.y, f"Заказ / Order {number}", 7.5, width=label.width * 0.6)
    label.text(
        label.right,
        label.y,
        f"Место {siblings.index(parcel.id) + 1} из {len(siblings)}",
        7.5,
        align="right",
    )
    label.rule(weight=1.5)

    # Code 128 of the S10 number: 0.4 mm modules, 18 mm bars, quiet zones kept.
    barcode = Code128(
        parcel.tracking_number,
        barWidth=0.4 * mm,
        barHeight=18 * mm,
        quiet=True,
        lquiet=5 * mm,
        rquiet=5 * mm,
        humanReadable=False,
    )
    label.y -= barcode.height
    barcode.drawOn(canvas, (LABEL_SIZE[0] - barcode.width) / 2, label.y)
    label.y -= 15
    label.text(LABEL_SIZE[0] / 2, label.y, parcel.tracking_number, 15, bold=True, align="center")
    label.rule(weight=1.5)

    # Sender: the merchants and the origin warehouse.
    merchants = {pl.line.merchant_id: pl.line.merchant for pl in lines}
    names = [f"{m.name} {m.name_zh}" if m.name_zh else m.name for m in merchants.values()]
    warehouse = parcel.warehouse
    label.line(6, "ОТПРАВИТЕЛЬ / FROM / 发件人", bold=True)
    label.line(8.5, "; ".join(names) or "Amur", bold=True, lines=2)
    label.line(8, f"{warehouse.code} {warehouse.name}, {warehouse.address}".rstrip(", "))
    label.line(8, f"{warehouse.city}, {_country(warehouse.country)}")
    label.rule()

    # Recipient, in Russian as the Russian post reads it.
    label.line(6, "ПОЛУЧАТЕЛЬ / TO / 收件人", bold=True)
    label.line(12, order.recipient_name, bold=True, gap=1.25, lines=2)
    label.line(9, order.recipient_phone)
    label.line(9, order.street, lines=2)
    label.line(9, f"{order.postcode} {order.city}")
    label.line(9, REGIONS.get(order.region, order.region))
    label.line(10, _country("RU").upper(), bold=True)
    label.rule(weight=1.5)

    _customs(label, parcel, lines)


def _customs(label: _Label, parcel: Parcel, lines: Sequence[ParcelLine]) -> None:
    """Contents: one row per parcel line (Russian and Chinese name, HS code,
    quantity, value, origin); rows that do not fit are summed in one row."""
    columns = [  # (title, width, align)
        ("Описание / 品名", label.width - 56 * mm, "left"),
        ("HS", 17 * mm, "left"),
        ("Кол.", 9 * mm, "right"),
        ("CNY", 18 * mm, "right"),
        ("Стр.", 12 * mm, "right"),
    ]
    edges: list[tuple[float, float, str]] = []
    x = label.left
    for _title, width, align in columns:
        edges.append((x, width, align))
        x += width

    def cells(values: Sequence[str], size: float, y: float, *, bold: bool = False) -> None:
        for (left, width, align), value in zip(edges, values, strict=True):
            if align == "right":
                label.text(left + width, y, value, size, bold=bold, width=width - 1, align=align)
            else:
                label.text(left, y, value, size, bold=bold, width=width - 1.5)

    label.line(6, "ВЛОЖЕНИЕ / CONTENTS / 内件 (CN22)", bold=True)
    label.y -= 6
    cells([title for title, _w, _a in columns], 6, label.y, bold=True)
    label.y -= 2.5

    row_height, rest_height, total_height = 16.5, 9.0, 11.0
    room = label.y - label.margin - total_height
    if len(lines) * row_height <= room:
        shown = list(lines)
    else:
        shown = list(lines[: max(int((room - rest_height) // row_height), 0)])
    for pl in shown:
        line = pl.line
        label.y -= 7.5
        cells(
            [
                line.name or line.product.name_ru,
                line.product.hs_code,
                str(pl.quantity),
                _cny(line.unit_price_cny * pl.quantity),
                line.product.origin_country,
            ],
            7,
            label.y,
        )
        label.y -= 7.5
        label.text(edges[0][0], label.y, line.product.name_zh, 7, width=edges[0][1] - 1.5)
        label.y -= 1.5
    rest = lines[len(shown) :]
    if rest:
        label.y -= 7.5
        origins = sorted({pl.line.product.origin_country for pl in rest})
        cells(
            [
                f"… ещё {len(rest)} поз. / +{len(rest)} more",
                "",
                str(sum(pl.quantity for pl in rest)),
                _cny(sum((pl.line.unit_price_cny * pl.quantity for pl in rest), Decimal(0))),
                ",".join(origins),
            ],
            7,
            label.y,
        )
        label.y -= 1.5
    label.canvas.setLineWidth(0.5)
    label.canvas.line(label.left, label.y - 1, label.right, label.y - 1)
    label.y -= 8.5
    cells(
        [
            f"Итого / Total, {_kg(parcel.weight_g)}",
            "",
            str(sum(pl.quantity for pl in lines)),
            _cny(parcel.value_cny),
            "",
        ],
        7,
        label.y,
        bold=True,
    )


# --- A4 documents ------------------------------------------------------------


def packing_slip_pdf(*, order_id: int, mask_phone: bool = False) -> bytes:
    """The buyer's A4 packing slip, in Russian: the order, its lines and its
    parcels with their tracking numbers. `mask_phone` for staff who may not
    see the recipient's phone (core.tenancy.sees_personal_data)."""
    order = Order.objects.filter(id=order_id).first()
    if order is None:
        raise NotFound()
    order_lines = list(OrderLine.objects.filter(order=order).order_by("id"))
    parcels = list(Parcel.objects.filter(order=order).order_by("id"))
    contents: dict[int, list[ParcelLine]] = {}
    for pl in ParcelLine.objects.filter(parcel__in=parcels).select_related("line").order_by("id"):
        contents.setdefault(pl.parcel_id, []).append(pl)
    s = _styles()
    created = timezone.localtime(order.created_at)

    story: list[Flowable] = [
        Paragraph(_markup(f"Упаковочный лист · заказ № {order.number}"), s["title"]),
        Paragraph(_markup(f"Дата заказа: {created:%d.%m.%Y}"), s["body"]),
        Spacer(1, 4 * mm),
        *slip_recipient(order, mask_phone=mask_phone),
        Paragraph("Товары", s["heading"]),
    ]
    rows: list[list[object]] = [
        [Paragraph(h, s["head"]) for h in ("№", "Артикул", "Наименование", "Кол-во")]
    ]
    for number, line in enumerate(order_lines, start=1):
        rows.append(
            [
                str(number),
                Paragraph(_markup(line.sku), s["cell"]),
                Paragraph(_markup(line.name), s["cell"]),
                str(line.quantity),
            ]
        )
    rows.append(["", "", Paragraph("Всего единиц", s["head"]), str(_units(order_lines))])
    story.append(_table(rows, [10 * mm, 40 * mm, 110 * mm, 20 * mm], right=[3]))

    story.append(Paragraph(f"Посылки: {len(parcels)}", s["heading"]))
    if parcels:
        story.append(slip_parcels(parcels, contents))
        story.append(Spacer(1, 3 * mm))
        story.append(
            Paragraph(
                "Отследить посылку можно по трек-номеру на странице отслеживания магазина.",
                s["body"],
            )
        )
    else:
        story.append(Paragraph("Заказ ещё не упакован.", s["body"]))
    return _build(story, title=f"Заказ {order.number}")


def slip_recipient(order: Order, *, mask_phone: bool) -> list[Flowable]:
    """A packing slip's recipient block, the phone masked when asked."""
    s = _styles()
    region = REGIONS.get(order.region, order.region)
    phone = phone_mask(order.recipient_phone) if mask_phone else order.recipient_phone
    return [
        Paragraph("Получатель", s["heading"]),
        Paragraph(_markup(order.recipient_name, bold=True), s["body"]),
        Paragraph(_markup(phone), s["body"]),
        Paragraph(
            _markup(f"{order.street}, {order.city}, {region}, {order.postcode}, Россия"),
            s["body"],
        ),
    ]


def slip_parcels(parcels: Sequence[Parcel], contents: dict[int, list[ParcelLine]]) -> Flowable:
    """A packing slip's table of parcels: tracking number, weight, contents."""
    s = _styles()
    rows: list[list[object]] = [
        [Paragraph(h, s["head"]) for h in ("№", "Трек-номер", "Вес", "Содержимое")]
    ]
    for number, parcel in enumerate(parcels, start=1):
        inside = "; ".join(f"{pl.line.name} × {pl.quantity}" for pl in contents.get(parcel.id, []))
        rows.append(
            [
                str(number),
                Paragraph(_markup(parcel.tracking_number, bold=True), s["cell"]),
                _kg(parcel.weight_g).replace("kg", "кг"),
                Paragraph(_markup(inside), s["cell"]),
            ]
        )
    return _table(rows, [10 * mm, 40 * mm, 22 * mm, 108 * mm], right=[2])


def _units(lines: Iterable[OrderLine]) -> int:
    return sum(line.quantity for line in lines)


# --- Pick list ---------------------------------------------------------------


@dataclass(frozen=True)
class PickRow:
    reservation_id: int
    location: str
    sku: str
    name_ru: str
    name_zh: str
    quantity: int
    order_id: int
    order_number: str


def pick_list_rows(*, warehouse_id: int, order_ids: Sequence[int] | None = None) -> list[PickRow]:
    """What to pick at a warehouse: the active reservations of its allocated
    orders (of order_ids only, when given), by stock location with the
    unlocated last, then SKU and order number."""
    reservations = Reservation.objects.filter(
        status=Reservation.Status.ACTIVE,
        stock__warehouse_id=warehouse_id,
        order__status=OrderStatus.ALLOCATED,
    ).select_related("stock__product", "order")
    if order_ids is not None:
        reservations = reservations.filter(order_id__in=list(order_ids))
    rows = [
        PickRow(
            reservation_id=res.id,
            location=res.stock.location.strip(),
            sku=res.stock.product.sku,
            name_ru=res.stock.product.name_ru,
            name_zh=res.stock.product.name_zh,
            quantity=res.quantity,
            order_id=res.order_id,
            order_number=res.order.number,
        )
        for res in reservations
    ]
    rows.sort(key=lambda r: (r.location == "", r.location, r.sku, r.order_number, r.reservation_id))
    return rows


def pick_list_pdf(*, warehouse_id: int, order_ids: Sequence[int] | None = None) -> bytes:
    """An A4 pick list for a warehouse, one table per stock location."""
    warehouse = Warehouse.objects.filter(id=warehouse_id).first()
    if warehouse is None:
        raise NotFound()
    rows = pick_list_rows(warehouse_id=warehouse_id, order_ids=order_ids)
    s = _styles()
    now = timezone.localtime()
    orders = sorted({r.order_number for r in rows})
    story: list[Flowable] = [
        Paragraph(_markup(f"拣货单 / Лист подбора · {warehouse.code}"), s["title"]),
        Paragraph(
            _markup(f"{warehouse.name}, {warehouse.city}, {_country(warehouse.country)}"),
            s["body"],
        ),
        Paragraph(
            _markup(
                f"{now:%d.%m.%Y %H:%M} · 订单 / заказов: {len(orders)} · "
                f"件数 / единиц: {sum(r.quantity for r in rows)}"
            ),
            s["body"],
        ),
    ]
    if not rows:
        story.append(Spacer(1, 6 * mm))
        story.append(Paragraph(_markup("无待拣货 / Нечего подбирать."), s["body"]))
    head = [
        Paragraph(_markup(h), s["head"])
        for h in ("SKU", "品名 / Наименование", "数量 / Кол.", "订单 / Заказ", "✓")
    ]
    for location, group in groupby(rows, key=lambda r: r.location):
        title = f"库位 / Ячейка: {location}" if location else "无库位 / Без ячейки"
        table_rows: list[list[object]] = [list(head)]
        for row in group:
            table_rows.append(
                [
                    Paragraph(_markup(row.sku), s["cell"]),
                    [
                        Paragraph(_markup(row.name_ru), s["cell"]),
                        Paragraph(_markup(row.name_zh), s["cell_zh"]),
                    ],
                    Paragraph(_markup(str(row.quantity), bold=True), s["cell"]),
                    Paragraph(_markup(row.order_number), s["cell"]),
                    "☐",
                ]
            )
        table = _table(table_rows, [32 * mm, 76 * mm, 18 * mm, 46 * mm, 8 * mm], right=[])
        story.append(KeepTogether([Paragraph(_markup(title), s["heading"]), table]))
    return _build(story, title=f"Pick list {warehouse.code}")

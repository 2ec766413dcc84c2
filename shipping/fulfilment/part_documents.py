"""Packing slips of fulfilment orders: what one merchant packs of an order,
many at once as one PDF for a printer run. A slip names only its own part's
lines and parcels, never the rest of the order or its money."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils import timezone
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, PageBreak, Paragraph, Spacer

from core.errors import NotFound
from core.pdf import pdf_build, pdf_markup, pdf_styles, pdf_table
from shipping.fulfilment.documents import slip_parcels, slip_recipient
from shipping.fulfilment.models import FulfilmentOrder, FulfilmentOrderLine, Parcel, ParcelLine


def _slip(
    part: FulfilmentOrder,
    lines: Sequence[FulfilmentOrderLine],
    parcels: Sequence[Parcel],
    contents: dict[int, list[ParcelLine]],
    *,
    mask_phone: bool,
) -> list[Flowable]:
    s = pdf_styles()
    order = part.order
    created = timezone.localtime(order.created_at)
    story: list[Flowable] = [
        Paragraph(pdf_markup(f"Упаковочный лист · отправление № {part.number}"), s["title"]),
        Paragraph(pdf_markup(f"Дата заказа: {created:%d.%m.%Y}"), s["body"]),
        Paragraph(pdf_markup(f"Склад: {part.warehouse.code} {part.warehouse.name}"), s["body"]),
        Spacer(1, 4 * mm),
        *slip_recipient(order, mask_phone=mask_phone),
        Paragraph("Товары", s["heading"]),
    ]
    rows: list[list[object]] = [
        [Paragraph(h, s["head"]) for h in ("№", "Артикул", "Наименование", "Кол-во")]
    ]
    for number, fl in enumerate(lines, start=1):
        rows.append(
            [
                str(number),
                Paragraph(pdf_markup(fl.line.sku), s["cell"]),
                Paragraph(pdf_markup(fl.line.name), s["cell"]),
                str(fl.quantity),
            ]
        )
    rows.append(
        ["", "", Paragraph("Всего единиц", s["head"]), str(sum(fl.quantity for fl in lines))]
    )
    story.append(pdf_table(rows, [10 * mm, 40 * mm, 110 * mm, 20 * mm], right=[3]))
    story.append(Paragraph(f"Посылки: {len(parcels)}", s["heading"]))
    if not parcels:
        story.append(Paragraph("Отправление ещё не упаковано.", s["body"]))
        return story
    story.append(slip_parcels(parcels, contents))
    return story


def fulfilment_packing_slips_pdf(
    *, fulfilment_order_ids: Sequence[int], mask_phone: bool = False
) -> bytes:
    """One A4 packing slip per fulfilment order, in the order given, in
    Russian. `mask_phone` for staff who may not see recipients' phones."""
    parts = {
        fo.id: fo
        for fo in FulfilmentOrder.objects.select_related("order", "warehouse").filter(
            id__in=fulfilment_order_ids
        )
    }
    if not fulfilment_order_ids or len(parts) != len(set(fulfilment_order_ids)):
        raise NotFound()
    lines: dict[int, list[FulfilmentOrderLine]] = {pid: [] for pid in parts}
    for fl in (
        FulfilmentOrderLine.objects.filter(fulfilment_order_id__in=parts)
        .select_related("line")
        .order_by("id")
    ):
        lines[fl.fulfilment_order_id].append(fl)
    parcels: dict[int, list[Parcel]] = {pid: [] for pid in parts}
    for parcel in Parcel.objects.filter(fulfilment_order_id__in=parts).order_by("id"):
        parcels[parcel.fulfilment_order_id or 0].append(parcel)
    contents: dict[int, list[ParcelLine]] = {}
    for pl in (
        ParcelLine.objects.filter(parcel__fulfilment_order_id__in=parts)
        .select_related("line")
        .order_by("id")
    ):
        contents.setdefault(pl.parcel_id, []).append(pl)
    story: list[Flowable] = []
    for index, part_id in enumerate(fulfilment_order_ids):
        if index:
            story.append(PageBreak())
        story += _slip(
            parts[part_id], lines[part_id], parcels[part_id], contents, mask_phone=mask_phone
        )
    first = parts[fulfilment_order_ids[0]]
    title = (
        f"Отправление {first.number}"
        if len(fulfilment_order_ids) == 1
        else f"{len(fulfilment_order_ids)} packing slips"
    )
    return pdf_build(story, title=title)

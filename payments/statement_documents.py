"""A settlement statement as CSV (for the merchant's books) and as PDF (to
read and file), both from the stored statement and its lines."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, Spacer

from core.pdf import pdf_build, pdf_markup, pdf_styles, pdf_table
from payments.models import SettlementLine, SettlementStatement

CSV_COLUMNS = (
    "order_number",
    "fulfilment_orders",
    "delivered_on",
    "goods_rub",
    "platform_fee_rub",
    "refunds_rub",
    "net_rub",
    "cny_rub_rate",
    "net_cny",
)
TOTAL = "TOTAL"
TITLE = "Расчётная ведомость / 结算单 / Settlement statement"


def _lines(statement: SettlementStatement) -> list[SettlementLine]:
    return list(statement.lines.order_by("delivered_at", "order_number"))


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _row(line: SettlementLine) -> list[object]:
    return [
        line.order_number,
        line.fulfilment_orders,
        line.delivered_at.date().isoformat() if line.delivered_at else "",
        _money(line.goods_rub),
        _money(line.fee_rub),
        _money(line.refunds_rub),
        _money(line.net_rub),
        f"{line.cny_rub_rate.normalize():f}",
        _money(line.net_cny),
    ]


def _total_row(statement: SettlementStatement) -> list[object]:
    return [
        TOTAL,
        "",
        "",
        _money(statement.goods_rub),
        _money(statement.fee_rub),
        _money(statement.refunds_rub),
        _money(statement.net_rub),
        "",
        _money(statement.net_cny),
    ]


def statement_filename(statement: SettlementStatement, extension: str) -> str:
    code = statement.merchant.code
    return f"statement-{code}-{statement.period_start.isoformat()}.{extension}"


def statement_csv(*, statement: SettlementStatement) -> str:
    """One row per order, then the TOTAL row. Order numbers, dates and
    amounts only: nothing a spreadsheet would run as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_row(line) for line in _lines(statement))
    writer.writerow(_total_row(statement))
    return out.getvalue()


def statement_pdf(*, statement: SettlementStatement) -> bytes:
    """A4 landscape: the merchant (with its Chinese name), the week, the
    status, the order lines and the totals in roubles and yuan."""
    styles = pdf_styles()
    merchant = statement.merchant
    names = f"{merchant.name} {merchant.name_zh}".strip()
    period = f"{statement.period_start.isoformat()} – {statement.period_end.isoformat()} (UTC)"
    story: list[Flowable] = [
        Paragraph(
            pdf_markup("Расчётная ведомость / 结算单 / Settlement statement"), styles["title"]
        ),
        Paragraph(pdf_markup(f"{names} ({merchant.code})", bold=True), styles["heading"]),
        Paragraph(pdf_markup(f"Период / 期间 / Period: {period}"), styles["body"]),
        Paragraph(
            pdf_markup(f"Статус / 状态 / Status: {statement.get_status_display()}"),
            styles["body"],
        ),
        Spacer(0, 5 * mm),
    ]
    head = [
        "Заказ / 订单",
        "Отправления / 履约单",
        "Доставлен / 送达",
        "Товары / 货款 RUB",
        "Комиссия / 佣金 RUB",
        "Возвраты / 退款 RUB",
        "К выплате / 应付 RUB",
        "Курс / 汇率",
        "К выплате / 应付 CNY",
    ]
    rows: list[list[object]] = [[Paragraph(pdf_markup(text), styles["head"]) for text in head]]
    rows += [_row(line) for line in _lines(statement)]
    rows.append(_total_row(statement))
    widths = [34, 40, 24, 26, 26, 26, 28, 20, 28]
    story.append(pdf_table(rows, [w * mm for w in widths], right=range(3, 9)))
    story.append(Spacer(0, 5 * mm))
    story.append(
        Paragraph(
            pdf_markup(
                f"Итого к выплате / 应付合计 / Net payable: {_money(statement.net_rub)} RUB"
                f" = {_money(statement.net_cny)} CNY"
            ),
            styles["heading"],
        )
    )
    title = f"Statement {merchant.code} {statement.period_start.isoformat()}"
    return pdf_build(story, title=title, pagesize=landscape(A4))

"""Stock levels as CSV, for the back office: write an export, read an import.

Export columns: warehouse,sku,on_hand,reserved,available,location,
low_stock_threshold. An import needs warehouse,sku,on_hand and may carry
location and low_stock_threshold; `reserved` and `available` are read-only and
ignored, so an export can be edited and uploaded again as it is. Reading only
checks the file's shape; `warehouses.services.stock_import_rows` checks and
applies the rows.

Text cells that a spreadsheet would run as a formula (=, +, -, @ first) are
written with a leading apostrophe, which reading removes again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Protocol

from django.utils.translation import gettext_lazy as _

from core.errors import ValidationFailed
from warehouses.models import StockLevel
from warehouses.services import StockImportRow

EXPORT_COLUMNS = (
    "warehouse",
    "sku",
    "on_hand",
    "reserved",
    "available",
    "location",
    "low_stock_threshold",
)
REQUIRED_COLUMNS = ("warehouse", "sku", "on_hand")
OPTIONAL_COLUMNS = ("location", "low_stock_threshold")
IGNORED_COLUMNS = ("reserved", "available")
MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Writable(Protocol):
    def write(self, content: str, /) -> object: ...


class StockCsvInvalid(ValidationFailed):
    code = "stock_csv_invalid"


def _cell_out(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def _cell_in(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_STARTS) else value


def stock_csv_write(*, levels: Iterable[StockLevel], out: Writable) -> None:
    """Write `levels` (with warehouse and product loaded) as CSV to `out`."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for level in levels:
        threshold = level.low_stock_threshold
        writer.writerow(
            [
                _cell_out(level.warehouse.code),
                _cell_out(level.product.sku),
                level.on_hand,
                level.reserved,
                level.available,
                _cell_out(level.location),
                "" if threshold is None else threshold,
            ]
        )


def stock_csv_read(*, data: bytes) -> list[StockImportRow]:
    """The data rows of an uploaded file, each with its line number (the
    header is line 1). Raises StockCsvInvalid when the file itself is unusable:
    too big, not UTF-8, no header or required column, unknown columns, no
    rows. Comma or semicolon separated (the header decides)."""
    if len(data) > MAX_BYTES:
        raise StockCsvInvalid(
            _("The file is larger than {size} MB.").format(size=MAX_BYTES // (1024 * 1024))
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StockCsvInvalid(_("Save the file as CSV in UTF-8.")) from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [cell.strip().lower() for cell in next(reader, [])]
        columns = _columns(header)
        rows: list[StockImportRow] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) == MAX_ROWS:
                raise StockCsvInvalid(
                    _("The file has more than {count} rows: split it.").format(count=MAX_ROWS)
                )
            rows.append(_row(reader.line_num, cells, header, columns))
    except csv.Error as exc:
        raise StockCsvInvalid(
            _("Line {line} is not valid CSV: {error}").format(line=reader.line_num, error=exc)
        ) from None
    if not rows:
        raise StockCsvInvalid(_("The file has no stock rows."))
    return rows


def _columns(header: list[str]) -> dict[str, int]:
    if not any(header):
        raise StockCsvInvalid(_("The file is empty."))
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) | set(IGNORED_COLUMNS)
    unknown = [name for name in header if name not in known]
    if unknown:
        raise StockCsvInvalid(
            _("Unknown columns: {columns}. The columns are {allowed}.").format(
                columns=", ".join(unknown) or '""',
                allowed=", ".join([*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]),
            )
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise StockCsvInvalid(
            _("Columns named twice: {columns}.").format(columns=", ".join(repeated))
        )
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise StockCsvInvalid(_("Missing columns: {columns}.").format(columns=", ".join(missing)))
    return {name: header.index(name) for name in header}


def _row(line: int, cells: list[str], header: list[str], columns: dict[str, int]) -> StockImportRow:
    if len(cells) != len(header):
        return StockImportRow(
            line=line,
            warehouse="",
            sku="",
            on_hand="",
            problems=(
                str(
                    _("Expected {expected} cells, found {found}.").format(
                        expected=len(header), found=len(cells)
                    )
                ),
            ),
        )

    def cell(name: str) -> str | None:
        return _cell_in(cells[columns[name]]) if name in columns else None

    return StockImportRow(
        line=line,
        warehouse=cell("warehouse") or "",
        sku=cell("sku") or "",
        on_hand=cell("on_hand") or "",
        location=cell("location"),
        low_stock_threshold=cell("low_stock_threshold"),
    )

"""PDF building blocks shared by every printable document (labels, slips,
manifests, settlement statements): the shipped fonts, mixed-script text and the
A4 page frame.

Russian and Chinese text must print as real glyphs on any machine, so every
glyph comes from the fonts shipped in `core/fonts/` (DejaVu Sans for Latin and
Cyrillic, WenQuanYi Micro Hei for Chinese), embedded as subsets: no PDF depends
on the fonts of the printer or viewer. Text is split into runs and each run is
set in the first font that has its glyphs. They live in core so that every
layer may print."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, SimpleDocTemplate, Table, TableStyle

FONT_DIR = Path(__file__).resolve().parent / "fonts"
SANS = "DejaVuSans"
SANS_BOLD = "DejaVuSans-Bold"
CJK = "WenQuanYiMicroHei"
# Registered name -> (file, face in a collection). The registered names are the
# fonts' own PostScript names, so the embedded subsets are named after them.
FONT_FILES: dict[str, tuple[Path, int]] = {
    SANS: (FONT_DIR / "DejaVuSans.ttf", 0),
    SANS_BOLD: (FONT_DIR / "DejaVuSans-Bold.ttf", 0),
    CJK: (FONT_DIR / "wqy-microhei.ttc", 0),
}

_fonts_lock = threading.Lock()
_coverage: dict[str, frozenset[int]] = {}


def fonts_register() -> None:
    """Register the shipped fonts with reportlab, once per process."""
    if _coverage:
        return
    with _fonts_lock:
        if _coverage:
            return
        coverage: dict[str, frozenset[int]] = {}
        for name, (path, face) in FONT_FILES.items():
            font = TTFont(name, str(path), subfontIndex=face)
            pdfmetrics.registerFont(font)
            coverage[name] = frozenset(font.face.charToGlyph)
        pdfmetrics.registerFontFamily(
            SANS, normal=SANS, bold=SANS_BOLD, italic=SANS, boldItalic=SANS_BOLD
        )
        pdfmetrics.registerFontFamily(CJK, normal=CJK, bold=CJK, italic=CJK, boldItalic=CJK)
        _coverage.update(coverage)


def text_runs(text: str, *, bold: bool = False) -> list[tuple[str, str]]:
    """Split text into (font, text) runs: the Latin/Cyrillic font where it has
    the glyph, the CJK font where only that has it."""
    fonts_register()
    base = SANS_BOLD if bold else SANS
    runs: list[tuple[str, str]] = []
    for char in text:
        code = ord(char)
        font = CJK if code not in _coverage[base] and code in _coverage[CJK] else base
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + char)
        else:
            runs.append((font, char))
    return runs


def pdf_markup(text: str, *, bold: bool = False) -> str:
    """Paragraph markup for text, with the CJK runs set in the CJK font."""
    parts = [
        f'<font face="{CJK}">{escape(run)}</font>' if font == CJK else escape(run)
        for font, run in text_runs(text, bold=bold)
    ]
    body = "".join(parts)
    return f"<b>{body}</b>" if bold else body


def pdf_styles() -> dict[str, ParagraphStyle]:
    fonts_register()
    body = ParagraphStyle("body", fontName=SANS, fontSize=9.5, leading=12)
    return {
        "title": ParagraphStyle("title", parent=body, fontName=SANS_BOLD, fontSize=16, leading=20),
        "heading": ParagraphStyle(
            "heading", parent=body, fontName=SANS_BOLD, fontSize=11.5, leading=15, spaceBefore=8
        ),
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=9, leading=11),
        "cell_zh": ParagraphStyle("cell_zh", parent=body, fontSize=9, leading=11, wordWrap="CJK"),
        "head": ParagraphStyle("head", parent=body, fontName=SANS_BOLD, fontSize=8.5, leading=10.5),
    }


def pdf_table(rows: list[list[object]], widths: Sequence[float], *, right: Iterable[int]) -> Table:
    table = Table(rows, colWidths=list(widths), repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, -1), SANS, 9),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.92, 0.92, 0.92)),
    ]
    style += [("ALIGN", (col, 0), (col, -1), "RIGHT") for col in right]
    table.setStyle(TableStyle(style))
    return table


def pdf_build(story: list[Flowable], *, title: str, pagesize: tuple[float, float] = A4) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        author="Amur",
        initialFontName=SANS,
    )

    def footer(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(SANS, 7.5)
        canvas.drawRightString(pagesize[0] - 15 * mm, 9 * mm, f"{title} · {canvas.getPageNumber()}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()

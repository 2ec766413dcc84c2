"""Bar charts drawn on the server as inline SVG: no script, no CDN, and the
figures are in the page for a test (and a screen reader) to read."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django_stubs_ext import StrOrPromise

Bar = tuple[str, int | Decimal]

WIDTH = 560
HEIGHT = 170
TOP = 16
BOTTOM = 22
COLOUR = "#417690"


def _number(value: int | Decimal) -> str:
    return f"{value:,}".replace(",", " ")


def bar_chart(bars: Sequence[Bar], *, label: StrOrPromise) -> SafeString:
    """Vertical bars, one per (label, value), the value written above each."""
    peak = max((value for _label, value in bars), default=0) or 1
    # The last bar's value is written centred on it: keep room on the right.
    step = (WIDTH - 24) / max(len(bars), 1)
    plot = HEIGHT - TOP - BOTTOM
    cells = []
    for i, (name, value) in enumerate(bars):
        h = float(value) / float(peak) * plot
        x = i * step + step * 0.15
        cells.append(
            (
                f"{x:.1f}",
                f"{TOP + plot - h:.1f}",
                f"{step * 0.7:.1f}",
                f"{h:.1f}",
                f"{x + step * 0.35:.1f}",
                f"{TOP + plot - h - 3:.1f}",
                _number(value) if value else "",
                f"{HEIGHT - 6}",
                name,
                f"{name}: {_number(value)}",
            )
        )
    body = format_html_join(
        "",
        '<g><title>{9}</title><rect x="{0}" y="{1}" width="{2}" height="{3}" fill="'
        + COLOUR
        + '"/>'
        '<text x="{4}" y="{5}" text-anchor="middle" font-size="10">{6}</text>'
        '<text x="{4}" y="{7}" text-anchor="middle" font-size="9" fill="#666">{8}</text></g>',
        cells,
    )
    return format_html(
        '<svg class="amur-chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}</svg>',
        WIDTH,
        HEIGHT,
        label,
        body,
    )


def hbar_chart(bars: Sequence[Bar], *, label: StrOrPromise) -> SafeString:
    """Horizontal bars, the label on the left and the value on the right."""
    peak = max((value for _label, value in bars), default=0) or 1
    row = 20
    left = 190
    span = WIDTH - left - 50
    cells = []
    for i, (name, value) in enumerate(bars):
        w = float(value) / float(peak) * span
        y = i * row + 4
        cells.append(
            (
                f"{left - 6}",
                f"{y + 13}",
                name,
                f"{left}",
                f"{y}",
                f"{w:.1f}",
                f"{left + w + 4:.1f}",
                _number(value),
            )
        )
    body = format_html_join(
        "",
        '<g><text x="{0}" y="{1}" text-anchor="end" font-size="11">{2}</text>'
        '<rect x="{3}" y="{4}" width="{5}" height="15" fill="' + COLOUR + '"/>'
        '<text x="{6}" y="{1}" font-size="11">{7}</text></g>',
        cells,
    )
    return format_html(
        '<svg class="amur-chart" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}</svg>',
        WIDTH,
        len(bars) * row + 8,
        label,
        body,
    )

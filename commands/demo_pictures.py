"""Product pictures for the demo catalogue, drawn with Pillow at seed time:
real JPEG files, so uploads, thumbnails and image URLs can be tried out
without shipping photographs."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from core.pdf import FONT_DIR

SIZE = 800
Colour = tuple[int, int, int]


def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), size)


def _jacket(draw: ImageDraw.ImageDraw, ink: Colour, *, back: bool) -> None:
    """A quilted down jacket, from the front (zip and pockets) or the back."""
    body = [(270, 190), (530, 190), (560, 250), (560, 600), (240, 600), (240, 250)]
    draw.polygon(body, fill=ink)
    draw.polygon([(240, 250), (270, 190), (170, 300), (150, 560), (215, 570)], fill=ink)
    draw.polygon([(560, 250), (530, 190), (630, 300), (650, 560), (585, 570)], fill=ink)
    draw.ellipse((335, 160, 465, 230), fill=ink)
    light = tuple(min(255, c + 90) for c in ink)
    for y in range(260, 600, 55):
        draw.line([(244, y), (556, y)], fill=light, width=4)
    for y in range(330, 560, 55):
        draw.line([(172, y), (222, y)], fill=light, width=4)
        draw.line([(578, y), (628, y)], fill=light, width=4)
    if not back:
        draw.line([(400, 215), (400, 600)], fill=(220, 220, 220), width=6)
        draw.rectangle((285, 430, 350, 440), fill=light)
        draw.rectangle((450, 430, 515, 440), fill=light)


def _parcel(draw: ImageDraw.ImageDraw, ink: Colour) -> None:
    """A box with a tag: what most of the demo goods arrive in."""
    draw.polygon([(250, 300), (400, 230), (550, 300), (400, 370)], fill=ink)
    shade = tuple(max(0, c - 40) for c in ink)
    draw.polygon([(250, 300), (400, 370), (400, 580), (250, 510)], fill=shade)
    draw.polygon([(550, 300), (400, 370), (400, 580), (550, 510)], fill=ink)
    draw.line([(325, 265), (475, 335)], fill=(245, 245, 245), width=10)


def picture(
    *, title: str, subtitle: str, background: Colour, ink: Colour, kind: str = "parcel"
) -> bytes:
    """An 800 x 800 JPEG: a drawing of the kind ("jacket", "jacket-back" or
    "parcel") above the goods' names."""
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    if kind.startswith("jacket"):
        _jacket(draw, ink, back=kind == "jacket-back")
    else:
        _parcel(draw, ink)
    draw.text((SIZE // 2, 670), title, font=_font(40, bold=True), fill=ink, anchor="mm")
    draw.text((SIZE // 2, 725), subtitle, font=_font(30), fill=ink, anchor="mm")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()

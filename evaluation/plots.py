"""Line charts for the evaluation report, drawn with PIL alone.

Pillow is already a dependency of the runtime; a plotting library would be one more install for
a handful of curves.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from rt_style.sheet import font

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 × 10^k."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.floor(low / step + 1e-9) * step
    ticks = [start]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(start + len(ticks) * step)
    return [float(f"{t:.12g}") for t in ticks]


def _label(v: float) -> str:
    """Short tick text: 0.25, 1.5e-4, 6e7."""
    text = f"{v:.3g}"
    return text.replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def line_chart(series: dict, title: str, xlabel: str, ylabel: str, size=(640, 420),
               hlines: dict | None = None) -> Image.Image:
    """series: name → (xs, ys); hlines: name → y, dashed. One colour per name, a legend."""
    w, h = size
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    f, has_alpha = font(13)
    small, _ = font(11)
    fix = (lambda s: s) if has_alpha else (lambda s: s.replace("α", "a").replace("ρ", "rho"))
    xs = [x for xv, _ in series.values() for x in xv]
    ys = [y for _, yv in series.values() for y in yv] + list((hlines or {}).values())
    ys = [y for y in ys if math.isfinite(y)] or [0.0, 1.0]
    xt = nice_ticks(min(xs or [0]), max(xs or [1]))
    yt = nice_ticks(min(ys), max(ys))
    left, right, top, bottom = 78, 20, 34, 50
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]

    def px(x, y):
        return (left + (x - x0) / (x1 - x0 or 1) * (w - left - right),
                h - bottom - (y - y0) / (y1 - y0 or 1) * (h - top - bottom))

    draw.text((w / 2, 8), fix(title), fill="black", font=f, anchor="ma")
    for v in yt:
        _, y = px(x0, v)
        draw.line([(left, y), (w - right, y)], fill="#e6e6e6")
        draw.text((left - 6, y), _label(v), fill="black", font=small, anchor="rm")
    for v in xt:
        x, _ = px(v, y0)
        draw.line([(x, top), (x, h - bottom)], fill="#f0f0f0")
        draw.text((x, h - bottom + 6), _label(v), fill="black", font=small, anchor="ma")
    draw.rectangle([left, top, w - right, h - bottom], outline="black")
    draw.text((w / 2 + left / 2, h - 18), fix(xlabel), fill="black", font=f, anchor="ma")
    ylab = Image.new("RGB", (h, 20), "white")
    ImageDraw.Draw(ylab).text((h / 2, 2), fix(ylabel), fill="black", font=f, anchor="ma")
    img.paste(ylab.rotate(90, expand=True), (4, 0))
    legend = []
    for i, (name, (xv, yv)) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        pts = [px(x, y) for x, y in zip(xv, yv) if math.isfinite(y)]
        if len(pts) > 1:
            draw.line(pts, fill=colour, width=2)
        for x, y in pts if len(pts) <= 40 else []:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        legend.append((name, colour, False))
    for i, (name, value) in enumerate((hlines or {}).items()):
        colour = COLOURS[(len(series) + i) % len(COLOURS)]
        _, y = px(x0, value)
        for x in range(left, w - right, 12):
            draw.line([(x, y), (min(x + 6, w - right), y)], fill=colour, width=2)
        legend.append((name, colour, True))
    ly = top + 6
    lx = w - right - 8 - max((small.getlength(fix(n)) for n, _, _ in legend), default=0) - 26
    for name, colour, dashed in legend:
        if dashed:
            draw.line([(lx, ly + 6), (lx + 8, ly + 6)], fill=colour, width=2)
            draw.line([(lx + 12, ly + 6), (lx + 20, ly + 6)], fill=colour, width=2)
        else:
            draw.line([(lx, ly + 6), (lx + 20, ly + 6)], fill=colour, width=2)
        draw.text((lx + 26, ly), fix(name), fill="black", font=small)
        ly += 16
    return img

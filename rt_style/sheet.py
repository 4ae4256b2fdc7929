"""Labelled image sheets that show what α does (no torch): PIL only.

- sweep (the paper's Figure 3b): one row per α component, swept from its low to its high end
  while the others stay put; the first column is the input.
- random (Figure 3a): the input and N stylizations under random α, each captioned with its α.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rt_style.alpha import short_name

FONT_FILES = ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CHUNK = 4  # stylizations per inference call: bounds memory on large tiles
PAD = 4
MIN_TEXT = 8  # smallest font size, in pixels


def font(size: int):
    """(font, whether it can draw 'α'): DejaVu Sans when installed, else PIL's own font."""
    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size), True
        except OSError:
            continue
    try:
        return ImageFont.load_default(size), False
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default(), False


def stylize_many(engine, bgr: np.ndarray, alphas: np.ndarray, style) -> list[np.ndarray]:
    """The same frame under each row of `alphas`, a few at a time."""
    out = []
    for i in range(0, len(alphas), CHUNK):
        a = alphas[i:i + CHUNK]
        out += list(engine.run(np.repeat(bgr[None], len(a), 0), alpha=a, style=style))
    return out


def sweep_sheet(engine, bgr: np.ndarray, base_alpha, style, steps: int = 5) -> Image.Image:
    """Rows: each α component from low to high in `steps` steps, the others at `base_alpha`."""
    ranges = engine.alpha_ranges
    rows, values = [], None
    for j in range(engine.num_alpha):
        values = np.linspace(ranges[j, 0], ranges[j, 1], steps, dtype=np.float32)
        alphas = np.tile(np.asarray(base_alpha, np.float32), (steps, 1))
        alphas[:, j] = values
        rows.append([bgr] + stylize_many(engine, bgr, alphas, style))
    heads = ["input"] + [f"α = {v:.2f}" for v in values]
    return grid(rows, col_labels=heads, row_labels=[short_name(n) for n in engine.alpha_names])


def random_sheet(engine, bgr: np.ndarray, style, n: int, seed: int = 0) -> Image.Image:
    """The input, then `n` stylizations under α drawn uniformly from each component's range."""
    ranges = engine.alpha_ranges
    alphas = np.random.default_rng(seed).uniform(ranges[:, 0], ranges[:, 1],
                                                 (n, engine.num_alpha)).astype(np.float32)
    tiles = [bgr] + stylize_many(engine, bgr, alphas, style)
    captions = ["input"] + ["α " + " ".join(f"{v:.2f}" for v in a) for a in alphas]
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = [tiles[i:i + cols] for i in range(0, len(tiles), cols)]
    caps = [captions[i:i + cols] for i in range(0, len(captions), cols)]
    return grid(rows, captions=caps)


def grid(rows: list[list[np.ndarray]], col_labels=None, row_labels=None,
         captions=None) -> Image.Image:
    """Tiles (BGR arrays of one size) on a white sheet: column headers above, row labels on the
    left, a caption under each tile. Text is sized to the tiles."""
    th, tw = rows[0][0].shape[:2]
    size = max(MIN_TEXT, min(tw, th) // 14)
    f, has_alpha = font(size)
    fix = (lambda s: s) if has_alpha else (lambda s: s.replace("α", "a"))
    under = [fix(s) for s in (col_labels or []) + sum(captions or [], [])]
    while size > MIN_TEXT and max(map(f.getlength, under), default=0) > tw:
        size -= 1  # text under or over a tile should not spill onto its neighbours
        f, _ = font(size)
    line = f.getbbox("Ag")[3] + PAD
    left = (max(f.getlength(fix(s)) for s in row_labels) + 2 * PAD) if row_labels else 0
    top = line + PAD if col_labels else 0
    below = line if captions else 0
    cols = max(len(r) for r in rows)
    sheet = Image.new("RGB", (int(left) + cols * (tw + PAD) + PAD,
                              top + len(rows) * (th + below + PAD) + PAD), "white")
    draw = ImageDraw.Draw(sheet)
    x0 = int(left) + PAD
    for c, text in enumerate(col_labels or []):
        draw.text((x0 + c * (tw + PAD) + tw / 2, PAD), fix(text), fill="black", font=f,
                  anchor="ma")
    for r, row in enumerate(rows):
        y = top + PAD + r * (th + below + PAD)
        if row_labels:
            draw.text((PAD, y + th / 2), fix(row_labels[r]), fill="black", font=f, anchor="lm")
        for c, tile in enumerate(row):
            sheet.paste(Image.fromarray(np.ascontiguousarray(tile[..., ::-1])),
                        (x0 + c * (tw + PAD), y))
            if captions and c < len(captions[r]):
                draw.text((x0 + c * (tw + PAD) + tw / 2, y + th + 1), fix(captions[r][c]),
                          fill="black", font=f, anchor="ma")
    return sheet

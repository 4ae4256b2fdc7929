"""Training sample sheets: the PyTorch model being trained, on fixed images, under an α sweep
per component (the runtime's sheets of an exported model are rt_style.sheet's)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from rt_style.contract import Component

SWEEP = (0.0, 0.25, 0.5, 0.75, 1.0)
LABEL_W = 150


@torch.no_grad()
def sweep_rows(model, image: torch.Tensor, defaults, names, style=None):
    """[(label, [input, out(α_i=v) for v in SWEEP])] for one 3×H×W image; others at defaults."""
    a = len(defaults)
    rows = []
    for i in range(a):
        alpha = torch.tensor([defaults] * len(SWEEP), dtype=torch.float32)
        alpha[:, i] = torch.tensor(SWEEP)
        rows.append((names[i], alpha))
    # All style components together: the global strength.
    alpha = torch.tensor([defaults] * len(SWEEP), dtype=torch.float32)
    style_cols = [j for j, n in enumerate(names) if Component.parse(n).kind == "style"]
    alpha[:, style_cols] = torch.tensor(SWEEP)[:, None]
    rows.append(("all style", alpha))
    out = []
    for label, alpha in rows:
        s = None if style is None else style.expand(len(SWEEP), -1)
        y = model(image[None].expand(len(SWEEP), -1, -1, -1), alpha, s)
        out.append((label, [image] + list(y)))
    return out


def _font(size: int = 13):
    """DejaVu (has α) when installed, else Pillow's own font."""
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def render(rows, title: str = "", heads=None) -> Image.Image:
    """Grid of 3×H×W tensors with a text label per row and column heads on top (default: the
    sweep values)."""
    heads = heads or [f"α = {v:g}" for v in SWEEP]
    h, w = rows[0][1][0].shape[-2:]
    cols = max(len(r[1]) for r in rows)
    top = 20
    sheet = Image.new("RGB", (LABEL_W + cols * w, top + len(rows) * h), "white")
    draw = ImageDraw.Draw(sheet)
    font = _font()
    draw.text((4, 4), title, fill="black", font=font)
    draw.text((LABEL_W + 4, 4), "input", fill="black", font=font)
    for j, head in enumerate(heads):
        draw.text((LABEL_W + (j + 1) * w + 4, 4), head, fill="black", font=font)
    for r, (label, images) in enumerate(rows):
        y0 = top + r * h
        draw.text((4, y0 + h // 2 - 6), label, fill="black", font=font)
        for c, t in enumerate(images):
            arr = (t.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5)
            sheet.paste(Image.fromarray(arr.astype(np.uint8)), (LABEL_W + c * w, y0))
    return sheet


def sample_sheet(model, images, defaults, names, style_names, title="") -> Image.Image:
    """One block of sweep rows per fixed image (and per style for multi-style models)."""
    model_styles = len(style_names)
    rows = []
    for image in images:
        if model_styles > 1:
            for k, sname in enumerate(style_names):
                style = torch.zeros(1, model_styles)
                style[0, k] = 1.0
                for label, imgs in sweep_rows(model, image, defaults, names, style):
                    rows.append((f"{sname[:12]} {label}", imgs))
        else:
            rows += sweep_rows(model, image, defaults, names)
    return render(rows, title)


@torch.no_grad()
def random_alpha_sheet(model, images, alphas, style_names, title="") -> Image.Image:
    """Each image, then the model under each row of `alphas` (random α, the paper's Fig. 3a);
    one block per style for multi-style models."""
    alphas = torch.as_tensor(alphas, dtype=torch.float32)
    k = len(style_names)
    rows = []
    for image in images:
        for j in range(k):
            style = None
            if k > 1:
                style = torch.zeros(len(alphas), k)
                style[:, j] = 1.0
            y = model(image[None].expand(len(alphas), -1, -1, -1), alphas, style)
            rows.append((style_names[j][:18], [image] + list(y)))
    return render(rows, title, heads=[f"random {i + 1}" for i in range(len(alphas))])

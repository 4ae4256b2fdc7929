"""The loss side of adjustability: does each α component control its layer's loss?

For every component, sweep it over [0, 1] with the others at their defaults and record the
matching per-layer loss of the output, averaged over held-out images. A component is in control
when that loss falls monotonically (Spearman ρ close to −1) and by a real amount (≥ 20 %).

The network under test is any callable `model(x, alpha, style) → y` on RGB tensors in [0, 1]
(x, y: N×3×H×W; alpha N×A; style N×K or None): a PyTorch StyleNet, or an exported model run by
the runtime's Engine through `evaluation.stylizer.EngineStylizer`, so that what ships is what
is measured.
"""

from __future__ import annotations

import numpy as np
import torch

from rt_style.contract import ModelInfo
from train.losses import content_loss, style_loss

SWEEP = np.linspace(0.0, 1.0, 5)
RHO_GOAL, DROP_GOAL = -0.9, 0.20  # in control: ρ at most this, and a drop at least this


def spearman(x, y) -> float:
    """Spearman rank correlation (average ranks for ties), without scipy."""
    def ranks(v):
        v = np.asarray(v, dtype=float)
        order = v.argsort()
        r = np.empty_like(v)
        r[order] = np.arange(len(v), dtype=float)
        for u in np.unique(v):  # average ties
            m = v == u
            r[m] = r[m].mean()
        return r
    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    # rounded so that one swapped pair in 5 points reads −0.9 exactly, not −0.8999…
    return round(float(np.corrcoef(rx, ry)[0, 1]), 12)


@torch.no_grad()
def layer_losses(vgg, y, x, content_layers, style_layers, grams_per_example):
    """N×L raw losses of output y for content x (content layers first, then style)."""
    fy = vgg(y)
    fx = vgg(x, content_layers)
    out = [content_loss(fy[n], fx[n]) for n in content_layers]
    out += [style_loss(fy[n], grams_per_example[n]) for n in style_layers]
    return torch.stack(out, dim=1)


@torch.no_grad()
def loss_index(name: str, content_layers, style_layers) -> int:
    """Column of α component `name` ('style:relu3_1', 'content:relu2_2') in layer_losses'
    output (content layers first): by kind, since one layer can be both content and style."""
    kind, layer = name.split(":", 1)
    if kind == "content":
        return list(content_layers).index(layer)
    return len(content_layers) + list(style_layers).index(layer)


def alpha_control(model, vgg, images, style_grams, info: ModelInfo, style_index: int = 0,
                  batch: int = 8, sweep=SWEEP) -> dict:
    """Sweep every α component; returns per-component curves, drop and ρ, plus strength.

    model: a callable (x, alpha, style) → y (see the module docstring).
    images: N×3×H×W in [0, 1]; style_grams: layer → K×C×C; info: the model's description.
    """
    names, defaults = info.alpha_names, info.alpha_defaults
    cl, sl = info.content_layers, info.style_layers
    layers = list(cl) + list(sl)
    k = info.num_styles
    mix = None
    if k > 1:
        mix = torch.zeros(1, k)
        mix[0, style_index] = 1.0

    def mean_losses(alpha_row):
        total = torch.zeros(len(layers))
        for i in range(0, len(images), batch):
            x = images[i:i + batch]
            a = torch.tensor(alpha_row, dtype=torch.float32).expand(len(x), -1)
            s = None if mix is None else mix.expand(len(x), -1)
            y = model(x, a, s)
            g = {n: style_grams[n][style_index].expand(len(x), -1, -1) for n in sl}
            total += layer_losses(vgg, y, x, cl, sl, g).sum(0)
        return (total / len(images)).numpy()

    report = {"components": {}}
    for j, name in enumerate(names):
        li = loss_index(name, cl, sl)
        curve = []
        for v in sweep:
            row = list(defaults)
            row[j] = float(v)
            curve.append(float(mean_losses(row)[li]))
        drop = 1.0 - curve[-1] / curve[0] if curve[0] > 0 else 0.0
        report["components"][name] = {"sweep": [float(v) for v in sweep], "loss": curve,
                                      "drop": drop, "rho": spearman(sweep, curve)}
    # Strength: style loss of the output at defaults over that of the unstylized input.
    g = {n: style_grams[n][style_index].expand(len(images), -1, -1) for n in sl}
    at_default = mean_losses(list(defaults))
    inp = layer_losses(vgg, images, images, cl, sl, g).mean(0).numpy()
    report["strength"] = {n: float(at_default[len(cl) + i] / inp[len(cl) + i])
                          for i, n in enumerate(sl)}
    # ... and with every slider at its top: the strongest stylization the model offers.
    at_max = mean_losses([1.0] * len(names))
    report["strength_at_max"] = {n: float(at_max[len(cl) + i] / inp[len(cl) + i])
                                 for i, n in enumerate(sl)}
    report["content_at_default"] = {n: float(at_default[i]) for i, n in enumerate(cl)}
    report["worst_rho"] = max(c["rho"] for c in report["components"].values())
    report["min_drop"] = min(c["drop"] for c in report["components"].values())
    return report


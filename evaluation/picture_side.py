"""Picture-side figures (issue 14): what a person sees when the sliders move, in pixels.

The loss-side figures (evaluation.adjustability) say each slider lowers its own layer's loss;
these say whether the frame visibly changes, whether the sliders do different things and whether
random α gives different pictures. Pixel distances are mean absolute differences of the
8-bit outputs (0–255 levels, RGB), averaged over the photos. With lo/hi the ends of each range:

- live: |out(α_k = hi) − out(α_k = lo)|, the others at the model's defaults, per component;
- reach: |out(only α_k = hi) − out(all α = lo)|, per component;
- distinct: mean over pairs of |out(only α_k = hi) − out(only α_j = hi)|, over the mean reach;
- diversity: mean pairwise |Δ| of outputs under random α (uniform over the ranges), over their
  mean |Δ| from the photo;
- span: style loss out/in (VGG Gram loss of the output over the photo's, mean over layers) with
  every slider at hi, over the same at the defaults (< 1: the top is stronger than the start);
- identity: |out(all α = lo) − photo|;
- evenness: along each slider in `steps` steps (others at defaults), the largest step's change
  over the smallest (1 is perfectly even; a dead half of a slider makes it large).

The model is any callable (x, alpha, style) → y on RGB tensors in [0, 1] (see
evaluation.adjustability).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import torch

from rt_style.contract import ModelInfo
from train.losses import style_loss

# Targets per style (issue 14): (figure, comparison, goal).
GOALS = {"live_min": (">=", 12.0), "diversity": (">=", 0.25), "distinct": (">=", 0.6),
         "span": ("<=", 0.6), "identity": ("<=", 8.0), "evenness_max": ("<=", 4.0)}


def meets(figure: str, value: float, goals: dict = GOALS) -> bool:
    """Whether `value` meets the goal of `figure` in `goals` (figure → (comparison, goal); these
    figures' by default); NaN never does."""
    op, goal = goals[figure]
    return value >= goal if op == ">=" else value <= goal


def goal_text(figure: str, goals: dict = GOALS) -> str:
    """The goal of `figure` as a report shows it: '≥ 12', '≤ 0.6'."""
    op, goal = goals[figure]
    return f"{'≥' if op == '>=' else '≤'} {goal:g}"


def _levels(y: torch.Tensor) -> torch.Tensor:
    """What the user sees: 8-bit values as floats."""
    return (y.detach().float().clamp(0, 1) * 255.0).round()


def _mad(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().mean())


class _Outputs:
    """Runs the model on all photos for one α row at a time, in batches, in 0–255 levels."""

    def __init__(self, model, images, mix, batch: int):
        self.model, self.images, self.mix, self.batch = model, images, mix, batch

    @torch.no_grad()
    def __call__(self, alpha_row) -> torch.Tensor:
        outs = []
        for i in range(0, len(self.images), self.batch):
            x = self.images[i:i + self.batch]
            a = torch.tensor(np.asarray(alpha_row, np.float32)).expand(len(x), -1)
            s = None if self.mix is None else self.mix.expand(len(x), -1)
            outs.append(_levels(self.model(x, a, s)))
        return torch.cat(outs)


@torch.no_grad()
def _style_ratio(vgg, y255, photos, grams, style_layers, style_index, batch) -> float:
    """Mean over style layers of (style loss of y) / (style loss of the photo)."""
    out = torch.zeros(len(style_layers))
    inp = torch.zeros(len(style_layers))
    for i in range(0, len(photos), batch):
        x, y = photos[i:i + batch], y255[i:i + batch] / 255.0
        fy, fx = vgg(y, style_layers), vgg(x, style_layers)
        for j, n in enumerate(style_layers):
            g = grams[n][style_index].expand(len(x), -1, -1)
            out[j] += style_loss(fy[n], g).sum()
            inp[j] += style_loss(fx[n], g).sum()
    return float((out / inp.clamp_min(1e-12)).mean())


def picture_side(model, images: torch.Tensor, info: ModelInfo, *, vgg=None, style_grams=None,
                 style_index: int = 0, random: int = 8, steps: int = 5, seed: int = 0,
                 batch: int = 4) -> dict:
    """Every picture-side figure for one style (see the module docstring).

    images: N×3×H×W photos in [0, 1]; info: the model's description (its α components with
    their defaults and ranges, styles and style layers). vgg and style_grams (layer → K×C×C)
    are needed for `span` only; without them it is left out.
    """
    names, defaults = info.alpha_names, np.asarray(info.alpha_defaults, np.float32)
    a = len(names)
    ranges = np.asarray(info.alpha_ranges, np.float32).reshape(a, 2)
    lo, hi = ranges[:, 0], ranges[:, 1]
    k = info.num_styles
    mix = None
    if k > 1:
        mix = torch.zeros(1, k)
        mix[0, style_index] = 1.0
    run = _Outputs(model, images, mix, batch)
    photos = _levels(images)

    def with_value(base, j, v):
        row = np.array(base, np.float32)
        row[j] = v
        return row

    default_out = run(defaults)
    all_lo = run(lo)
    only_hi = [run(with_value(lo, j, hi[j])) for j in range(a)]
    live, evenness, sweep_steps = {}, {}, {}
    for j, n in enumerate(names):
        values = np.linspace(lo[j], hi[j], steps)
        outs = [run(with_value(defaults, j, v)) for v in values]
        step = [_mad(p, q) for p, q in zip(outs[:-1], outs[1:])]
        live[n] = _mad(outs[-1], outs[0])
        sweep_steps[n] = step
        evenness[n] = max(step) / max(min(step), 1e-6)
    reach = {n: _mad(only_hi[j], all_lo) for j, n in enumerate(names)}
    mean_reach = float(np.mean(list(reach.values())))
    pairs = [_mad(only_hi[i], only_hi[j]) for i, j in combinations(range(a), 2)]
    distinct = float(np.mean(pairs)) / max(mean_reach, 1e-6) if pairs else 0.0

    rng = np.random.default_rng(seed)
    rand_alpha = rng.uniform(lo, hi, (random, a)).astype(np.float32)
    rand_out = [run(r) for r in rand_alpha]
    pairwise = float(np.mean([_mad(p, q) for p, q in combinations(rand_out, 2)]))
    from_photo = float(np.mean([_mad(p, photos) for p in rand_out]))

    report = {
        "live": live, "live_min": min(live.values()),
        "reach": reach, "distinct": distinct,
        "diversity": pairwise / max(from_photo, 1e-6),
        "diversity_pairwise": pairwise, "diversity_from_photo": from_photo,
        "identity": _mad(all_lo, photos),
        "evenness": evenness, "evenness_max": max(evenness.values()),
        "sweep_steps": sweep_steps,
        "default_from_photo": _mad(default_out, photos),
        "random_alpha": rand_alpha.tolist(),
        "images": len(images), "size": list(images.shape[-2:]),
    }
    if vgg is not None and style_grams is not None:
        sl = list(info.style_layers)
        at_default = _style_ratio(vgg, default_out, images, style_grams, sl, style_index, batch)
        at_max = _style_ratio(vgg, run(hi), images, style_grams, sl, style_index, batch)
        report.update(span=at_max / max(at_default, 1e-12), style_ratio_default=at_default,
                      style_ratio_max=at_max)
    report["meets"] = {f: meets(f, report[f]) for f in GOALS if f in report}
    return report


# (figure, label, format) of the one-line summary.
SUMMARY = (("live_min", "smallest live", "{:.1f}"), ("distinct", "distinct", "{:.2f}"),
           ("diversity", "diversity", "{:.2f}"), ("span", "span", "{:.2f}"),
           ("identity", "identity", "{:.1f}"), ("evenness_max", "worst evenness", "{:.1f}"))


def summary_line(report: dict, rows=SUMMARY) -> str:
    """One line of the figures (`rows` of a report whose `meets` says which met their goal, as
    picture_side's does), marking those that miss it with '!'."""
    parts = []
    for f, label, fmt in rows:
        if f in report:
            mark = "" if report["meets"][f] else "!"
            parts.append(f"{label} {fmt.format(report[f])}{mark}")
    return "  ".join(parts)

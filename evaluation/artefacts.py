"""Two artefacts a person sees that the loss does not: a line along a border and a regular grid.

Both are measured on 8-bit frames against the photo itself, so the picture's own content
cancels: `border` is the largest mean |gradient| across any of the outermost `depth` columns or
rows of the output, relative to the photo's at the same place, over the same ratio just inside
that edge (1 = no line; a 1-px line of 20 levels on a calm border reads about 2–4). `grid` is
the spectral peak of the output's column- and row-mean |gradient| profile at a period of 2, 4
or 8 px (the network's strides) over the median of the spectrum, divided by the photo's own
(1 = no more periodic than the photo).

`measure` takes both on photos and frames stylized at each α setting, for `rtstyle eval`.
"""

from __future__ import annotations

import math

import numpy as np

PERIODS = (2, 4, 8)
FLOOR = 1.0  # levels of mean |gradient|: below it a step is invisible, in photo or output
# Goals, as evaluation.picture_side.GOALS: (comparison, goal). Provisional: set from the readings
# above, to be set again once models have been judged by eye at 1280×720.
GOALS = {"border": ("<=", 2.0), "grid": ("<=", 3.0)}
# (figure, label, format) for picture_side.summary_line.
SUMMARY = (("border", "border line", "{:.2f}"), ("grid", "grid", "{:.2f}"))


def _profiles(img: np.ndarray):
    f = img.astype(np.float64)
    gx = np.abs(np.diff(f, axis=1)).mean(axis=(0, 2))  # per column boundary
    gy = np.abs(np.diff(f, axis=0)).mean(axis=(1, 2))  # per row boundary
    return gx, gy


def border(out: np.ndarray, photo: np.ndarray, depth: int = 12, inner: int = 32) -> float:
    """out, photo: H×W×3 uint8. Each edge's band is compared with the `inner` columns or rows
    just inside it on the same side, so that texture the style lays on a flat stretch of the
    photo near an edge (a white table, a sky) is not read as a line."""
    worst = 0.0
    for po, pp in zip(_profiles(out), _profiles(photo)):
        ratio = np.maximum(po, FLOOR) / np.maximum(pp, FLOOR)
        for side in (ratio, ratio[::-1]):
            base = np.median(side[depth:depth + inner])
            worst = max(worst, float(side[:depth].max() / max(base, 1e-6)))
    return worst


def _peak(profile: np.ndarray, period: int, inner: int = 32) -> float:
    p = profile[inner:-inner]
    spectrum = np.abs(np.fft.rfft(p - p.mean()))
    freqs = np.fft.rfftfreq(len(p))
    k = int(np.argmin(np.abs(freqs - 1.0 / period)))
    return float(spectrum[k] / max(np.median(spectrum[1:]), 1e-9))


def grid(out: np.ndarray, photo: np.ndarray) -> float:
    """The strongest periodicity at the strides, over the photo's own."""
    worst = 0.0
    for po, pp in zip(_profiles(out), _profiles(photo)):
        for period in PERIODS:
            worst = max(worst, _peak(po, period) / max(_peak(pp, period), 1.0))
    return worst


FIGURES = {"border": border, "grid": grid}


def _worst(values) -> float:
    """The largest; NaN (an input too small for the interior to measure) counts as the worst."""
    return max(values, key=lambda v: v if math.isfinite(v) else math.inf)


def measure(inputs: dict, run, alphas: dict, styles: dict) -> dict:
    """Per style (name → mixture or None): both figures of every input (name → H×W×3 uint8 BGR
    photo or frame) stylized by run(frame, alpha, style) at every α setting (label → A values);
    the worst per α setting (`alphas`) and the worst over all (`border`, `grid`)."""
    section = {}
    for style, mix in styles.items():
        each = {}
        for name, img in inputs.items():
            each[name] = {}
            for label, a in alphas.items():
                out = run(img, a, mix)
                each[name][label] = {f: fn(out, img) for f, fn in FIGURES.items()}
        per_alpha = {label: {f: _worst([e[label][f] for e in each.values()]) for f in FIGURES}
                     for label in alphas}
        section[style] = {**{f: _worst([p[f] for p in per_alpha.values()]) for f in FIGURES},
                          "alphas": per_alpha, "inputs": each}
    return section

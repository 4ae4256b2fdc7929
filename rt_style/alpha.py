"""α from the user: parsing, keyframes over time, and a smooth reproducible random walk.

Shared by every front end (webcam keys, `--alpha`, video schedules) so that α means the same
thing everywhere. No torch, no ONNX Runtime: plain NumPy over the model's metadata.
"""

from __future__ import annotations

import math

import numpy as np

from rt_style.contract import DEFAULT_RANGE, Component
from rt_style.errors import UserError


def short_name(name: str) -> str:
    """'style:relu3_1' → 'relu3_1' (what users type)."""
    return Component.parse(name).layer


def parse_alpha(text: str, names: list[str], defaults, ranges=None,
                option: str = "--alpha") -> np.ndarray:
    """'0.2,0.8,0.5,0.5' (all components), '0.3' (every component), or 'relu1_1=0.2,relu4_1=1'
    (others at defaults); checked against the components' ranges ([0, 1] when not given)."""
    alpha = np.array(defaults, np.float32)
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    shorts = [short_name(n) for n in names]
    if parts and all("=" in p for p in parts):
        for p in parts:
            key, value = (s.strip() for s in p.split("=", 1))
            if key in names:
                i = names.index(key)
            elif key in shorts:
                i = shorts.index(key)
            else:
                raise UserError(f"unknown α component {key!r}; the model has "
                                f"{', '.join(shorts)}")
            alpha[i] = _number(value)
    elif parts and not any("=" in p for p in parts):
        if len(parts) == 1:
            parts = parts * len(names)
        if len(parts) != len(names):
            raise UserError(f"{option} has {len(parts)} values but the model has {len(names)} α "
                            f"components ({', '.join(shorts)}): give one value for all, "
                            f"{len(names)} comma-separated values or name=value pairs")
        alpha[:] = [_number(p) for p in parts]
    else:
        raise UserError(f"cannot read α {text!r}: give v,v,… or name=value,…")
    check_range(alpha, names, ranges)
    return alpha


def _number(text: str, what: str = "α value") -> float:
    try:
        v = float(text)
    except ValueError:
        raise UserError(f"{what} {text.strip()!r} is not a number") from None
    if not math.isfinite(v):
        raise UserError(f"{what} {text.strip()!r} is not finite")
    return v


def check_range(alpha, names, ranges=None) -> None:
    ranges = ranges or [DEFAULT_RANGE] * len(names)
    for v, n, (lo, hi) in zip(alpha, names, ranges):
        if not lo <= v <= hi:
            raise UserError(f"α {short_name(n)} = {v:g} is outside its range [{lo:g}, {hi:g}]")


def parse_style_mixture(text: str, style_names: list[str]) -> np.ndarray:
    """'starry' or 'starry:0.7,scream:0.3' (weights renormalised to sum 1) → K weights."""
    k = len(style_names)
    w = np.zeros(k, np.float32)
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        name, _, weight = part.partition(":")
        name = name.strip()
        if name.isdigit() and int(name) < k:
            i = int(name)
        elif name in style_names:
            i = style_names.index(name)
        else:
            matches = [j for j, s in enumerate(style_names) if s.startswith(name)]
            if len(matches) != 1:
                raise UserError(f"unknown style {name!r}; the model has {', '.join(style_names)}")
            i = matches[0]
        w[i] += _number(weight, f"style mixture {text!r}: the weight of {name!r},") \
            if weight else 1.0
    if w.sum() <= 0 or (w < 0).any():
        raise UserError(f"style mixture {text!r}: weights must be non-negative and not all "
                        "zero")
    return w / w.sum()


class Keyframes:
    """α at given times, linearly interpolated between them (held before the first and after
    the last). Text form: 'T:v,v,…;T:v,v,…' with T in seconds, or name=value pairs per key."""

    def __init__(self, times, values):
        order = np.argsort(times)
        self.times = np.asarray(times, np.float64)[order]
        self.values = np.asarray(values, np.float32)[order]

    @classmethod
    def parse(cls, text: str, names: list[str], defaults, ranges=None) -> Keyframes:
        times, values = [], []
        for key in (k.strip() for k in str(text).split(";") if k.strip()):
            t, sep, rest = key.partition(":")
            if not sep:
                raise UserError(f"keyframe {key!r} needs a time: 'SECONDS:v,v,…'")
            t = _number(t, "keyframe time")
            if t < 0:
                raise UserError(f"keyframe time {t:g} is negative")
            times.append(t)
            values.append(parse_alpha(rest, names, defaults, ranges))
        if not times:
            raise UserError("no α keyframes given: 'SECONDS:v,v,…;SECONDS:v,v,…'")
        if len(set(times)) != len(times):
            raise UserError("two α keyframes share a time")
        return cls(times, values)

    def at(self, t: float) -> np.ndarray:
        return np.array([np.interp(t, self.times, self.values[:, j])
                         for j in range(self.values.shape[1])], np.float32)


class RandomWalk:
    """A smooth, reproducible wander through α: each component is a sum of a few slow sines
    with random frequencies and phases, a pure function of (seed, time), so the same seed gives
    the same path whatever the frame rate and wherever playback starts."""

    def __init__(self, num_alpha: int, seed: int = 0, period: float = 8.0, low=0.0, high=1.0):
        rng = np.random.default_rng(seed)
        waves = 3
        self.freq = rng.uniform(0.5, 1.5, (waves, num_alpha)) / period  # Hz
        self.phase = rng.uniform(0, 2 * np.pi, (waves, num_alpha))
        self.amp = rng.uniform(0.5, 1.0, (waves, num_alpha))
        self.amp /= self.amp.sum(0)
        self.low, self.high = low, high

    def at(self, t: float) -> np.ndarray:
        s = (self.amp * np.sin(2 * np.pi * self.freq * t + self.phase)).sum(0)  # in [-1, 1]
        return (self.low + (self.high - self.low) * (0.5 + 0.5 * s)).astype(np.float32)

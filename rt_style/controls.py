"""What the keys and sliders of the live view change: α, the strength, the brush size (the scale
frames are stylized at), the style mixture, keep-colours and the display flags.

Plain state, apart from any window, so the key logic is testable without a display and the
--log-state record is exactly this state. One table, KEYS, drives the key handler, the help
overlay, the key list printed at start and the README's key table (a test checks it). The random
walk is rt_style.alpha's, the one every front end uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rt_style.alpha import RandomWalk, short_name
from rt_style.contract import Component
from rt_style.stabilizer import DEFAULT_STRENGTH

STEP = 0.05  # one arrow / +/- press
STRENGTH_STEP = 2 ** 0.25  # one strength press: four make ×2
STRENGTH_MIN, STRENGTH_MAX = 0.25, 4.0  # below STRENGTH_MIN the next step is 0: the photo
SCALE_STEP = 2 ** 0.25  # one brush press: four make strokes twice as big
SCALE_MIN, SCALE_MAX = 0.125, 1.0

# Special keys as cv2.waitKeyEx reports them: X11 keysyms (Qt and GTK on Linux) and Windows.
SPECIAL_KEYS = {
    65362: "Up", 65364: "Down", 65361: "Left", 65363: "Right",
    2490368: "Up", 2621440: "Down", 2424832: "Left", 2555904: "Right",
    9: "Tab", 27: "Esc", 32: "space", 13: "Enter", 10: "Enter",
}
# Shift, Ctrl, Caps Lock, Alt, Super (X11 keysyms 0xFFE1-0xFFEE) and the ISO level shifts: a
# window reports them on their own when one is held for '+' or '?', and they do nothing here.
MODIFIER_KEYS = frozenset(range(0xFFE1, 0xFFEF)) | frozenset(range(0xFE01, 0xFE14))


@dataclass(frozen=True)
class Key:
    """One row of the key table: the key names that trigger it (as key_name gives them; the
    first `shown` are listed, the rest are silent aliases such as '=' for '+' without Shift),
    the Controls method that handles it, and what it does (help overlay); the README gets
    what + more."""

    keys: tuple[str, ...]
    action: str
    what: str
    more: str = ""
    shown: int = 0  # how many of `keys` to list; 0: all

    @property
    def listed(self) -> tuple[str, ...]:
        return self.keys[: self.shown or len(self.keys)]

    @property
    def label(self) -> str:
        """'1-9', 'Up Right +' (help overlay and the list printed at start)."""
        if self.action == "select":
            return f"{self.keys[0]}-{self.keys[-1]}"
        return " ".join(self.listed)

    @property
    def markdown(self) -> str:
        """'`1`–`9`', '`Up` `Right` `+`' (README)."""
        if self.action == "select":
            return f"`{self.keys[0]}`–`{self.keys[-1]}`"
        return " ".join(f"`{k}`" for k in self.listed)


KEYS = (
    Key(tuple("123456789"), "select", "select an α component"),
    Key(("Up", "Right", "+", "="), "raise", f"raise it by {STEP:g}",
        " (clamped to its range)", shown=3),
    Key(("Down", "Left", "-", "_"), "lower", f"lower it by {STEP:g}", shown=3),
    Key((".", ">"), "stronger", "stronger: every style α × 1.19",
        " together, keeping their ratios (each clamped to its range), up to ×4; the HUD shows "
        "the strength beside the per-component bars, which show the α the model gets"),
    Key((",", "<"), "weaker", "weaker: every style α ÷ 1.19",
        "; below ×0.25 the next step is ×0, the photo"),
    Key(("]",), "bigger_brush", "bigger brush strokes (smaller scale, faster)",
        ": stylize at 0.84 × the scale per press, down to 0.125 × the frame size, and resize "
        "back to the frame's size (the network's strokes have a fixed size in pixels); the HUD "
        "shows the scale; `--scale` sets the start"),
    Key(("[",), "finer_brush", "finer brush strokes (larger scale, up to 1)"),
    Key(("c",), "keep_colors", "keep the input's colours on/off",
        ": only the stylized luminance is used (`--keep-colors` starts with it on)"),
    Key(("r",), "random", "random α", " (uniform in each range; `--seed` makes it repeatable)"),
    Key(("w",), "walk", "random walk through α on/off",
        ": smooth, slow sums of sines (`rt_style.alpha.RandomWalk`)"),
    Key(("d",), "defaults", "default α and strength ×1"),
    Key(("Tab",), "next_style", "next style (multi-style models)",
        "; `--style` sets the start, mixtures allowed"),
    Key(("t",), "stabilize", "steady picture on/off (flow-guided blending)",
        ", on at the start: still regions stop shimmering, moving ones are left alone; "
        f"`--stabilize S` sets the blend (default {DEFAULT_STRENGTH:g}), `--no-stabilize` starts "
        "with it off"),
    Key(("v",), "split", "split view: original | stylized",
        " (left and right half)"),
    Key(("h",), "hud", "HUD on/off"),
    Key(("space",), "freeze", "freeze the frame (α still changes it)"),
    Key(("s",), "snapshot", "save a PNG snapshot (α in its name)",
        " of the view without the HUD, e.g. "
        "`rtstyle-20250131-142501-a0.50-0.55-0.50-0.60.png` (`--snapshot-dir`)"),
    Key(("?",), "help", "show these keys", " (they are also printed at start)"),
    Key(("q", "Esc"), "quit", "quit"),
)
HELP = tuple((k.label, k.what) for k in KEYS)
_BY_NAME = {name: k for k in KEYS for name in k.keys}


def key_name(code: int) -> str | None:
    """A readable name for a cv2.waitKeyEx code, None for 'no key' or a lone modifier."""
    if code < 0 or code in MODIFIER_KEYS:
        return None
    if code in SPECIAL_KEYS:
        return SPECIAL_KEYS[code]
    if 33 <= code <= 126:
        return chr(code)
    return f"key{code}"


def help_text() -> str:
    return "\n".join(f"  {keys:<12} {what}" for keys, what in HELP)


def readme_table() -> str:
    """The README's key table, generated from KEYS (tests/test_live_features.py checks it)."""
    rows = ["| key | effect |", "|---|---|"]
    for k in KEYS:
        text = (k.what + k.more).replace("|", r"\|")  # a literal | inside a table cell
        rows.append(f"| {k.markdown} | {text} |")
    return "\n".join(rows)


def _ladder(value: float, factor: float, low: float, high: float) -> float:
    """value × factor, snapped to the nearest power of 2^¼ and clamped: repeated presses land
    on the same values whatever the start (1 stays reachable exactly)."""
    v = value * factor
    if v > 0:
        v = 2 ** (round(4 * math.log2(v)) / 4)
    return float(min(high, max(low, v)))


class Controls:
    """α, the strength, the brush scale, the selected component, the style mixture and the
    view flags of one live session.

    `alpha` is what the keys, sliders, `r`, `d` and the walk set; the model receives
    `applied_alpha()`: the style components × `strength`, clamped to their ranges."""

    def __init__(self, names, defaults, ranges, style_names, alpha=None, style=None,
                 seed: int | None = None, scale: float = 1.0, keep_colors: bool = False,
                 kinds=None, stabilize: float = 0.0):
        """stabilize: the starting blend strength of the steady picture (0: off); `t` toggles
        between off and this (or the default strength)."""
        self.names = list(names)
        self.shorts = [short_name(n) for n in self.names]
        kinds = kinds or [Component.parse(n).kind for n in self.names]
        self.is_style = np.array([k == "style" for k in kinds])
        self.defaults = np.asarray(defaults, np.float32)
        self.low, self.high = np.asarray(ranges, np.float32).T
        self.style_names = list(style_names)
        self.alpha = self.defaults.copy() if alpha is None else np.asarray(alpha, np.float32)
        k = len(self.style_names)
        self.style = np.eye(k, dtype=np.float32)[0] if style is None else np.asarray(style)
        self.selected = 0
        self.strength, self.scale = 1.0, float(scale)
        self.keep_colors = bool(keep_colors)
        self.stabilize = float(stabilize)
        self.stabilize_on = self.stabilize or DEFAULT_STRENGTH  # what `t` switches on
        self.walk = self.split = self.frozen = self.help = False
        self.hud = True
        self.rng = np.random.default_rng(seed)
        walk_seed = int(self.rng.integers(2**31)) if seed is None else seed
        self.walker = RandomWalk(len(self.names), seed=walk_seed, low=self.low, high=self.high)
        self._walk_start = 0.0
        self.changed = True  # what the picture depends on differs from the last rendered frame

    @classmethod
    def for_engine(cls, engine, alpha=None, style=None, seed=None, **kw) -> Controls:
        """Controls over an engine's metadata (α components, their kinds, ranges, styles)."""
        return cls(engine.alpha_names, engine.alpha_defaults, engine.alpha_ranges,
                   engine.style_names, alpha, style, seed, kinds=engine.info.kinds, **kw)

    # ------------------------------------------------------------------------ changes
    def set(self, i: int, value: float) -> None:
        """Set one component (clamped to its range); a manual change ends the random walk."""
        self.alpha[i] = np.clip(value, self.low[i], self.high[i])
        self.walk, self.changed = False, True

    def press(self, key: str, now: float) -> str | None:
        """Apply one key; returns 'quit' or 'snapshot' when the caller has to act."""
        entry = _BY_NAME.get(key)
        if entry is None:
            return None
        return getattr(self, f"_{entry.action}")(key, now)

    def _quit(self, key, now):
        return "quit"

    def _snapshot(self, key, now):
        return "snapshot"

    def _select(self, key, now):
        if int(key) <= len(self.names):
            self.selected = int(key) - 1

    def _raise(self, key, now):
        self.set(self.selected, self.alpha[self.selected] + STEP)

    def _lower(self, key, now):
        self.set(self.selected, self.alpha[self.selected] - STEP)

    def _stronger(self, key, now):
        s = STRENGTH_MIN if self.strength == 0 else _ladder(self.strength, STRENGTH_STEP, 0,
                                                             STRENGTH_MAX)
        self.strength, self.changed = s, True

    def _weaker(self, key, now):
        s = _ladder(self.strength, 1 / STRENGTH_STEP, 0, STRENGTH_MAX)
        self.strength, self.changed = (0.0 if s < STRENGTH_MIN else s), True

    def _bigger_brush(self, key, now):
        self.scale, self.changed = _ladder(self.scale, 1 / SCALE_STEP, SCALE_MIN, SCALE_MAX), True

    def _finer_brush(self, key, now):
        self.scale, self.changed = _ladder(self.scale, SCALE_STEP, SCALE_MIN, SCALE_MAX), True

    def _keep_colors(self, key, now):
        self.keep_colors, self.changed = not self.keep_colors, True

    def _random(self, key, now):
        self.alpha = self.rng.uniform(self.low, self.high).astype(np.float32)
        self.walk, self.changed = False, True

    def _defaults(self, key, now):
        self.alpha, self.strength = self.defaults.copy(), 1.0
        self.walk, self.changed = False, True

    def _walk(self, key, now):
        self.walk, self._walk_start = not self.walk, now
        self.tick(now)

    def _next_style(self, key, now):
        if len(self.style_names) > 1:
            self.style = np.roll(np.eye(len(self.style_names), dtype=np.float32)[
                int(np.argmax(self.style))], 1)
            self.changed = True

    def _stabilize(self, key, now):
        self.stabilize = 0.0 if self.stabilize else self.stabilize_on

    def _split(self, key, now):
        self.split = not self.split

    def _hud(self, key, now):
        self.hud = not self.hud

    def _freeze(self, key, now):
        self.frozen = not self.frozen

    def _help(self, key, now):
        self.help = not self.help

    def tick(self, now: float) -> None:
        """Advance the random walk (a pure function of time since it was switched on)."""
        if self.walk:
            self.alpha = self.walker.at(now - self._walk_start)
            self.changed = True

    # ------------------------------------------------------------------------ reading
    def applied_alpha(self) -> np.ndarray:
        """The α the model gets: style components × strength (ratios kept), each clamped."""
        a = np.where(self.is_style, self.alpha * self.strength, self.alpha)
        return np.clip(a, self.low, self.high).astype(np.float32)

    def style_label(self) -> str:
        if len(self.style_names) < 2:
            return self.style_names[0] if self.style_names else ""
        if self.style.max() > 0.999:
            return self.style_names[int(np.argmax(self.style))]
        return "+".join(f"{n}:{w:.2f}" for n, w in zip(self.style_names, self.style) if w > 0)

    def state(self) -> dict:
        """JSON-ready: what --log-state records and tests compare."""
        return {"alpha": [round(float(v), 4) for v in self.alpha],
                "applied_alpha": [round(float(v), 4) for v in self.applied_alpha()],
                "strength": round(self.strength, 4), "scale": round(self.scale, 4),
                "stabilize": round(self.stabilize, 4),
                "selected": self.selected,
                "style": self.style_label(),
                "style_weights": [round(float(v), 4) for v in self.style],
                "flags": {"walk": self.walk, "split": self.split, "hud": self.hud,
                          "frozen": self.frozen, "help": self.help,
                          "keep_colors": self.keep_colors}}


if __name__ == "__main__":  # python -m rt_style.controls: the README's key table
    print(readme_table())

"""What the keys and sliders of the live view change: α, the style mixture and display flags.

Plain state, apart from any window, so the key logic is testable without a display and the
--log-state record is exactly this state. The random walk is rt_style.alpha's, the one every
front end uses.
"""

from __future__ import annotations

import numpy as np

from rt_style.alpha import RandomWalk, short_name

STEP = 0.05  # one arrow / +/- press

# Special keys as cv2.waitKeyEx reports them: X11 keysyms (Qt and GTK on Linux) and Windows.
SPECIAL_KEYS = {
    65362: "Up", 65364: "Down", 65361: "Left", 65363: "Right",
    2490368: "Up", 2621440: "Down", 2424832: "Left", 2555904: "Right",
    9: "Tab", 27: "Esc", 32: "space", 13: "Enter", 10: "Enter",
}
# Shift, Ctrl, Caps Lock, Alt, Super (X11 keysyms 0xFFE1-0xFFEE) and the ISO level shifts: a
# window reports them on their own when one is held for '+' or '?', and they do nothing here.
MODIFIER_KEYS = frozenset(range(0xFFE1, 0xFFEF)) | frozenset(range(0xFE01, 0xFE14))

HELP = (
    ("1-9", "select an α component"),
    ("Up Right +", f"raise it by {STEP:g}"),
    ("Down Left -", f"lower it by {STEP:g}"),
    ("r", "random α"),
    ("w", "random walk through α on/off"),
    ("d", "default α"),
    ("Tab", "next style (multi-style models)"),
    ("v", "split view: original | stylized"),
    ("h", "HUD on/off"),
    ("space", "freeze the frame"),
    ("s", "save a PNG snapshot (α in its name)"),
    ("?", "show these keys"),
    ("q Esc", "quit"),
)


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


class Controls:
    """α, the selected component, the style mixture and the view flags of one live session."""

    def __init__(self, names, defaults, ranges, style_names, alpha=None, style=None,
                 seed: int | None = None):
        self.names = list(names)
        self.shorts = [short_name(n) for n in self.names]
        self.defaults = np.asarray(defaults, np.float32)
        self.low, self.high = np.asarray(ranges, np.float32).T
        self.style_names = list(style_names)
        self.alpha = self.defaults.copy() if alpha is None else np.asarray(alpha, np.float32)
        k = len(self.style_names)
        self.style = np.eye(k, dtype=np.float32)[0] if style is None else np.asarray(style)
        self.selected = 0
        self.walk = self.split = self.frozen = self.help = False
        self.hud = True
        self.rng = np.random.default_rng(seed)
        walk_seed = int(self.rng.integers(2**31)) if seed is None else seed
        self.walker = RandomWalk(len(self.names), seed=walk_seed, low=self.low, high=self.high)
        self._walk_start = 0.0
        self.changed = True  # α or style differs from the last rendered frame

    @classmethod
    def for_engine(cls, engine, alpha=None, style=None, seed=None) -> Controls:
        """Controls over an engine's metadata (α components, ranges, styles)."""
        return cls(engine.alpha_names, engine.alpha_defaults, engine.alpha_ranges,
                   engine.style_names, alpha, style, seed)

    # ------------------------------------------------------------------------ changes
    def set(self, i: int, value: float) -> None:
        """Set one component (clamped to its range); a manual change ends the random walk."""
        self.alpha[i] = np.clip(value, self.low[i], self.high[i])
        self.walk, self.changed = False, True

    def press(self, key: str, now: float) -> str | None:
        """Apply one key; returns 'quit' or 'snapshot' when the caller has to act."""
        if key in ("q", "Esc"):
            return "quit"
        if key == "s":
            return "snapshot"
        if key.isdigit() and 1 <= int(key) <= len(self.names):
            self.selected = int(key) - 1
        elif key in ("Up", "Right", "+", "="):  # '=' is '+' without Shift
            self.set(self.selected, self.alpha[self.selected] + STEP)
        elif key in ("Down", "Left", "-", "_"):
            self.set(self.selected, self.alpha[self.selected] - STEP)
        elif key == "r":
            self.alpha = self.rng.uniform(self.low, self.high).astype(np.float32)
            self.walk, self.changed = False, True
        elif key == "d":
            self.alpha, self.walk, self.changed = self.defaults.copy(), False, True
        elif key == "w":
            self.walk, self._walk_start = not self.walk, now
            self.tick(now)
        elif key == "Tab" and len(self.style_names) > 1:
            self.style = np.roll(np.eye(len(self.style_names), dtype=np.float32)[
                int(np.argmax(self.style))], 1)
            self.changed = True
        elif key == "v":
            self.split = not self.split
        elif key == "h":
            self.hud = not self.hud
        elif key == "space":
            self.frozen = not self.frozen
        elif key == "?":
            self.help = not self.help
        return None

    def tick(self, now: float) -> None:
        """Advance the random walk (a pure function of time since it was switched on)."""
        if self.walk:
            self.alpha = self.walker.at(now - self._walk_start)
            self.changed = True

    # ------------------------------------------------------------------------ reading
    def style_label(self) -> str:
        if len(self.style_names) < 2:
            return self.style_names[0] if self.style_names else ""
        if self.style.max() > 0.999:
            return self.style_names[int(np.argmax(self.style))]
        return "+".join(f"{n}:{w:.2f}" for n, w in zip(self.style_names, self.style) if w > 0)

    def state(self) -> dict:
        """JSON-ready: what --log-state records and tests compare."""
        return {"alpha": [round(float(v), 4) for v in self.alpha],
                "selected": self.selected,
                "style": self.style_label(),
                "style_weights": [round(float(v), 4) for v in self.style],
                "flags": {"walk": self.walk, "split": self.split, "hud": self.hud,
                          "frozen": self.frozen, "help": self.help}}

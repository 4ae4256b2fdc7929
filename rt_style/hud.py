"""The heads-up display drawn over the live view: speed, brush scale and strength, and one bar
per α component (the α the model gets, strength included).

Names, ranges and the component count come from the model's metadata (through Controls), so a
model with other α components gets matching bars without any change here. Drawn with OpenCV
onto the displayed image only: snapshots and recordings stay clean.
"""

from __future__ import annotations

import cv2
import numpy as np

from rt_style.controls import HELP

FONT = cv2.FONT_HERSHEY_SIMPLEX
ASCII = str.maketrans({"α": "a", "×": "x", "÷": "/", "–": "-"})  # Hershey fonts draw ASCII only
WHITE, GREY, HIGHLIGHT = (255, 255, 255), (170, 170, 170), (0, 215, 255)  # BGR


def _metrics(image: np.ndarray) -> tuple[float, int]:
    """Font scale and line height that keep the HUD readable from 160 to 1920 pixels wide."""
    scale = float(np.clip(image.shape[1] / 1100, 0.3, 0.6))
    return scale, max(9, int(32 * scale))


def _panel(image: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> None:
    """Darken a rectangle so white text stays readable on any picture."""
    roi = image[max(0, y0):y1, max(0, x0):x1]
    roi[:] = (roi * 0.4).astype(np.uint8)


def hud_lines(controls, fps: float, latency_ms: float) -> list[str]:
    """The HUD's text lines above the bars: speed, style and flags; brush scale and strength."""
    flags = [name for name, on in (("WALK", controls.walk), ("FROZEN", controls.frozen),
                                   ("SPLIT", controls.split), ("COLOURS", controls.keep_colors),
                                   (f"STEADY {controls.stabilize:.2f}", controls.stabilize > 0))
             if on]
    head = f"{fps:.1f} fps  {latency_ms:.0f} ms  {controls.style_label()}  {' '.join(flags)}"
    return [head.strip(), f"scale {controls.scale:.2f}  strength x{controls.strength:.2f}"]


def draw_hud(image: np.ndarray, controls, fps: float, latency_ms: float) -> np.ndarray:
    """Text lines first, then a bar per α component (selected in colour)."""
    scale, line = _metrics(image)
    h, w = image.shape[:2]
    lines = hud_lines(controls, fps, latency_ms)
    n, first = len(controls.names), len(lines)
    panel_w = min(w, int(440 * scale / 0.6))
    _panel(image, 0, 0, panel_w, line * (n + first) + line // 3)
    for i, text in enumerate(lines):
        cv2.putText(image, text, (4, line * (i + 1) - line // 4), FONT, scale, WHITE, 1,
                    cv2.LINE_AA)
    label_w = int(panel_w * 0.42)
    bar_x0, bar_x1 = label_w, panel_w - int(panel_w * 0.16)
    for i, (name, value) in enumerate(zip(controls.shorts, controls.applied_alpha())):
        y = line * (i + first + 1) - line // 4
        colour = HIGHLIGHT if i == controls.selected else GREY
        cv2.putText(image, f"{i + 1} {name}", (4, y), FONT, scale, colour, 1, cv2.LINE_AA)
        frac = (value - controls.low[i]) / max(controls.high[i] - controls.low[i], 1e-9)
        top, bottom = y - int(line * 0.55), y
        cv2.rectangle(image, (bar_x0, top), (bar_x1, bottom), colour, 1)
        fill = bar_x0 + int(round(float(np.clip(frac, 0, 1)) * (bar_x1 - bar_x0)))
        cv2.rectangle(image, (bar_x0, top), (fill, bottom), colour, -1)
        cv2.putText(image, f"{value:.2f}", (bar_x1 + 4, y), FONT, scale, colour, 1, cv2.LINE_AA)
    return image


def draw_help(image: np.ndarray) -> np.ndarray:
    """The key list, over the middle of the view (toggled with '?')."""
    scale, line = _metrics(image)
    h, w = image.shape[:2]
    top = max(0, (h - line * (len(HELP) + 1)) // 2)
    _panel(image, 0, top, w, top + line * (len(HELP) + 1))
    for i, (keys, what) in enumerate(HELP):
        y = top + line * (i + 1)
        cv2.putText(image, keys, (8, y), FONT, scale, HIGHLIGHT, 1, cv2.LINE_AA)
        cv2.putText(image, what.translate(ASCII), (8 + int(w * 0.28), y), FONT, scale, WHITE, 1,
                    cv2.LINE_AA)
    return image

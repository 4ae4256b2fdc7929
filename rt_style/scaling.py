"""Stylize at a fraction of the frame size and resize back: one meaning of --scale everywhere.

The network's brush strokes have a fixed size in pixels, so stylizing a smaller copy of a frame
gives larger strokes and costs less; users still expect the picture back at the size it came
in. `rtstyle webcam`, `video` and `image` all do it here. Work sizes are bounded, so that a slip
such as `--scale 100` is a one-line error instead of a MemoryError minutes later.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import cv2
import numpy as np

from rt_style.errors import UserError

# The largest frame we stylize or write: 8192×8192 pixels (a 64 MP photo fits; memory grows
# with the pixels, several GB at this size) and 16384 pixels on a side (H.264's and swscale's
# limits are near it).
MAX_PIXELS = 8192 * 8192
MAX_SIDE = 16384


def parse_size(text: str, both: bool = False) -> tuple[int | None, int | None]:
    """'640x480' → (640, 480); '640x' or 'x480' leave the other side to the aspect ratio
    (unless `both`: a frame size that has no aspect ratio to follow)."""
    m = re.fullmatch(r"\s*(\d*)\s*[x×X]\s*(\d*)\s*", text or "")
    if not m or not (m[1] or m[2]):
        raise UserError(f"cannot read size {text!r}: give WxH, Wx or xH in pixels, e.g. 640x480")
    w, h = (int(v) if v else None for v in m.groups())
    if 0 in (w, h):
        raise UserError(f"size {text!r} must be at least 1 pixel on each side")
    if both and None in (w, h):
        raise UserError(f"size {text.strip()!r} needs both sides, e.g. 640x480")
    return w, h


def scaled_size(width: int, height: int, scale: float | None) -> tuple[int, int]:
    """`scale` × (width, height), rounded, at least 1 pixel a side."""
    if not scale or scale == 1:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_size(width: int, height: int, what: str = "work size") -> None:
    """Refuse frames too large to stylize or encode, before any work starts."""
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise UserError(f"{what} {width}×{height} is too large (at most {MAX_PIXELS // 10**6} "
                        f"megapixels and {MAX_SIDE} pixels a side): lower --scale or --size")


def resize_frames(frames: np.ndarray, size: tuple[int, int],
                  interpolation: int | None = None) -> np.ndarray:
    """H×W×3 or N×H×W×3 frames resized to size = (width, height); area averaging to shrink,
    `interpolation` (default bilinear, the cheapest smooth one) to enlarge."""
    h, w = frames.shape[-3:-1]
    if (w, h) == tuple(size):
        return frames
    if interpolation is None or size[0] * size[1] < w * h:
        interpolation = cv2.INTER_AREA if size[0] * size[1] < w * h else cv2.INTER_LINEAR
    if frames.ndim == 3:
        return cv2.resize(frames, size, interpolation=interpolation)
    return np.stack([cv2.resize(f, size, interpolation=interpolation) for f in frames])


def stylize_scaled(run: Callable[[np.ndarray], np.ndarray], frames: np.ndarray,
                   scale: float | None, keep_scaled: bool = False,
                   back: int | None = None) -> np.ndarray:
    """run(frames at `scale` × their size), resized back to the input's size unless
    `keep_scaled`. `back`: OpenCV interpolation for the way back (default bilinear)."""
    h, w = frames.shape[-3:-1]
    work = scaled_size(w, h, scale)
    out = run(resize_frames(frames, work))
    return out if keep_scaled else resize_frames(out, (w, h), back)


def frame_sizes(width: int, height: int, size: str | None, scale: float | None,
                keep_scaled: bool = False, limit: int | None = None
                ) -> tuple[tuple[int, int], tuple[int, int]]:
    """(output size, size to stylize at) for a width × height input.

    The output is --size, else the input (shrunk to `limit` on its longer side when one is
    given and neither option was); the network works at --scale of it, and the result is
    resized back to it unless `keep_scaled`. Both are checked against the largest frame we
    handle, before any work."""
    if keep_scaled and not scale:
        raise UserError("--keep-scaled-size goes with --scale")
    if size:
        w, h = parse_size(size)
        if w is None:
            w = width * h / height
        if h is None:
            h = height * w / width
    elif limit and not scale and max(width, height) > limit:
        f = limit / max(width, height)
        w, h = width * f, height * f
    else:
        w, h = width, height
    out = max(1, round(w)), max(1, round(h))
    check_size(*out, "output size")
    work = scaled_size(*out, scale)
    check_size(*work)
    return (work if keep_scaled else out), work

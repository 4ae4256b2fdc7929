"""Run-time flicker reduction (`--stabilize`, the live `t` key): flow-guided blending of the
previous stylized frame into the current one.

A feed-forward network stylizes each frame on its own, so a still surface gets slightly different
strokes every frame (sensor noise and sub-pixel motion become shimmering texture). Here the
previous *output* is carried along the motion of the *input* — optical flow from the current
input frame to the previous one, OpenCV DIS on a small copy — and mixed into
the current output wherever that motion is trustworthy: the previous input, warped the same way,
must look like the current input (a photometric check, per pixel, in colour). Where it does not —
something moved in front, a region appeared, the flow failed — the current output is used as it
is, so moving objects leave no ghosts; when most of the frame fails (a scene cut, a whip pan) the
memory is dropped entirely. Mixing the *blended* previous output (recursive, an exponential
moving average along the motion) is what makes still regions settle.

NumPy and OpenCV only (no torch): every full-size step is one OpenCV call (resize the remap
field, remap, blendLinear); the flow and the check run on the small copy.
"""

from __future__ import annotations

import functools

import click
import cv2
import numpy as np

from rt_style.errors import UserError

DEFAULT_STRENGTH = 0.8  # weight of the warped previous output where the flow is trusted
MAX_STRENGTH = 0.95  # at 1 the picture would never change again
FLOW_WIDTH = 320  # the flow and the check run on a copy at most this wide
# DIS ultrafast, but refined down to half the copy's resolution (its preset stops at a quarter):
# it then follows a moving hand or cup that the coarse flow loses (the check rejects those pixels
# and their strokes flicker): cups at all-max α 2.29× → 1.63× for about 1 ms more a frame
# (benchmarks/RESULTS.md, "The steady picture follows moving things").
FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST
FLOW_FINEST_SCALE = 1
FLOW_PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,  # by name, for the benchmarks
                "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
                "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}
# Photometric check on the small copy, per pixel, largest |difference| over B, G, R in 0–255
# levels: full trust up to TRUST, none from DOUBT on (a linear ramp between).
TRUST, DOUBT = 8.0, 24.0
CUT_FRACTION = 0.5  # when more of the frame than this fails the check: a cut, start afresh


def parse_strength(value, option: str = "--stabilize") -> float:
    """A blend strength in [0, MAX_STRENGTH] (0: off), or a UserError saying what to give."""
    try:
        s = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{option} takes a strength from 0 to {MAX_STRENGTH:g}, e.g. {option} "
                        f"{DEFAULT_STRENGTH:g}, or nothing when another option or the end "
                        f"follows; got {value!r}") from None
    if not 0 <= s <= MAX_STRENGTH:  # NaN fails this too
        raise UserError(f"{option} strength must be from 0 (off) to {MAX_STRENGTH:g} (at 1 the "
                        f"picture would never change); got {value}")
    return s


class StrengthType(click.ParamType):
    """click type for --stabilize [S]: bad values become a one-line usage error."""

    name = "S"

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        try:
            return parse_strength(value, param.opts[0] if param else "--stabilize")
        except UserError as e:
            self.fail(str(e), param, ctx)


def stabilize_option(command):
    """--stabilize [S] and --no-stabilize (rtstyle webcam, video, eval, bench --end-to-end): the
    steady picture is on by default; the command receives the strength to use (0: off)."""
    @functools.wraps(command)
    def resolved(*args, stabilize, no_stabilize, **kwargs):
        if no_stabilize and stabilize is not None:
            raise UserError("give --stabilize S or --no-stabilize, not both")
        strength = 0.0 if no_stabilize else DEFAULT_STRENGTH if stabilize is None else stabilize
        return command(*args, stabilize=strength, **kwargs)

    resolved = click.option("--no-stabilize", is_flag=True,
                            help="Turn the steady picture off (each frame stylized on its "
                                 "own).")(resolved)
    return click.option("--stabilize", type=StrengthType(), is_flag=False,
                        flag_value=DEFAULT_STRENGTH, default=None, metavar="[S]",
                        help="Steady picture: blend the previous stylized frame, carried along "
                             "the optical flow, into each new one where the motion is reliable "
                             f"(less shimmer). S: blend strength, 0 (off) to {MAX_STRENGTH:g}; "
                             f"on by default at {DEFAULT_STRENGTH:g}.")(resolved)


class Stabilizer:
    """Feed it every frame in order: stabilizer(input_frame, stylized) → the frame to show.

    input_frame: what the network was given (BGR uint8, any size); stylized: its output, the
    same aspect ratio, any size (e.g. resized back after --scale). The returned frame is also
    kept as the next frame's memory: do not draw on it in place."""

    def __init__(self, strength: float = DEFAULT_STRENGTH, flow_width: int = FLOW_WIDTH,
                 trust: float = TRUST, doubt: float = DOUBT, cut: float = CUT_FRACTION,
                 flow_preset: int = FLOW_PRESET, finest_scale: int = FLOW_FINEST_SCALE):
        self.strength = parse_strength(strength)
        self.flow_width, self.trust, self.doubt, self.cut = flow_width, trust, doubt, cut
        self.dis = cv2.DISOpticalFlow_create(flow_preset)
        self.dis.setFinestScale(finest_scale)
        self.cuts = 0  # how many times the memory was dropped on a failed check
        self._grid = None
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (a new clip; α or the style changed by hand)."""
        self.prev = self.prev_out = None  # (small copy, its grey), the frame last returned

    def _small(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = frame.shape[:2]
        if w > self.flow_width:
            size = (self.flow_width, max(1, round(h * self.flow_width / w)))
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        frame = np.ascontiguousarray(frame)
        return frame, cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)

    def __call__(self, frame: np.ndarray, stylized: np.ndarray) -> np.ndarray:
        if self.strength == 0:
            return stylized
        small = self._small(frame)
        prev, prev_out = self.prev, self.prev_out
        self.prev, self.prev_out = small, stylized
        if (prev_out is None or prev[0].shape != small[0].shape
                or prev_out.shape != stylized.shape or min(small[0].shape[:2]) < 8):
            return stylized
        weight, field = self._check(small, prev, stylized.shape[:2])
        if weight is None:  # a cut: this frame starts the memory afresh
            self.cuts += 1
            return stylized
        H, W = stylized.shape[:2]
        # fixed-point maps (1/32 px) make the full-size remap about a fifth cheaper
        xy, frac = cv2.convertMaps(cv2.resize(field, (W, H), interpolation=cv2.INTER_LINEAR),
                                   None, cv2.CV_16SC2)
        warped = cv2.remap(prev_out, xy, frac, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        w = cv2.resize(weight, (W, H), interpolation=cv2.INTER_LINEAR)
        out = cv2.blendLinear(warped, stylized, w, 1.0 - w)
        self.prev_out = out
        return out

    def _check(self, small, prev, out_hw):
        """(blend weight per small pixel, where each output pixel's previous self lies as a
        small remap field in output pixels), or (None, None) when the frame fails the check."""
        (img, gray), (prev_img, prev_gray) = small, prev
        h, w = gray.shape
        if self._grid is None or self._grid.shape[:2] != (h, w):
            gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._grid = np.dstack([gx, gy])
        flow = self.dis.calc(gray, prev_gray, None)  # current pixel x was at x + flow(x)
        where = flow
        where += self._grid
        # the previous frame brought here by the flow, against this frame: the largest
        # difference over B, G, R; outside the previous frame nothing is trusted
        back = cv2.remap(prev_img, where, None, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
        b, g, r = cv2.split(cv2.absdiff(back, img))
        err = cv2.max(cv2.max(b, g), r)
        outside = cv2.bitwise_not(cv2.inRange(where, (0, 0), (w - 1, h - 1)))
        err = cv2.bitwise_or(err, outside)  # 255 where the previous frame has no pixel
        if np.count_nonzero(err >= self.doubt) > self.cut * err.size:
            return None, None
        trust = (self.doubt - err.astype(np.float32)) * (self.strength / (self.doubt - self.trust))
        np.clip(trust, 0.0, self.strength, out=trust)
        # small pixel centres in output pixels, x_out = (x + 0.5) · s − 0.5, so that a linear
        # resize of this field to the output size is exact wherever the flow is smooth
        sx, sy = out_hw[1] / w, out_hw[0] / h
        to_out = np.float32([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]])
        return trust, cv2.transform(where, to_out)


def stabilized(stylize, strength: float = DEFAULT_STRENGTH):
    """A clip stylizer (frames, alpha, style) → frames with a fresh Stabilizer run over each
    clip in order (`rtstyle eval --stabilize`, benchmarks/temporal.py --stabilize); the
    stylizer itself when strength is 0."""
    if not strength:
        return stylize

    def run(frames, alpha, style):
        s = Stabilizer(strength)
        return [s(f, o) for f, o in zip(frames, stylize(frames, alpha, style))]
    return run

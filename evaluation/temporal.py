"""Temporal stability (flicker): the warping error of a frame sequence over the input's own.

Optical flow is computed on the *input* frames (OpenCV DIS), so the stylized video is judged by
how well it follows the motion that is really there: frame t+1's output is warped back to frame
t, pixels that the forward–backward check marks as occluded (or that flow out of the frame) are
left out, and what remains is the mean squared difference. The input's own figure, measured the
same way, is the floor that flow errors and lighting changes set; the figure reported is the
ratio of the two, per clip.

Besides real clips, two are made here at run time from one photo, so that no video file is
committed and each isolates one cause of flicker: a still camera (the photo repeated with fresh
sensor-like noise per frame: does the network amplify noise into shimmering texture?) and a slow
pan (the photo shifted by a fraction of a pixel per frame: do the strokes follow the scene?).

Torch-free (NumPy, OpenCV, PyAV), so that benchmarks/temporal.py runs on the runtime alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rt_style.errors import UserError
from rt_style.videoio import VIDEO_SUFFIXES  # one list: what the video reader opens

# Targets of issue 16: warping error over the input's own, per kind of clip.
TARGETS = {"moving": 2.0, "still": 10.0}
# σ of the still clip's noise in 0–255 levels: a webcam in good light. The ratio depends on it
# (the bundled model's rises from 5× at σ = 4 to 9× at σ = 2 and 13× at σ = 1 on Starry Night).
STILL_NOISE = 2.0
PAN_STEP = (0.6, 0.2)  # the slow pan: pixels per frame, x and y (≥ 0)


def _gray(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def dis_flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """H×W×2 flow from BGR frame a to b: a pixel x of a is seen at x + flow(x) in b."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_gray(a), _gray(b), None)


def warp(img: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(img sampled at x + flow(x), mask of x whose target lies inside the frame)."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    out = cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return out, inside


def valid_mask(fwd: np.ndarray, bwd: np.ndarray) -> np.ndarray:
    """Pixels whose forward flow is undone by the backward flow where it lands (not occluded),
    with the tolerance of Sundaram et al. (2010), as Ruder et al. use for video style transfer."""
    bwd_at, inside = warp(bwd, fwd)
    mismatch = ((fwd + bwd_at) ** 2).sum(-1)
    scale = (fwd ** 2).sum(-1) + (bwd_at ** 2).sum(-1)
    return inside & (mismatch <= 0.01 * scale + 0.5)


def pair_flows(inputs, flow=dis_flow) -> list[tuple[np.ndarray, np.ndarray]]:
    """(flow t → t+1, valid mask) for every consecutive pair of input frames: computed once per
    clip and shared by every output measured on it (the flow is the slow part). flow(a, b):
    another estimator to measure with (benchmarks/stabilize_flow.py checks with Farnebäck's)."""
    inputs = list(inputs)
    out = []
    for a, b in zip(inputs, inputs[1:]):
        fwd = flow(a, b)
        out.append((fwd, valid_mask(fwd, flow(b, a))))
    return out


def warping_errors(inputs, outputs=None, flows=None) -> dict:
    """Per consecutive pair of frames, the masked mean squared difference between output t and
    output t+1 warped to t (RGB in [0, 1], averaged over channels). outputs=None measures the
    inputs themselves; flows: pair_flows(inputs), if already computed. Returns
    {"pairs": [...], "mean": …, "valid": mean fraction unmasked}."""
    inputs = list(inputs)
    outputs = inputs if outputs is None else list(outputs)
    if len(inputs) != len(outputs) or len(inputs) < 2:
        raise ValueError("need two or more input frames and one output per input")
    flows = pair_flows(inputs) if flows is None else flows
    errors, valid = [], []
    for t, (fwd, mask) in enumerate(flows):
        warped, _ = warp(outputs[t + 1], fwd)
        diff = (outputs[t].astype(np.float32) - warped.astype(np.float32)) / 255.0
        sq = (diff ** 2).mean(-1)
        errors.append(float(sq[mask].mean()) if mask.any() else float("nan"))
        valid.append(float(mask.mean()))
    finite = [e for e in errors if np.isfinite(e)]
    return {"pairs": errors, "mean": float(np.mean(finite)) if finite else float("nan"),
            "valid": float(np.mean(valid))}


# ------------------------------------------------------------------------------------ clips
@dataclass
class Clip:
    name: str
    kind: str  # "moving" or "still": which target applies
    source: str  # the file, or how the clip was made
    frames: list


def fit_side(img: np.ndarray, side: int) -> np.ndarray:
    """Shrunk (never enlarged) so that the longer side is at most `side`."""
    h, w = img.shape[:2]
    f = min(1.0, side / max(h, w))
    if f == 1:
        return img
    return cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))),
                      interpolation=cv2.INTER_AREA)


def list_clips(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


def read_clip(path: Path, count: int, side: int) -> list[np.ndarray]:
    """The first `count` frames of a video as BGR uint8, shrunk to `side` on the longer side."""
    import av

    from rt_style.videoio import main_video_stream, open_input

    container = open_input(path)
    frames = []
    try:
        for frame in container.decode(main_video_stream(container)):
            frames.append(fit_side(frame.to_ndarray(format="bgr24"), side))
            if len(frames) == count:
                break
    except av.error.FFmpegError as e:
        if len(frames) < 2:
            raise UserError(f"{path}: undecodable video ({e.strerror})") from None
    finally:
        container.close()
    if len(frames) < 2:
        raise UserError(f"{path} has {len(frames)} frame(s): the warping error needs two or more")
    return frames


def still_clip(photo: np.ndarray, n: int, sigma: float = STILL_NOISE, seed: int = 0) -> list:
    """A still camera: the photo n times, each with its own Gaussian noise (σ in 0–255 levels),
    rounded to 8 bits as a sensor's frames are. Frame i depends on (seed, i) only."""
    base = photo.astype(np.float32)
    return [np.clip(np.rint(base + np.random.default_rng([seed, i]).normal(0, sigma, base.shape)),
                    0, 255).astype(np.uint8) for i in range(n)]


def pan_clip(photo: np.ndarray, n: int, step=PAN_STEP) -> list:
    """A slow pan: a window moving `step` pixels (x, y) per frame over the photo, resampled
    bicubically (sub-pixel steps). The window is the photo less the distance travelled."""
    sx, sy = step
    if sx < 0 or sy < 0:
        raise ValueError("pan steps must be ≥ 0")
    h, w = photo.shape[:2]
    size = (w - math.ceil(sx * (n - 1)) - 1, h - math.ceil(sy * (n - 1)) - 1)
    if min(size) < 8:
        raise ValueError(f"a {w}×{h} photo is too small for a {n}-frame pan")
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP  # frame(x) = photo(x + i·step)
    return [cv2.warpAffine(photo, np.float32([[1, 0, i * sx], [0, 1, i * sy]]), size,
                           flags=flags, borderMode=cv2.BORDER_REFLECT) for i in range(n)]


def synthetic_photo(h: int = 270, w: int = 360, seed: int = 0) -> np.ndarray:
    """A photo-like BGR image (structure at several scales), for when no photo is at hand."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for scale in (4, 16, 64):
        small = rng.uniform(0, 1, (max(2, h // scale), max(2, w // scale), 3)).astype(np.float32)
        img += cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(img / 3 * 255, 0, 255).astype(np.uint8)


def generated_clips(photo: np.ndarray, n: int, side: int, source: str = "a photo",
                    noise: float = STILL_NOISE) -> list[Clip]:
    """The slow pan and the still noisy camera, made from one BGR photo (deterministic)."""
    base = fit_side(photo, side)
    return [Clip("generated pan", "moving", f"{source}, panned {PAN_STEP[0]:g}, "
                 f"{PAN_STEP[1]:g} px per frame", pan_clip(base, n)),
            Clip("generated still", "still", f"{source}, still, Gaussian noise σ = {noise:g} "
                 "levels per frame", still_clip(base, n, noise))]


def file_clips(paths, n: int, side: int) -> list[Clip]:
    return [Clip(Path(p).stem, "moving", str(p), read_clip(Path(p), n, side)) for p in paths]


# ------------------------------------------------------------------------------- measuring
def engine_stylizer(engine, chunk: int = 8):
    """stylize(frames, alpha, style) → frames through a runtime Engine, a few frames per call."""
    def stylize(frames, alpha, style):
        out = []
        for i in range(0, len(frames), chunk):
            out.extend(engine.run(np.stack(frames[i:i + chunk]), alpha=alpha, style=style))
        return out
    return stylize


def ratio(stylized: float, own: float) -> float:
    return stylized / own if own > 0 else float("inf")


def measure(clips: list[Clip], stylize, alphas: dict, styles: dict, log=None) -> dict:
    """Warping error of every clip, stylized at every α of `alphas` (label → A values, e.g.
    default and max) in every style of `styles` (name → mixture or None), over the input's own.
    stylize(frames, alpha, style) → frames."""
    result = {"targets": dict(TARGETS), "alphas": {k: [float(v) for v in a]
                                                   for k, a in alphas.items()},
              "styles": list(styles), "clips": []}
    for clip in clips:
        if log:
            log(f"temporal: {clip.name}: {len(clip.frames)} frames × {len(alphas)} α × "
                f"{len(styles)} style(s)")
        flows = pair_flows(clip.frames)
        own = warping_errors(clip.frames, flows=flows)
        c = {"name": clip.name, "kind": clip.kind, "source": clip.source,
             "frames": len(clip.frames), "size": [clip.frames[0].shape[1],
                                                   clip.frames[0].shape[0]],
             "input": own, "stylized": {}}
        for style, mix in styles.items():
            c["stylized"][style] = {}
            for label, a in alphas.items():
                e = warping_errors(clip.frames, stylize(clip.frames, a, mix), flows)
                e["ratio"] = ratio(e["mean"], own["mean"])
                c["stylized"][style][label] = e
        result["clips"].append(c)
    result["worst"] = worst(result)
    return result


def worst(result: dict) -> dict:
    """Per style and kind of clip, the largest ratio over clips and α, and whether it meets
    the target (NaN, from a clip with nothing left unmasked, counts as not met)."""
    out = {}
    for style in result["styles"]:
        for kind, target in result["targets"].items():
            rs = [s["ratio"] for c in result["clips"] if c["kind"] == kind
                  for s in c["stylized"][style].values()]
            if rs:
                w = max(rs, key=lambda r: r if math.isfinite(r) else math.inf)
                out.setdefault(style, {})[kind] = {"ratio": w, "target": target,
                                                   "met": bool(w <= target)}
    return out


# --------------------------------------------------------------------------------- writing
def finite(value):
    """NaN and ±∞ (an empty mask, a noise-free still input) as None, so that JSON stays JSON."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _x(v) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.2f}×"


def _e(v) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:.2e}"


def table(result: dict, errors: bool = True) -> list[str]:
    """Markdown rows: one per clip, a column per style × α (ratio, and the error itself)."""
    labels = list(result["alphas"])
    cols = [(s, a) for s in result["styles"] for a in labels]
    name = (lambda s, a: f"{a} α") if len(result["styles"]) == 1 else (lambda s, a: f"{s}, {a} α")
    lines = ["| clip | kind | frames | size | input's own | "
             + " | ".join(name(s, a) for s, a in cols) + " |",
             "|---|---|---|---|---|" + "---|" * len(cols)]
    for c in result["clips"]:
        cells = []
        for s, a in cols:
            e = c["stylized"][s][a]
            cells.append(_x(e["ratio"]) + (f" ({_e(e['mean'])})" if errors else ""))
        lines.append(f"| {c['name']} | {c['kind']} | {c['frames']} | {c['size'][0]}×"
                     f"{c['size'][1]} | {_e(c['input']['mean'])} | " + " | ".join(cells) + " |")
    return lines


def summary(result: dict) -> list[tuple[str, str, str, bool]]:
    """(measure, figure, goal, met) per style and kind of clip, for a report's summary."""
    rows = []
    for style, kinds in result["worst"].items():
        who = "" if len(result["styles"]) == 1 else f"{style}: "
        for kind, w in kinds.items():
            rows.append((f"{who}worst warping error / input's, {kind} clips (default and "
                         "all-max α)", _x(w["ratio"]), f"≤ {w['target']:g}×", w["met"]))
    return rows


def markdown(result: dict, plot: str | None = None) -> list[str]:
    """The temporal section of a report (below its heading)."""
    a = result["alphas"]
    out = ["Warping error: frame t+1's output warped to frame t with OpenCV DIS optical flow "
           "computed on the input frames, occluded pixels (forward–backward check) and pixels "
           "that leave the frame masked out, mean squared difference of what remains (RGB in "
           "[0, 1]). Each figure is the stylized clip's error over the input's own (the floor "
           "that flow errors and noise set); the error itself in brackets. Targets: "
           + ", ".join(f"≤ {v:g}× on {k} clips" for k, v in result["targets"].items())
           + ". α: " + "; ".join(f"{k} = {', '.join(f'{v:.2f}' for v in vals)}"
                                 for k, vals in a.items()) + ".", ""]
    out += table(result) + [""]
    out += ["Clips:", ""] + [f"- `{c['name']}`: {c['source']} ({c['frames']} frames, "
                             f"{c['input']['valid']:.0%} of pixels kept on average)"
                             for c in result["clips"]] + [""]
    if plot:
        out += [f"![warping error per frame pair]({plot})", ""]
    return out


def plot_series(result: dict) -> dict:
    """name → (pairs, ratio per pair) at the first α setting and style, for a line chart."""
    style, label = result["styles"][0], next(iter(result["alphas"]))
    series = {}
    for c in result["clips"]:
        own = c["input"]["pairs"]
        sty = c["stylized"][style][label]["pairs"]
        series[c["name"]] = (list(range(len(own))), [ratio(s, o) for s, o in zip(sty, own)])
    return series

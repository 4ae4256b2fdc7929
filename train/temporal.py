"""Temporal stability as DESIGN.md §4 measures it: the warping error of a frame sequence.

Optical flow is computed on the *input* frames (OpenCV DIS), so the stylized video is judged by
how well it follows the motion that is really there: frame t+1's output is warped back to frame
t, pixels that the forward–backward check marks as occluded (or that flow out of the frame) are
left out, and what remains is the mean squared difference. The input's own figure, measured the
same way, is the floor that flow errors and lighting changes set.
"""

from __future__ import annotations

import cv2
import numpy as np


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


def warping_errors(inputs, outputs=None) -> dict:
    """Per consecutive pair of frames, the masked mean squared difference between output t and
    output t+1 warped to t (RGB in [0, 1], averaged over channels). outputs=None measures the
    inputs themselves. Returns {"pairs": [...], "mean": …, "valid": mean fraction unmasked}."""
    inputs = list(inputs)
    outputs = inputs if outputs is None else list(outputs)
    if len(inputs) != len(outputs) or len(inputs) < 2:
        raise ValueError("need two or more input frames and one output per input")
    errors, valid = [], []
    for t in range(len(inputs) - 1):
        fwd = dis_flow(inputs[t], inputs[t + 1])
        bwd = dis_flow(inputs[t + 1], inputs[t])
        mask = valid_mask(fwd, bwd)
        warped, _ = warp(outputs[t + 1], fwd)
        diff = (outputs[t].astype(np.float32) - warped.astype(np.float32)) / 255.0
        sq = (diff ** 2).mean(-1)
        errors.append(float(sq[mask].mean()) if mask.any() else float("nan"))
        valid.append(float(mask.mean()))
    finite = [e for e in errors if np.isfinite(e)]
    return {"pairs": errors, "mean": float(np.mean(finite)) if finite else float("nan"),
            "valid": float(np.mean(valid))}

"""Keep the input's colours (luminance-only style transfer), a cheap step after the network;
stylizing at a fraction of the size and resizing back is rt_style.scaling's.

It is OpenCV calls on uint8 BGR frames, so they work with every model and backend (ONNX
Runtime or TensorRT) without re-exporting anything; `rtstyle bench --keep-colors` measures
what keeping colours costs.
"""

from __future__ import annotations

import cv2
import numpy as np


def keep_colors(content: np.ndarray, stylized: np.ndarray) -> np.ndarray:
    """The stylized luminance with the content's chroma (YCrCb): the picture keeps its own
    colours and takes only the brush work (Gatys et al. 2016, "Preserving color in neural
    artistic style transfer"). H×W×3 or N×H×W×3 uint8 BGR, both the same shape."""
    if content.shape != stylized.shape:
        raise ValueError(f"keep_colors: content {content.shape} and stylized {stylized.shape} "
                         "differ in shape")
    shape = content.shape
    flat = (-1, shape[-2], 3)  # a batch as one tall image: cvtColor takes 2-D images only
    ycc = cv2.cvtColor(np.ascontiguousarray(content).reshape(flat), cv2.COLOR_BGR2YCrCb)
    # BGR2GRAY is Y of YCrCb (0.299 R + 0.587 G + 0.114 B), at a third of the cost
    ycc[..., 0] = cv2.cvtColor(np.ascontiguousarray(stylized).reshape(flat), cv2.COLOR_BGR2GRAY)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR).reshape(shape)


class KeepColors:
    """An engine whose output keeps each input frame's colours (rtstyle video/image
    --keep-colors, rtstyle bench --keep-colors); everything else is the wrapped engine's."""

    def __init__(self, engine):
        self.engine = engine

    def run(self, frames, alpha=None, style=None) -> np.ndarray:
        frames = np.asarray(frames)
        return keep_colors(frames, self.engine.run(frames, alpha, style))

    def describe(self) -> str:
        return f"{self.engine.describe()}, keeping colours"

    def __getattr__(self, name):
        return getattr(self.engine, name)

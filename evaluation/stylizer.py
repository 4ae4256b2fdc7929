"""An exported model as the measures call a network, so that what ships is what is measured."""

from __future__ import annotations

import numpy as np
import torch


class EngineStylizer:
    """A runtime Engine (ONNX Runtime, TensorRT) with StyleNet's calling convention: RGB float
    tensors in [0, 1] in and out, converted to and from the model contract's uint8 BGR."""

    def __init__(self, engine):
        self.engine = engine

    def __call__(self, x: torch.Tensor, alpha: torch.Tensor, style=None) -> torch.Tensor:
        bgr = (x.detach().flip(1).permute(0, 2, 3, 1) * 255.0).round().clamp(0, 255)
        out = self.engine.run(bgr.to(torch.uint8).cpu().numpy(),
                              alpha=alpha.detach().cpu().numpy(),
                              style=None if style is None else style.detach().cpu().numpy())
        rgb = torch.from_numpy(np.ascontiguousarray(out[..., ::-1]))
        return rgb.permute(0, 3, 1, 2).float().div(255.0)


def one_hot(k: int, index: int, n: int = 1):
    """n×K style mixture for a multi-style model; None for a single-style one."""
    if k == 1:
        return None
    s = torch.zeros(n, k)
    s[:, index] = 1.0
    return s

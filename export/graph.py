"""The exported graph as a torch module: the model contract's uint8 frames in and out around a
StyleNet, so that all of the pre- and post-processing lands in the graph.

uint8 BGR N×H×W×3 frames and α (and a style mixture for multi-style models) in, uint8 BGR
N×H×W×3 out: channel order, scaling, padding, cropping back and rounding all run inside the
exported graph, leaving the runtime no per-frame Python work.

Padding to the stride and cropping back are StyleNet.forward's own, written without branches on
the frame size so that torch.export keeps them symbolic.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from train.model import StyleNet

BGR_RGB = (2, 1, 0)  # the same permutation both ways


class ExportGraph(nn.Module):
    """Wraps a StyleNet: forward(image uint8 N×H×W×3 BGR, alpha N×A[, style N×K]) → uint8."""

    def __init__(self, model: StyleNet):
        super().__init__()
        self.model = model
        self.register_buffer("bgr", torch.tensor(BGR_RGB), persistent=False)

    def forward(self, image, alpha, style=None):
        # Cast before any reordering: TensorRT accepts uint8 only at the graph's edges.
        x = image.float().index_select(3, self.bgr).permute(0, 3, 1, 2) / 255.0
        y = self.model(x, alpha, style)
        y = torch.round(y * 255.0).clamp(0.0, 255.0)
        return y.permute(0, 2, 3, 1).index_select(3, self.bgr).to(torch.uint8)

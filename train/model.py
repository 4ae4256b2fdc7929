"""Transform network T and conditioner Λ (DESIGN.md §1), with presets in the manner of timm.

T is a plain stack of conv → CIN (→ ReLU) layers; every CIN layer takes its γ, β from one flat
vector that Λ computes from the conditioning vector [α, style mixture]. Keeping the layers in a
flat list means the γ/β layout is just the concatenation of the CIN channel counts.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from train.cin import conditional_instance_norm


class ConvCIN(nn.Module):
    """Reflection-padded conv, conditional instance norm, optional ReLU."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True,
                 upsample: int = 1, separable: bool = False, reflect: bool = True):
        super().__init__()
        # Reflection padding is a separate op; zero padding folds into the conv (cheaper on CPU).
        self.pad = k // 2 if reflect else 0
        zero_pad = 0 if reflect else k // 2
        self.upsample = upsample
        if separable and k > 1:  # depthwise k×k then pointwise 1×1: one "conv" for CIN purposes
            self.conv = nn.Sequential(
                nn.Conv2d(cin, cin, k, stride=stride, padding=zero_pad, groups=cin, bias=False),
                nn.Conv2d(cin, cout, 1))
        else:
            self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=zero_pad)
        self.relu = relu
        self.channels = cout

    def forward(self, x, gamma, beta):
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, mode="reflect")
        x = conditional_instance_norm(self.conv(x), gamma, beta)
        return F.relu(x) if self.relu else x


@dataclass(frozen=True)
class TransformSpec:
    """Layer plan of T: in convs, residual body, upsampling convs, out conv."""

    stem: tuple  # ((cout, kernel, stride), ...)
    body_channels: int
    body_blocks: int
    up: tuple  # ((cout, kernel, scale), ...)
    out_kernel: int
    separable: bool = False  # depthwise-separable convs in the body and the upsampling path
    reflect: bool = True  # reflection padding (the paper) or zero padding inside the conv
    out_upsample: int = 1  # the out conv may itself follow a nearest-neighbour upsampling
    margin: int = 0  # reflect-pad the input by this much and crop it off the output: zero
    #                  padding inside then leaves no dark frame at the borders (the fast preset
    #                  showed a 1–3 px coloured frame at 8; 16 is clean, for 6 % more pixels at
    #                  640×480)

    @property
    def stride(self) -> int:
        s = 1
        for _, _, st in self.stem:
            s *= st
        return s


@dataclass(frozen=True)
class ConditionerSpec:
    width: int
    depth: int  # hidden layers after the first
    init: str  # "normal" (N(0, 0.01), the paper) or "default" (PyTorch init, zero last layer)


@dataclass(frozen=True)
class Preset:
    transform: TransformSpec
    conditioner: ConditionerSpec
    description: str = ""
    extra: dict = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    "paper": Preset(
        TransformSpec(stem=((32, 9, 1), (64, 3, 2), (128, 3, 2)), body_channels=128,
                      body_blocks=7, up=((64, 3, 2), (32, 3, 2)), out_kernel=9),
        ConditionerSpec(width=1000, depth=10, init="normal"),
        "Table 1 and 2 of the paper: 32-64-128 channels, 7 residual blocks, Λ 1000×11.",
    ),
    "fast": Preset(
        TransformSpec(stem=((16, 3, 2), (32, 3, 2)), body_channels=32, body_blocks=5,
                      up=((16, 3, 2),), out_kernel=3, reflect=False, out_upsample=2, margin=16),
        ConditionerSpec(width=256, depth=1, init="default"),
        "CPU real time: strided stem to 1/4 resolution, 5 residual blocks of 32, zero padding, "
        "one conv at full resolution, small Λ (≈ 24 fps at 640×480 on 2 cores, ONNX Runtime).",
    ),
}


def _scale(c: int, width: float) -> int:
    return max(4, int(round(c * width)))


class TransformNet(nn.Module):
    """T: RGB in [0, 1] → RGB in [0, 1]; every conv followed by CIN."""

    def __init__(self, spec: TransformSpec, width: float = 1.0):
        super().__init__()
        layers, c = [], 3
        for cout, k, stride in spec.stem:
            layers.append(ConvCIN(c, _scale(cout, width), k, stride, reflect=spec.reflect))
            c = _scale(cout, width)
        body = _scale(spec.body_channels, width)
        if body != c:
            layers.append(ConvCIN(c, body, 1))
            c = body
        self.body_start = len(layers)
        for _ in range(spec.body_blocks):
            layers += [ConvCIN(c, c, 3, separable=spec.separable, reflect=spec.reflect),
                       ConvCIN(c, c, 3, relu=False, separable=spec.separable, reflect=spec.reflect)]
        self.body_end = len(layers)
        for cout, k, scale in spec.up:
            layers.append(ConvCIN(c, _scale(cout, width), k, upsample=scale,
                                  separable=spec.separable, reflect=spec.reflect))
            c = _scale(cout, width)
        layers.append(ConvCIN(c, 3, spec.out_kernel, relu=False, reflect=spec.reflect,
                              upsample=spec.out_upsample))
        up = spec.out_upsample
        for _, _, scale in spec.up:
            up *= scale
        if up != spec.stride:
            raise ValueError(f"upsampling ×{up} does not undo the stem's stride {spec.stride}")
        self.layers = nn.ModuleList(layers)
        self.stride = spec.stride
        self.margin = spec.margin

    @property
    def cin_channels(self) -> list[int]:
        return [layer.channels for layer in self.layers]

    def forward(self, x, gammas, betas, skip=None):
        """skip: N×3 gains of the input's logit added before the sigmoid (input_skip), or None."""
        x_in = x
        i = 0
        while i < len(self.layers):
            if self.body_start <= i < self.body_end:
                h = self.layers[i](x, gammas[i], betas[i])
                x = x + self.layers[i + 1](h, gammas[i + 1], betas[i + 1])
                i += 2
            else:
                x = self.layers[i](x, gammas[i], betas[i])
                i += 1
        if skip is not None:
            x = x + skip[:, :, None, None] * input_logit(x_in)
        return torch.sigmoid(x)


SKIP_EPS = 0.5 / 255.0  # half a level: keeps the logit of a black or white pixel finite


def input_logit(x: torch.Tensor) -> torch.Tensor:
    """The sigmoid's inverse of the input image, so that sigmoid(0 + logit(x)) = x exactly."""
    x = x.clamp(SKIP_EPS, 1.0 - SKIP_EPS)
    return torch.log(x) - torch.log1p(-x)


class Conditioner(nn.Module):
    """Λ: conditioning vector → γ, β of every CIN layer. γ = 1 + output, so Λ≈0 is the identity."""

    def __init__(self, in_dim: int, channels: list[int], spec: ConditionerSpec, extra: int = 0):
        super().__init__()
        dims = [in_dim] + [spec.width] * (spec.depth + 1)
        hidden = []
        for a, b in zip(dims[:-1], dims[1:]):
            hidden += [nn.Linear(a, b), nn.ReLU()]
        self.hidden = nn.Sequential(*hidden)
        self.out = nn.Linear(dims[-1], 2 * sum(channels) + extra)
        self.channels = list(channels)
        self.extra = extra
        if spec.init == "normal":
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0.0, 0.01)
                    nn.init.zeros_(m.bias)
        elif spec.init == "default":
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)
        else:
            raise ValueError(f"unknown conditioner init {spec.init!r}")

    def forward(self, cond):
        """γ per CIN layer, β per CIN layer, and 1 + the `extra` outputs (N×extra) or None."""
        out = self.out(self.hidden(cond))
        total = sum(self.channels)
        gammas = torch.split(1.0 + out[:, :total], self.channels, dim=1)
        betas = torch.split(out[:, total:2 * total], self.channels, dim=1)
        extra = 1.0 + out[:, 2 * total:] if self.extra else None
        return gammas, betas, extra


def _bottom_pad(side, stride: int, margin: int):
    """Padding after `margin`: up to a multiple of the stride and to at least four strides (so
    the deepest map keeps spatial extent for instance norm). Symbolic under torch.export."""
    return torch.sym_max((-(side + 2 * margin)) % stride, 4 * stride - side - 2 * margin)


@functools.cache
def min_reflect_side(stride: int, margin: int) -> int:
    """Smallest frame side for which every reflected pad is narrower than the frame."""
    side = 1
    while side <= margin + max(_bottom_pad(s, stride, margin)
                               for s in range(side, side + 4 * stride + 2 * margin + stride)):
        side += 1
    return side


def _pad_for_network(x: torch.Tensor, stride: int, margin: int):
    """Reflect-pad by `margin` all round and up to the stride. Tiny frames are first
    replicate-padded to `min_reflect_side` (a no-op otherwise): reflection needs the pad to be
    narrower than the frame. Written without branches on sizes, so it exports symbolically."""
    small = min_reflect_side(stride, margin)
    h, w = x.shape[-2:]
    x = F.pad(x, (0, torch.sym_max(small - w, 0), 0, torch.sym_max(small - h, 0)),
              mode="replicate")
    h, w = x.shape[-2:]
    ph, pw = _bottom_pad(h, stride, margin), _bottom_pad(w, stride, margin)
    return F.pad(x, (margin, margin + pw, margin, margin + ph), mode="reflect")


class StyleNet(nn.Module):
    """T and Λ together: forward(image RGB [0,1] N×3×H×W, α N×A, style mixture N×K or None)."""

    def __init__(self, preset: str = "fast", num_alpha: int = 4, num_styles: int = 1,
                 width: float = 1.0, conditioner: ConditionerSpec | None = None,
                 input_skip: bool = False):
        super().__init__()
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        p = PRESETS[preset]
        self.preset, self.width = preset, width
        self.num_alpha, self.num_styles = num_alpha, num_styles
        self.conditioner_spec = conditioner or p.conditioner
        self.transform = TransformNet(p.transform, width)
        # input_skip: the output is sigmoid(T's last layer + k(α)·logit(input)) with per-channel
        # gains k from Λ (starting at 1). Instance norm after every conv erases the photo's own
        # colour and contrast, so without it α = 0 cannot give the photo back; with it the
        # photo is one γ = β = 0 away.
        self.input_skip = bool(input_skip)
        cond_dim = num_alpha + (num_styles if num_styles > 1 else 0)
        self.conditioner = Conditioner(cond_dim, self.transform.cin_channels, self.conditioner_spec,
                                       extra=3 if self.input_skip else 0)

    def architecture(self) -> dict:
        """Everything needed to rebuild this network (stored in checkpoints)."""
        return dict(preset=self.preset, num_alpha=self.num_alpha, num_styles=self.num_styles,
                    width=self.width, conditioner=asdict(self.conditioner_spec),
                    input_skip=self.input_skip)

    @classmethod
    def from_architecture(cls, arch: dict) -> StyleNet:
        arch = dict(arch)
        arch["conditioner"] = ConditionerSpec(**arch["conditioner"])
        return cls(**arch)

    def condition(self, alpha, style=None):
        if self.num_styles > 1:
            if style is None:
                raise ValueError("a multi-style model needs a style mixture")
            alpha = torch.cat([alpha, style], dim=1)
        return alpha

    def forward(self, image, alpha, style=None):
        gammas, betas, skip = self.conditioner(self.condition(alpha, style))
        h, w = image.shape[-2:]
        m = self.transform.margin
        out = self.transform(_pad_for_network(image, self.transform.stride, m), gammas, betas,
                             skip)
        return out[..., m:m + h, m:m + w]

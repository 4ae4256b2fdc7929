"""Transform network T and conditioner Λ (conditional instance norm driven by α), with presets
in the manner of timm.

T is a plain stack of conv → CIN (→ ReLU) layers; every CIN layer takes its γ, β from one flat
vector that Λ computes from the conditioning vector [α, style mixture]. Keeping the layers in a
flat list means the γ/β layout is just the concatenation of the CIN channel counts.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from train.cin import conditional_instance_norm

BILINEAR_TAPS = (0.25, 0.75, 0.75, 0.25)  # ×2 bilinear with half-pixel centres, per axis
BINOMIAL_TAPS = (0.25, 0.5, 0.25)  # the low-pass before a strided conv (Zhang 2019, BlurPool)


def bilinear_up2(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """×2 bilinear upsampling as a fixed depthwise transposed conv (kernel: C×1×4×4 outer
    product of BILINEAR_TAPS), with one extra pixel on every side that sees zeros beyond the
    map. The 3×3 conv after it then needs no padding, and the pair is exactly one 3×3 conv at
    the low resolution per output phase (export.optimize folds it so)."""
    return F.conv_transpose2d(x, kernel.to(x.dtype), stride=2, groups=x.shape[1])


class ConvCIN(nn.Module):
    """Reflection-padded conv, conditional instance norm, optional ReLU."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, relu: bool = True,
                 upsample: int = 1, separable: bool = False, reflect: bool = True,
                 groups: int = 1, upsample_mode: str = "nearest", blur: bool = False):
        super().__init__()
        # Reflection padding is a separate op; zero padding folds into the conv (cheaper on CPU).
        self.pad = k // 2 if reflect else 0
        zero_pad = 0 if reflect else k // 2
        self.upsample = upsample
        self.upsample_mode = upsample_mode
        if upsample > 1 and upsample_mode == "bilinear":
            if upsample != 2 or reflect or k != 3:
                raise ValueError("bilinear upsampling is built for ×2 before a zero-padded 3×3 "
                                 "conv")
            taps = torch.tensor(BILINEAR_TAPS)
            self.register_buffer("up_kernel", torch.outer(taps, taps).expand(cin, 1, 4, 4)
                                 .contiguous(), persistent=False)
            zero_pad = 0  # bilinear_up2's extra pixel stands in for the conv's padding
        if blur and stride > 1:  # a strided conv samples what it does not low-pass: aliasing
            taps = torch.tensor(BINOMIAL_TAPS)
            self.register_buffer("blur_kernel", torch.outer(taps, taps).expand(cin, 1, 3, 3)
                                 .contiguous(), persistent=False)
        else:
            self.register_buffer("blur_kernel", None, persistent=False)
        if separable and k > 1:  # depthwise k×k then pointwise 1×1: one "conv" for CIN purposes
            self.conv = nn.Sequential(
                nn.Conv2d(cin, cin, k, stride=stride, padding=zero_pad, groups=cin, bias=False),
                nn.Conv2d(cin, cout, 1))
        else:  # groups = cin = cout: a depthwise conv (the inverted block's middle one)
            self.conv = nn.Conv2d(cin, cout, k, stride=stride, padding=zero_pad, groups=groups)
        self.relu = relu
        self.channels = cout

    def forward(self, x, gamma, beta):
        if self.upsample > 1:
            if self.upsample_mode == "bilinear":
                x = bilinear_up2(x, self.up_kernel)
            else:
                x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        blur = self.blur_kernel is not None
        if self.pad:  # one more for the blur, which then keeps the conv's own padding
            x = F.pad(x, (self.pad + blur,) * 4, mode="reflect")
        if blur:
            x = F.conv2d(x, self.blur_kernel.to(x.dtype), padding=0 if self.pad else 1,
                         groups=x.shape[1])
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
    # the upsampling path's own choice where it differs from `separable` (None: the same)
    separable_up: bool | None = None
    reflect: bool = True  # reflection padding (the paper) or zero padding inside the conv
    out_upsample: int = 1  # the out conv may itself follow a nearest-neighbour upsampling
    margin: int = 0  # reflect-pad the input by this much and crop it off the output: zero
    #                  padding inside then leaves no dark frame at the borders (the fast preset
    #                  showed a 1–3 px coloured frame at 8; 16 is clean, for 6 % more pixels at
    #                  640×480)
    # Residual block of the body: "basic" (two 3×3 convs, the paper's) or "inverted"
    # (MobileNetV2: 1×1 to expand × body_channels, 3×3 depthwise, 1×1 back; CIN after each
    # conv, ReLU after the first two). Fields added later default to the old behaviour, so a
    # spec stored before they existed rebuilds the same network.
    block: str = "basic"
    expand: int = 1
    # "nearest" (exported as sub-pixel convs) or "bilinear": nearest makes every 2×2 block of
    # the next conv's input equal, which the trained decoders turn into a faint period-4 grid
    upsample: str = "nearest"
    # reflection padding in the residual body even where `reflect` is off: the zero padding of
    # the low-resolution body reaches ~20 px into a full-resolution frame (a line inside the
    # left border), and padding maps of 1/4 or 1/8 size costs next to nothing
    body_reflect: bool = False
    # a fixed 3×3 binomial blur before each strided stem conv (anti-aliased downsampling). Tried
    # against flicker (issue 15): it halves the shimmer of a still, noisy scene but moving
    # scenes flicker more (benchmarks/RESULTS.md, `fast-sep-blur`)
    blur_stem: bool = False
    # The network runs on the frame shrunk by this factor (mean of each s×s block); its change
    # to the shrunk frame is enlarged (bilinear) and added to the whole frame. A quarter of the
    # pixels at 2: strokes twice the size, and the photo's finest detail passes through as it is.
    input_scale: int = 1

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
    # where the sliders start unless the run says otherwise: the strongest start whose top is
    # still clearly stronger (span ≤ 0.6, evaluation.picture_side); a network's own calibration
    alpha_default: float = 0.65


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
    "fast-smooth": Preset(
        TransformSpec(stem=((16, 3, 2), (32, 3, 2)), body_channels=32, body_blocks=5,
                      up=((16, 3, 2),), out_kernel=3, reflect=False, out_upsample=2, margin=16,
                      upsample="bilinear"),
        ConditionerSpec(width=256, depth=1, init="default"),
        "fast with bilinear ×2 steps instead of nearest-neighbour ones (nearest ×2 before a 3×3 "
        "conv lets even and odd columns differ: the period-2 grid): half the grid figure, but "
        "it rings around edges and paints less (benchmarks/RESULTS.md, issue 16).",
    ),
    "fast-sep": Preset(
        TransformSpec(stem=((16, 3, 2), (32, 3, 2)), body_channels=32, body_blocks=5,
                      up=((16, 3, 2),), out_kernel=3, reflect=False, out_upsample=2, margin=16,
                      separable=True),
        ConditionerSpec(width=256, depth=1, init="default"),
        "fast with depthwise-separable convs (3×3 depthwise, then 1×1) in the residual body and "
        "the half-resolution decoder conv; stem and output conv as in fast: 0.64 GMAC per "
        "640×480 frame (fast 2.66). The default for new training (issue 15). It paints less "
        "than fast at the same α, so it starts at 0.75: there its start is as strong as fast's "
        "at 0.65 and its top still clearly stronger (benchmarks/RESULTS.md).",
        alpha_default=0.75,
    ),
    "fast-sep-blur": Preset(
        TransformSpec(stem=((16, 3, 2), (32, 3, 2)), body_channels=32, body_blocks=5,
                      up=((16, 3, 2),), out_kernel=3, reflect=False, out_upsample=2, margin=16,
                      separable=True, blur_stem=True),
        ConditionerSpec(width=256, depth=1, init="default"),
        "fast-sep with a 3×3 binomial blur before each strided stem conv (anti-aliased "
        "downsampling), 0.66 GMAC: half fast-sep's shimmer on a still, noisy scene, more "
        "flicker on moving ones; smoother backgrounds, strokes on edges (benchmarks/RESULTS.md).",
        alpha_default=0.75,
    ),
    "fast-sep-body": Preset(
        TransformSpec(stem=((16, 3, 2), (32, 3, 2)), body_channels=32, body_blocks=5,
                      up=((16, 3, 2),), out_kernel=3, reflect=False, out_upsample=2, margin=16,
                      separable=True, separable_up=False),
        ConditionerSpec(width=256, depth=1, init="default"),
        "fast-sep with fast's dense half-resolution decoder conv: 0.96 GMAC per 640×480 frame.",
    ),
    # Issue 15 candidates: the MACs go to the body, MobileNetV2 blocks (CIN after each conv),
    # and the full/half-resolution stages are narrow. Same zero padding and 16 px reflected
    # margin as `fast`; nearest ×2 + 3×3 upsampling (exported as sub-pixel convs: no grids).
    "mobile": Preset(
        TransformSpec(stem=((8, 3, 2), (16, 3, 2), (48, 3, 2)), body_channels=48, body_blocks=6,
                      up=((16, 3, 2), (8, 3, 2)), out_kernel=3, reflect=False, out_upsample=2,
                      margin=16, block="inverted", expand=2),
        ConditionerSpec(width=256, depth=1, init="default"),
        "×8 stem (8-16-48), 6 inverted-bottleneck blocks of 48 (×2 expansion) at 1/8 resolution "
        "(each 3×3 spans twice the pixels it does in fast), decoder 16-8: 0.73 GMAC per "
        "640×480 frame (fast 2.66).",
    ),
    "mobile-smooth": Preset(
        TransformSpec(stem=((8, 3, 2), (16, 3, 2), (48, 3, 2)), body_channels=48, body_blocks=6,
                      up=((16, 3, 2), (8, 3, 2)), out_kernel=3, reflect=False, out_upsample=2,
                      margin=16, block="inverted", expand=2, upsample="bilinear",
                      body_reflect=True),
        ConditionerSpec(width=256, depth=1, init="default"),
        "mobile with bilinear upsampling (no period-4 grid) and a reflection-padded body (no "
        "line inside the left border).",
    ),
    "fast-half": Preset(
        TransformSpec(stem=((16, 3, 2), (32, 3, 2)), body_channels=32, body_blocks=5,
                      up=((16, 3, 2),), out_kernel=3, reflect=False, out_upsample=2, margin=16,
                      input_scale=2),
        ConditionerSpec(width=256, depth=1, init="default"),
        "fast on the frame at half size, its change enlarged and added to the whole frame: a "
        "quarter of the work, strokes twice the size, the photo's finest detail kept as it is.",
    ),
    "fast-half-smooth": Preset(
        TransformSpec(stem=((16, 3, 2), (32, 3, 2)), body_channels=32, body_blocks=5,
                      up=((16, 3, 2),), out_kernel=3, reflect=False, out_upsample=2, margin=16,
                      input_scale=2, upsample="bilinear", body_reflect=True),
        ConditionerSpec(width=256, depth=1, init="default"),
        "fast-half with bilinear ×2 steps (nearest ones left a period-4 grid that the half size "
        "enlarges to an 8-px lattice) and a reflection-padded body (no band inside the border).",
    ),
    "mobile-sep": Preset(
        TransformSpec(stem=((8, 3, 2), (16, 3, 2), (48, 3, 2)), body_channels=48, body_blocks=6,
                      up=((16, 3, 2), (8, 3, 2)), out_kernel=3, reflect=False, out_upsample=2,
                      margin=16, block="inverted", expand=2, separable=True),
        ConditionerSpec(width=256, depth=1, init="default"),
        "mobile with depthwise-separable decoder convs: 0.53 GMAC per 640×480 frame.",
    ),
    "mobile4": Preset(
        TransformSpec(stem=((8, 3, 2), (32, 3, 2)), body_channels=32, body_blocks=5,
                      up=((8, 3, 2),), out_kernel=3, reflect=False, out_upsample=2, margin=16,
                      block="inverted", expand=2),
        ConditionerSpec(width=256, depth=1, init="default"),
        "fast's layout (body at 1/4) with 5 inverted-bottleneck blocks of 32 (×2 expansion) and "
        "8-channel stem and decoder: 0.84 GMAC per 640×480 frame.",
    ),
}


def _scale(c: int, width: float) -> int:
    return max(4, int(round(c * width)))


class TransformNet(nn.Module):
    """T: RGB in [0, 1] → RGB in [0, 1]; every conv followed by CIN."""

    def __init__(self, spec: TransformSpec, width: float = 1.0):
        super().__init__()
        if spec.upsample not in ("nearest", "bilinear"):
            raise ValueError(f"unknown upsampling {spec.upsample!r}: nearest or bilinear")
        layers, c = [], 3
        for cout, k, stride in spec.stem:
            layers.append(ConvCIN(c, _scale(cout, width), k, stride, reflect=spec.reflect,
                                  blur=spec.blur_stem))
            c = _scale(cout, width)
        body = _scale(spec.body_channels, width)
        if body != c:
            layers.append(ConvCIN(c, body, 1))
            c = body
        self.body_start = len(layers)
        self.blocks = []  # (first, end) layer index ranges with a residual connection around
        for _ in range(spec.body_blocks):
            first = len(layers)
            body_reflect = spec.reflect or spec.body_reflect
            if spec.block == "basic":
                layers += [ConvCIN(c, c, 3, separable=spec.separable, reflect=body_reflect),
                           ConvCIN(c, c, 3, relu=False, separable=spec.separable,
                                   reflect=body_reflect)]
            elif spec.block == "inverted":
                hidden = _scale(spec.body_channels * spec.expand, width)
                if hidden != c:  # expand 1: depthwise straight on the block's input
                    layers.append(ConvCIN(c, hidden, 1))
                layers += [ConvCIN(hidden, hidden, 3, reflect=body_reflect, groups=hidden),
                           ConvCIN(hidden, c, 1, relu=False)]
            else:
                raise ValueError(f"unknown residual block {spec.block!r}: basic or inverted")
            self.blocks.append((first, len(layers)))
        self.body_end = len(layers)
        for cout, k, scale in spec.up:
            layers.append(ConvCIN(c, _scale(cout, width), k, upsample=scale,
                                  separable=(spec.separable if spec.separable_up is None
                                             else spec.separable_up), reflect=spec.reflect,
                                  upsample_mode=spec.upsample))
            c = _scale(cout, width)
        layers.append(ConvCIN(c, 3, spec.out_kernel, relu=False, reflect=spec.reflect,
                              upsample=spec.out_upsample, upsample_mode=spec.upsample))
        up = spec.out_upsample
        for _, _, scale in spec.up:
            up *= scale
        if up != spec.stride:
            raise ValueError(f"upsampling ×{up} does not undo the stem's stride {spec.stride}")
        self.layers = nn.ModuleList(layers)
        self.spec = spec
        self.stride = spec.stride
        self.margin = spec.margin
        self._block_end = dict(self.blocks)

    @property
    def cin_channels(self) -> list[int]:
        return [layer.channels for layer in self.layers]

    def forward(self, x, gammas, betas, skip=None):
        """skip: N×3 gains of the input's logit added before the sigmoid (input_skip), or None."""
        out = self.logits(x, gammas, betas)
        if skip is not None:
            out = out + skip[:, :, None, None] * input_logit(x)
        return torch.sigmoid(out)

    def logits(self, x, gammas, betas):
        """The last layer's output, before the sigmoid."""
        i = 0
        while i < len(self.layers):
            end = self._block_end.get(i)
            if end is not None:
                h = x
                for j in range(i, end):
                    h = self.layers[j](h, gammas[j], betas[j])
                x = x + h
                i = end
            else:
                x = self.layers[i](x, gammas[i], betas[i])
                i += 1
        return x


SKIP_EPS = 0.5 / 255.0  # half a level: keeps the logit of a black or white pixel finite


def input_logit(x: torch.Tensor) -> torch.Tensor:
    """The sigmoid's inverse of the input image, so that sigmoid(0 + logit(x)) = x exactly."""
    x = x.clamp(SKIP_EPS, 1.0 - SKIP_EPS)
    # one Log instead of log(x) − log1p(−x): at full resolution every op is a pass over the frame
    return torch.log(x / (1.0 - x))


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


def _lists(value):
    """Tuples → lists, recursively: a stored spec is plain data (JSON-like, weights_only-safe)."""
    if isinstance(value, (tuple, list)):
        return [_lists(v) for v in value]
    return value


def _tuples(value):
    if isinstance(value, (tuple, list)):
        return tuple(_tuples(v) for v in value)
    return value


def transform_to_dict(spec: TransformSpec) -> dict:
    return {f.name: _lists(getattr(spec, f.name)) for f in fields(spec)}


def transform_from_dict(data: dict) -> TransformSpec:
    """The inverse of transform_to_dict; fields it lacks (added later) take their defaults,
    which are the behaviour from before they existed."""
    known = {f.name for f in fields(TransformSpec)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"stored network has unknown transform fields {unknown}: saved by a "
                         "newer rtstyle?")
    return TransformSpec(**{k: _tuples(v) for k, v in data.items()})


class StyleNet(nn.Module):
    """T and Λ together: forward(image RGB [0,1] N×3×H×W, α N×A, style mixture N×K or None)."""

    def __init__(self, preset: str = "fast", num_alpha: int = 4, num_styles: int = 1,
                 width: float = 1.0, conditioner: ConditionerSpec | None = None,
                 input_skip: bool = False, transform: TransformSpec | None = None):
        """transform / conditioner: the layer plans, by default the preset's as it is now; a
        checkpoint passes its own (from_architecture), so editing a preset never changes it."""
        super().__init__()
        if (transform is None or conditioner is None) and preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        self.preset, self.width = preset, width
        self.num_alpha, self.num_styles = num_alpha, num_styles
        self.conditioner_spec = conditioner or PRESETS[preset].conditioner
        self.transform_spec = transform or PRESETS[preset].transform
        self.transform = TransformNet(self.transform_spec, width)
        # input_skip: the output is sigmoid(T's last layer + k(α)·logit(input)) with per-channel
        # gains k from Λ (starting at 1). Instance norm after every conv erases the photo's own
        # colour and contrast, so without it α = 0 cannot give the photo back; with it the
        # photo is one γ = β = 0 away.
        self.input_skip = bool(input_skip)
        cond_dim = num_alpha + (num_styles if num_styles > 1 else 0)
        self.conditioner = Conditioner(cond_dim, self.transform.cin_channels, self.conditioner_spec,
                                       extra=3 if self.input_skip else 0)

    def architecture(self) -> dict:
        """Everything needed to rebuild this network (stored in checkpoints): the layer plans
        themselves, not only the preset's name."""
        return dict(preset=self.preset, num_alpha=self.num_alpha, num_styles=self.num_styles,
                    width=self.width, conditioner=asdict(self.conditioner_spec),
                    input_skip=self.input_skip,
                    transform=transform_to_dict(self.transform_spec))

    @staticmethod
    def complete_architecture(arch: dict) -> dict:
        """A stored architecture as architecture() writes it today. Older checkpoints lack
        `input_skip` (then off), `transform` (then the preset's plan: all they recorded) or
        transform fields added since (then their defaults, the behaviour from before)."""
        arch = {"input_skip": False, **arch}
        if arch.get("transform") is None:
            if arch["preset"] not in PRESETS:
                raise ValueError(f"the checkpoint names preset {arch['preset']!r}, which no "
                                 f"longer exists, and does not record its layers")
            arch["transform"] = transform_to_dict(PRESETS[arch["preset"]].transform)
        else:
            arch["transform"] = transform_to_dict(transform_from_dict(arch["transform"]))
        return arch

    @classmethod
    def from_architecture(cls, arch: dict) -> StyleNet:
        arch = cls.complete_architecture(arch)
        arch["conditioner"] = ConditionerSpec(**arch["conditioner"])
        arch["transform"] = transform_from_dict(arch["transform"])
        return cls(**arch)

    def condition(self, alpha, style=None):
        if self.num_styles > 1:
            if style is None:
                raise ValueError("a multi-style model needs a style mixture")
            alpha = torch.cat([alpha, style], dim=1)
        return alpha

    def forward(self, image, alpha, style=None):
        gammas, betas, skip = self.conditioner(self.condition(alpha, style))
        s = self.transform.spec.input_scale
        if s == 1:
            return self._stylize(image, gammas, betas, skip)
        # Margin and stride padding at the frame's size (so every size the exporter traces is
        # an expression of the frame's own), then the mean of each s×s block; T's change to
        # that small frame, enlarged and cropped, is added to the frame.
        h, w = image.shape[-2:]
        m = self.frame_margin
        padded = _pad_for_network(image, self.frame_stride, m)
        small = F.avg_pool2d(padded, s)
        out = self.transform.logits(small, gammas, betas)
        if skip is not None:
            out = out + skip[:, :, None, None] * input_logit(small)
        change = F.interpolate(torch.sigmoid(out) - small, scale_factor=s, mode="bilinear",
                               align_corners=False)
        # the change cropped to the frame, then added: one add over the frame's pixels only
        return (image + change[..., m:m + h, m:m + w]).clamp(0.0, 1.0)

    @property
    def frame_stride(self) -> int:
        """The network's stride in the frame's pixels."""
        return self.transform.stride * self.transform.spec.input_scale

    @property
    def frame_margin(self) -> int:
        """The reflected border in the frame's pixels."""
        return self.transform.margin * self.transform.spec.input_scale

    def _stylize(self, image, gammas, betas, skip):
        """T on the frame as given: reflected margin, the layers, crop, input skip, sigmoid."""
        h, w = image.shape[-2:]
        m = self.transform.margin
        out = self.transform.logits(_pad_for_network(image, self.transform.stride, m), gammas,
                                    betas)[..., m:m + h, m:m + w]
        if skip is not None:  # after the crop: the skip and sigmoid touch only the frame's pixels
            out = out + skip[:, :, None, None] * input_logit(image)
        return torch.sigmoid(out)

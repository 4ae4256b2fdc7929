"""The model contract: the tensors an exported model takes and returns, and what it says about
itself.

One torch-free home, so that the trainer that writes the description, the exporter that embeds
it and every engine, command and report that reads it agree by construction. `ModelInfo` is the
description: one JSON object, stored in a checkpoint's `meta` and in an exported model's ONNX
metadata under META_KEY (and in a TensorRT engine's sidecar).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

# Graph inputs and output. `style` exists only in multi-style models.
IMAGE = "image"  # uint8 BGR N×H×W×3
ALPHA = "alpha"  # float32 N×A, one weight per component
STYLE = "style"  # float32 N×K style mixture
STYLIZED = "stylized"  # uint8 BGR N×H×W×3

META_KEY = "rtstyle"  # ONNX metadata_props key holding ModelInfo's JSON
SCHEMA = "rtstyle-onnx-1"  # the JSON's layout; every export so far carries this one
DEFAULT_RANGE = (0.0, 1.0)  # what a slider spans unless the model says otherwise


@dataclass
class Component:
    """One α component: raising it weights one VGG layer's loss more.

    Named `kind:layer` (`style:relu3_1`) in the graph's metadata; users type the layer alone.
    """

    kind: str  # "content" or "style"
    layer: str
    default: float = 0.5
    range: tuple[float, float] = DEFAULT_RANGE

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.layer}"

    @classmethod
    def parse(cls, name: str, default: float = 0.5, value_range=None) -> Component:
        """From 'kind:layer'; a bare layer name is a style layer (what users type)."""
        kind, sep, layer = name.partition(":")
        if not sep:
            kind, layer = "style", name
        return cls(kind, layer, float(default), _range(value_range))

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "layer": self.layer,
                "default": float(self.default), "range": [float(v) for v in self.range]}

    @classmethod
    def from_dict(cls, d: dict) -> Component:
        # kind and layer are derived from the name; the stored ones, when present, agree.
        c = cls.parse(d["name"], d.get("default", 0.5), d.get("range"))
        return cls(d.get("kind") or c.kind, d.get("layer") or c.layer, c.default, c.range)


def _range(value_range) -> tuple[float, float]:
    low, high = DEFAULT_RANGE if value_range is None else value_range
    return float(low), float(high)


def component_names(style_layers, content_layers=(), alpha_content: bool = False) -> list[str]:
    """The α names a network over these layers takes: content components first, if any."""
    names = [Component("style", n).name for n in style_layers]
    if alpha_content:
        names = [Component("content", n).name for n in content_layers] + names
    return names


@dataclass
class ModelInfo:
    """What a model is and how it was trained: enough to run it, label its sliders, reproduce
    its losses in evaluation and key an engine cache.

    Fields a checkpoint does not know yet (width, opset, precision, stride, margin, min_side,
    graph_sha256) are None until export fills them in. Keys this version does not know are
    kept in `extra` and written back, so that reading and rewriting loses nothing.
    """

    components: list[Component]
    style_names: list[str]
    content_layers: list[str] = field(default_factory=list)
    style_layers: list[str] = field(default_factory=list)
    # losses: a fixed content weight (or the content sliders), the slider → weight curve (linear,
    # or exp over alpha_range decades reaching style_top at 1), the pixel term that makes α = 0
    # the photo (identity), each layer's pull to the photo's own Gram (anchor), trained-in
    # temporal stability, and how the losses were normalised (`fixed`: divided by loss_scales)
    content_weight: float | None = None
    alpha_curve: str | None = "linear"
    alpha_range: float | None = None
    style_top: float | None = 1.0
    identity_weight: float | None = 0.0
    anchor_weight: float | None = 0.0
    stability_weight: float | None = 0.0
    stability_motion: str | None = None  # shift or affine (train/stability.py)
    loss_norm: str | None = "plain"
    loss_scales: list | None = None
    # the network and its training
    preset: str | None = None
    width: float | None = None  # the preset's channel multiplier
    train_size: int | None = None
    steps: int | None = None
    init_steps: int | None = None  # steps behind a warm start (None: not recorded)
    trained_with: str | None = None  # rtstyle version of the training run
    version: str | None = None  # rtstyle version that wrote this description
    # the exported graph
    opset: int | None = None
    precision: str | None = None
    stride: int | None = None
    margin: int | None = None  # reflected border added before T, cropped after (px)
    min_side: int | None = None
    graph_sha256: str | None = None
    format: str = SCHEMA
    extra: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ views the runtime uses
    @property
    def alpha_names(self) -> list[str]:
        return [c.name for c in self.components]

    @property
    def alpha_defaults(self) -> list[float]:
        return [c.default for c in self.components]

    @property
    def alpha_ranges(self) -> list[tuple[float, float]]:
        return [c.range for c in self.components]

    @property
    def kinds(self) -> list[str]:
        return [c.kind for c in self.components]

    @property
    def num_alpha(self) -> int:
        return len(self.components)

    @property
    def num_styles(self) -> int:
        return len(self.style_names)

    @property
    def input_names(self) -> list[str]:
        """The graph's inputs, in order."""
        return [IMAGE, ALPHA] + [STYLE] * (self.num_styles > 1)

    def with_defaults(self, defaults) -> ModelInfo:
        """The same model with the sliders starting elsewhere."""
        comps = [dataclasses.replace(c, default=float(v))
                 for c, v in zip(self.components, defaults, strict=True)]
        return dataclasses.replace(self, components=comps)

    # ------------------------------------------------------------------------------- JSON
    def to_dict(self) -> dict:
        d = {"alpha": [c.to_dict() for c in self.components]}
        for f in dataclasses.fields(self):
            if f.name not in ("components", "extra"):
                value = getattr(self, f.name)
                d[f.name] = list(value) if isinstance(value, tuple) else value
        return {**self.extra, **d}

    @classmethod
    def from_dict(cls, d: dict) -> ModelInfo:
        """Read an exported model's description, or a checkpoint's (older checkpoints list α as
        alpha_names / alpha_defaults / alpha_ranges and call the training version `version`)."""
        d = dict(d)
        if "alpha" in d:
            components = [Component.from_dict(c) for c in d.pop("alpha")]
        else:  # a checkpoint's flat lists
            names, defaults = d.pop("alpha_names"), d.pop("alpha_defaults")
            ranges = d.pop("alpha_ranges", None) or [None] * len(names)
            components = [Component.parse(n, v, r) for n, v, r in zip(names, defaults, ranges)]
            d.setdefault("trained_with", d.get("version"))
        known = {f.name for f in dataclasses.fields(cls)} - {"components", "extra"}
        values = {k: d.pop(k) for k in list(d) if k in known}
        for key in ("style_names", "content_layers", "style_layers"):
            if key in values:
                values[key] = list(values[key])
        values.setdefault("style_names", [])
        return cls(components=components, **values, extra=d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelInfo:
        return cls.from_dict(json.loads(text))

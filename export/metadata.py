"""The description an exported model carries: one JSON object under metadata_props["rtstyle"].

The runtime, the HUD and the TensorRT engine cache read everything they need from here (α
names, defaults and ranges, styles, training details), so a .onnx file stands alone. The graph
hash identifies the network itself, independent of the metadata around it, and keys the engine
cache.
"""

from __future__ import annotations

import hashlib
import json

import onnx

from rt_style import __version__
from rt_style.engine import META_KEY

FORMAT = "rtstyle-onnx-1"


def _component(name: str, default: float, value_range) -> dict:
    kind, _, layer = name.partition(":")
    return {"name": name, "kind": kind, "layer": layer, "default": float(default),
            "range": [float(v) for v in value_range]}


def describe(model, meta: dict, *, opset: int, min_side: int) -> dict:
    """Metadata for a model exported from a checkpoint's StyleNet and its meta."""
    return {
        "format": FORMAT,
        "alpha": [_component(*c) for c in zip(meta["alpha_names"], meta["alpha_defaults"],
                                               meta["alpha_ranges"])],
        "style_names": list(meta["style_names"]),
        "content_layers": list(meta["content_layers"]),
        "style_layers": list(meta["style_layers"]),
        "content_weight": meta.get("content_weight"),
        # how a slider maps to its loss weight in training (linear, or exp over alpha_range,
        # reaching style_top at 1), and the weight of the pixel term that makes α = 0 the photo
        "alpha_curve": meta.get("alpha_curve", "linear"),
        "alpha_range": meta.get("alpha_range"),
        "style_top": meta.get("style_top", 1.0),
        "identity_weight": meta.get("identity_weight", 0.0),
        "anchor_weight": meta.get("anchor_weight", 0.0),  # each layer's pull to the photo's Gram
        "stability_weight": meta.get("stability_weight", 0.0),  # issue 16: trained-in stability
        # how the losses were normalised; `fixed` divides by these per style × layer sizes
        "loss_norm": meta.get("loss_norm", "plain"),
        "loss_scales": meta.get("loss_scales"),
        "preset": meta["preset"],
        "width": model.width,
        "train_size": meta["train_size"],
        "steps": meta["steps"],
        "init_steps": meta.get("init_steps") or 0,
        "trained_with": meta["version"],
        "version": __version__,
        "opset": opset,
        "precision": "fp32",
        "stride": model.transform.stride,
        "min_side": min_side,
    }


def graph_hash(proto: onnx.ModelProto) -> str:
    """SHA-256 of the serialised graph (weights and nodes; not the metadata)."""
    return hashlib.sha256(proto.graph.SerializeToString(deterministic=True)).hexdigest()


def embed(proto: onnx.ModelProto, info: dict, **changes) -> onnx.ModelProto:
    """Write `info` (updated with `changes` and the graph hash) into the model's metadata."""
    info = {**info, **changes, "graph_sha256": graph_hash(proto)}
    props = {p.key: p.value for p in proto.metadata_props}
    props[META_KEY] = json.dumps(info, sort_keys=True)
    del proto.metadata_props[:]
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name, proto.producer_version = "rtstyle", __version__
    return proto


def read(proto: onnx.ModelProto) -> dict | None:
    """The rtstyle metadata of a model, or None if it has none."""
    for p in proto.metadata_props:
        if p.key == META_KEY:
            return json.loads(p.value)
    return None

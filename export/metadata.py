"""The description an exported model carries: rt_style.contract's ModelInfo, as JSON under the
ONNX metadata key, so that a .onnx file stands alone.

The runtime, the HUD and the TensorRT engine cache read everything they need from it (α names,
defaults and ranges, styles, training details). The graph hash identifies the network itself,
independent of the metadata around it, and keys the engine cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import onnx

from rt_style import __version__
from rt_style.contract import META_KEY, ModelInfo


def describe(model, info: ModelInfo, *, opset: int, min_side: int) -> ModelInfo:
    """A checkpoint's description, completed with what only the exported graph knows, and the
    network itself (so `rtstyle train --init MODEL.onnx` rebuilds it exactly)."""
    return dataclasses.replace(
        info, width=model.width, stride=model.frame_stride, margin=model.frame_margin,
        min_side=min_side, opset=opset,
        precision="fp32", init_steps=info.init_steps or 0,
        trained_with=info.trained_with or info.version, version=__version__,
        extra={**info.extra, "architecture": model.architecture()})


def graph_hash(proto: onnx.ModelProto) -> str:
    """SHA-256 of the serialised graph (weights and nodes; not the metadata)."""
    return hashlib.sha256(proto.graph.SerializeToString(deterministic=True)).hexdigest()


def embed(proto: onnx.ModelProto, info: ModelInfo, **changes) -> onnx.ModelProto:
    """Write `info` (updated with `changes` and the graph hash) into the model's metadata."""
    info = dataclasses.replace(info, **changes, graph_sha256=graph_hash(proto))
    props = {p.key: p.value for p in proto.metadata_props}
    props[META_KEY] = info.to_json()
    del proto.metadata_props[:]
    for key, value in props.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name, proto.producer_version = "rtstyle", __version__
    return proto


def read(proto: onnx.ModelProto) -> dict | None:
    """The rtstyle metadata of a model as stored, or None if it has none
    (ModelInfo.from_dict reads it)."""
    for p in proto.metadata_props:
        if p.key == META_KEY:
            return json.loads(p.value)
    return None

"""rt_style.contract: one description of a model for the trainer, the exporter and the runtime.

It must read what every bundled model and older export or checkpoint carries, name the graph's
tensors as the graph does, and keep the runtime free of torch. No torch needed here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rt_style.contract import (
    ALPHA,
    IMAGE,
    META_KEY,
    STYLE,
    STYLIZED,
    Component,
    ModelInfo,
    component_names,
)
from rt_style.engine import read_info
from rt_style.errors import UserError
from tests.conftest import ROOT

BUNDLED = sorted((ROOT / "rt_style" / "models").glob("*.onnx"))

# The first bundled model's metadata, verbatim (classics at commit dd0ea61, before the slider
# top, identity, anchor, stability, loss-norm and warm-start settings were recorded).
OLD_EXPORT = json.loads(
    '{"alpha": [' + ", ".join(
        f'{{"default": 0.5, "kind": "style", "layer": "{n}", "name": "style:{n}", '
        '"range": [0.0, 1.0]}' for n in ("relu1_1", "relu2_1", "relu3_1", "relu4_1")) +
    '], "alpha_curve": "linear", "alpha_range": 100.0, "content_layers": ["relu2_2"], '
    '"content_weight": 1.0, "format": "rtstyle-onnx-1", "graph_sha256": '
    '"778360f9d5311a7a129f7f6e3586280ea6185d08e422ef5cde0d1683f063adeb", "min_side": 12, '
    '"opset": 18, "precision": "fp32", "preset": "fast", "steps": 1454, "stride": 4, '
    '"style_layers": ["relu1_1", "relu2_1", "relu3_1", "relu4_1"], "style_names": '
    '["vangogh_starry_night_1889", "munch_the_scream_1893", "picabia_udnie_1913"], '
    '"train_size": 256, "trained_with": "0.1.0", "version": "0.1.0", "width": 1.0}')
# A checkpoint's meta before ModelInfo: α as three flat lists, the training version as version.
OLD_CHECKPOINT = {
    "alpha_names": ["content:relu2_2", "style:relu1_1"], "alpha_defaults": [0.25, 0.75],
    "alpha_ranges": [[0.0, 1.0], [0.0, 2.0]], "style_names": ["starry"],
    "content_layers": ["relu2_2"], "style_layers": ["relu1_1"], "content_weight": 1.0,
    "preset": "fast", "train_size": 160, "steps": 40, "version": "0.1.0",
}


def _raw_meta(path: Path) -> dict:
    """The JSON a model stores, read past ModelInfo (ONNX Runtime's view of the metadata)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return json.loads(session.get_modelmeta().custom_metadata_map[META_KEY])


def test_components_parse_kind_and_layer():
    c = Component.parse("style:relu3_1", 0.25)
    assert (c.kind, c.layer, c.default, c.range, c.name) == (
        "style", "relu3_1", 0.25, (0.0, 1.0), "style:relu3_1")
    assert Component.parse("content:relu2_2").kind == "content"
    assert Component.parse("relu4_1").name == "style:relu4_1"  # what users type: a style layer
    d = Component.parse("content:relu2_2", 0.5, [0, 2]).to_dict()
    assert d == {"name": "content:relu2_2", "kind": "content", "layer": "relu2_2",
                 "default": 0.5, "range": [0.0, 2.0]}
    assert Component.from_dict(d) == Component("content", "relu2_2", 0.5, (0.0, 2.0))
    assert component_names(["relu1_1"], ["relu2_2"], alpha_content=True) == [
        "content:relu2_2", "style:relu1_1"]


def test_model_info_json_round_trip():
    info = ModelInfo(components=[Component("content", "relu2_2", 0.3, (0.0, 2.0)),
                                 Component("style", "relu1_1", 0.7)],
                     style_names=["a", "b"], content_layers=["relu2_2"],
                     style_layers=["relu1_1"], content_weight=0.5, alpha_curve="exp",
                     alpha_range=100.0, style_top=2.0, identity_weight=1.0, anchor_weight=0.5,
                     stability_weight=0.1, loss_norm="fixed", loss_scales=[[1.0, 2.0]],
                     preset="fast", width=16, train_size=160, steps=10, init_steps=5,
                     trained_with="0.1.0", version="0.1.0", opset=18, precision="fp16",
                     stride=4, min_side=5, graph_sha256="cd" * 32,
                     extra={"from_a_newer_rtstyle": [1, 2]})
    assert ModelInfo.from_json(info.to_json()) == info
    assert ModelInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    d = info.to_dict()
    assert d["from_a_newer_rtstyle"] == [1, 2] and "extra" not in d and "components" not in d
    assert info.alpha_names == ["content:relu2_2", "style:relu1_1"]
    assert info.kinds == ["content", "style"] and info.input_names == [IMAGE, ALPHA, STYLE]
    moved = info.with_defaults([0.0, 1.0])
    assert moved.alpha_defaults == [0.0, 1.0] and info.alpha_defaults == [0.3, 0.7]


def test_reads_older_exports_and_checkpoints():
    old = ModelInfo.from_dict(OLD_EXPORT)
    assert old.alpha_names == ["style:relu1_1", "style:relu2_1", "style:relu3_1",
                               "style:relu4_1"]
    assert (old.alpha_curve, old.anchor_weight, old.loss_norm, old.init_steps) == (
        "linear", 0.0, "plain", None)  # settings it predates read as what it was trained with
    assert {k: v for k, v in old.to_dict().items() if k in OLD_EXPORT} == OLD_EXPORT
    ck = ModelInfo.from_dict(OLD_CHECKPOINT)
    assert ck.alpha_names == OLD_CHECKPOINT["alpha_names"]
    assert ck.alpha_defaults == [0.25, 0.75] and ck.alpha_ranges == [(0.0, 1.0), (0.0, 2.0)]
    assert ck.kinds == ["content", "style"] and ck.trained_with == "0.1.0"
    assert ModelInfo.from_dict(ck.to_dict()) == ck  # and it is written in the one layout


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_reads_every_bundled_model(path):
    raw = _raw_meta(path)
    info = read_info(path)
    written = info.to_dict()
    assert {k: written[k] for k in raw} == raw  # nothing lost or changed on the way
    assert info.alpha_names == [a["name"] for a in raw["alpha"]]
    assert [(c.kind, c.layer) for c in info.components] == [
        (a["kind"], a["layer"]) for a in raw["alpha"]]
    assert info.style_names and info.preset and info.graph_sha256


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_tensor_names_are_the_graphs(path):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    info = read_info(path)
    assert [i.name for i in session.get_inputs()] == info.input_names
    assert [o.name for o in session.get_outputs()] == [STYLIZED]


def test_trained_and_exported_models_share_the_names(tiny_onnx, tiny_onnx_multi):
    for path in (tiny_onnx, tiny_onnx_multi):
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == read_info(path).input_names


def test_read_info_refuses_what_is_not_a_model(tmp_path):
    with pytest.raises(UserError, match="model not found"):
        read_info(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a valid ONNX model"):
        read_info(junk)


def test_runtime_imports_no_torch_and_the_engine_no_registry():
    """The contract and the libraries under the commands stay torch-free; the engine no longer
    reaches up into name resolution (the old models ↔ engine import loop)."""
    code = ("import sys, rt_style.engine; loop = 'rt_style.registry' in sys.modules or "
            "'rt_style.models' in sys.modules; "
            "import rt_style.contract, rt_style.registry, rt_style.models, rt_style.imageio, "
            "rt_style.image, rt_style.atomic, rt_style.scaling; "
            "print(loop, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.split() == ["False", "False"]

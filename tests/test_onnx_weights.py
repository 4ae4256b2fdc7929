"""Training from an exported model: its weights come back exactly, old exports included."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from rt_style.engine import read_info
from rt_style.errors import UserError
from tests.conftest import ROOT, run_cli, tiny_config
from train import checkpoint as ckpt_io
from train.model import PRESETS
from train.onnx_weights import checkpoint_from_onnx
from train.trainer import Trainer

BUNDLED = sorted((ROOT / "rt_style" / "models").glob("*.onnx"))


def _without_architecture(src, dst):
    """A copy of an export as rtstyle wrote them before exports recorded their network."""
    proto = onnx.load(str(src))
    for p in proto.metadata_props:
        if p.key == "rtstyle":
            meta = json.loads(p.value)
            meta.pop("architecture")
            p.value = json.dumps(meta)
    onnx.save(proto, str(dst))
    return dst


@pytest.mark.parametrize("old_export", [False, True], ids=["export", "export-before-0.1"])
def test_export_gives_back_the_checkpoint_weights(tiny_onnx, tmp_path, old_export):
    path = _without_architecture(tiny_onnx, tmp_path / "old.onnx") if old_export else tiny_onnx
    ck = checkpoint_from_onnx(path)
    trained = ckpt_io.load(tiny_onnx.parent)
    assert ck["architecture"] == trained["architecture"]
    assert ck["step"] == trained["step"]
    assert ck["model"].keys() == trained["model"].keys()
    for key, want in trained["model"].items():  # the upsampling convs via their 4 phases
        assert torch.allclose(ck["model"][key], want, atol=1e-5), key


@pytest.mark.parametrize("taps", ["nearest", "bilinear"])
def test_upsampling_kernels_come_back_from_their_phases(taps):
    """The exporter's phase fold (export.optimize.subpixel_upsampling), undone exactly, and only
    by the upsampling that made it."""
    from export.optimize import _BILINEAR_PHASE, _PHASE
    from train.onnx_weights import PHASE_TAPS, _unphase

    phase = {"nearest": _PHASE, "bilinear": _BILINEAR_PHASE}[taps]
    assert np.array_equal(np.array(PHASE_TAPS[taps]), np.array(phase))  # train's = export's
    weight = np.random.default_rng(0).normal(size=(5, 3, 3, 3)).astype(np.float32)
    phases = np.zeros((5, 2, 2, 3, 3, 3))
    for dy in range(2):
        for dx in range(2):
            phases[:, dy, dx] = np.einsum("ij,ocjk,lk->ocil", phase[dy], weight, phase[dx])
    phases = phases.reshape(20, 3, 3, 3).astype(np.float32)
    assert np.allclose(_unphase(phases), weight, atol=1e-5)
    assert _unphase(phases + np.float32(0.01) * (np.arange(phases.size) % 7).reshape(
        phases.shape)) is None  # no upsampling of ours: refused, not guessed


# fast (the default, nearest) and fast-smooth (bilinear) in the default run; the rest with -m slow
EVERY_PRESET = [p if p in ("fast", "fast-smooth") else pytest.param(p, marks=pytest.mark.slow)
                for p in sorted(PRESETS)]


@pytest.mark.parametrize("preset", EVERY_PRESET, ids=str)
def test_every_preset_comes_back_from_its_export(preset, photo_dir, style_images, tmp_path):
    from export.onnx_export import export_checkpoint

    Trainer(tiny_config(photo_dir, style_images, tmp_path, steps=1, width=0.25, preset=preset,
                        crop_size=48), log=lambda _: None).fit()
    export_checkpoint(tmp_path, tmp_path / "m.onnx", sizes=[(7, 13)], log=lambda _: None)
    ck, trained = checkpoint_from_onnx(tmp_path / "m.onnx"), ckpt_io.load(tmp_path)
    assert ck["architecture"] == trained["architecture"]
    for key, want in trained["model"].items():
        assert torch.allclose(ck["model"][key], want, atol=1e-5), key


def test_init_from_an_export_starts_as_that_model(tiny_onnx, photo_dir, style_images, tmp_path):
    """`rtstyle train --init MODEL.onnx`: the new run's network is the exported one, and the
    steps behind it are counted."""
    cfg = tiny_config(photo_dir, style_images[:1], tmp_path, steps=1, width=0.5,
                      init=str(tiny_onnx))
    trainer = Trainer(cfg, log=lambda _: None)
    old, _ = ckpt_io.load_model(tiny_onnx.parent)
    x, alpha = torch.rand(1, 3, 40, 56), torch.full((1, 4), 0.5)
    with torch.no_grad():
        assert torch.allclose(trainer.model(x, alpha), old(x, alpha), atol=1e-5)
    assert trainer.init_steps == ckpt_io.load(tiny_onnx.parent)["step"]


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_model_rebuilds_in_pytorch(path):
    """A bundled model rebuilt from its weights (classics was exported before exports recorded
    their network) gives ONNX Runtime's picture to within rounding, on every style."""
    import onnxruntime as ort

    from export.graph import ExportGraph
    from export.onnx_export import set_margin
    from train.model import StyleNet

    ck = checkpoint_from_onnx(path)
    model = StyleNet.from_architecture(ck["architecture"]).eval()
    model.load_state_dict(ck["model"])
    set_margin(model, read_info(path).margin)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    image = np.random.default_rng(0).integers(0, 256, (1, 60, 84, 3), np.uint8)
    alpha = np.float32([[0.2, 0.9, 0.5, 1.0]])
    for style in np.eye(len(read_info(path).style_names), dtype=np.float32):
        feeds = {"image": image, "alpha": alpha, "style": style[None]}
        feeds = {i.name: feeds[i.name] for i in session.get_inputs()}  # one style: no input
        want = session.run(None, feeds)[0]
        with torch.no_grad():
            got = ExportGraph(model)(*(torch.from_numpy(v) for v in feeds.values())).numpy()
        assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_exports_it_cannot_read_back_say_why(tiny_onnx, tmp_path):
    cpu = tmp_path / "cpu.onnx"
    from export.onnx_export import export_checkpoint

    export_checkpoint(tiny_onnx.parent, cpu, sizes=[(7, 13)], cpu_only=True, log=lambda _: None)
    with pytest.raises(UserError, match="do not fit.*--cpu-only"):
        checkpoint_from_onnx(cpu)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(UserError, match="not a readable ONNX model"):
        checkpoint_from_onnx(junk)


def test_cli_init_from_a_broken_export_is_one_line(tmp_path, photo_dir, style_images):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    r = run_cli("train", "-c", photo_dir, "-s", style_images[0], "-o", tmp_path / "run",
                "--init", junk, "--steps", "1", "--crop-size", "32", "--style-size", "32")
    assert r.returncode != 0
    assert "not a readable ONNX model" in r.stderr and "Traceback" not in r.stderr


def test_without_onnx_installed_init_says_which_extra(tiny_onnx, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnx", None)  # import fails
    monkeypatch.delitem(sys.modules, "train.onnx_weights")
    with pytest.raises(UserError, match=r"needs the onnx package: .*\[export\]"):
        ckpt_io.load(tiny_onnx)

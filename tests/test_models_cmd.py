"""`rtstyle models`: the listing of bundled models, its folder override, and no torch."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

from rt_style import registry
from rt_style.cli import main
from rt_style.engine import load_engine
from tests.conftest import ROOT


def rtstyle(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture
def shelf(tmp_path, monkeypatch, tiny_onnx, tiny_onnx_multi):
    """A models folder with a single-style default (with a card) and a two-style model."""
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(tiny_onnx, d / f"{registry.DEFAULT_MODEL}.onnx")
    shutil.copy(tiny_onnx_multi, d / "blend.onnx")
    (d / f"{registry.DEFAULT_MODEL}.md").write_text(
        "\n# Test card: stripes, painted small\n\nMore text.\n")
    monkeypatch.setenv(registry.MODELS_ENV, str(d))
    return d


def _block(text: str, name: str) -> str:
    """The lines of one model's entry."""
    blocks = [b for b in text.split("\n\n") if b.startswith(name)]
    assert len(blocks) == 1, text
    return blocks[0]


def test_lists_models_styles_components_and_default(shelf, capsys):
    code, out, err = rtstyle(capsys, "models")
    assert code == 0, err
    assert str(shelf) in out
    default = _block(out, registry.DEFAULT_MODEL)
    assert default.splitlines()[0].startswith(f"{registry.DEFAULT_MODEL}  (default)")
    assert "Test card: stripes, painted small" in default and "#" not in default
    assert "styles: style0" in default and "fast preset" in default
    assert re.search(r"—  \d+(\.\d)? (MB|kB)", default)
    for layer, what in (("relu1_1", "fine colour and grain"), ("relu2_1", "small brush texture"),
                        ("relu3_1", "strokes and patterns"),
                        ("relu4_1", "large motifs and structure")):
        line = next(li for li in default.splitlines() if li.strip().startswith(layer))
        assert "style" in line and "0.65" in line and "0–1" in line and what in line
    assert "content (relu2_2): fixed weight 1;" in default
    blend = _block(out, "blend")
    assert "(default)" not in blend and "styles: style0, style1" in blend
    assert f"no --engine: {registry.DEFAULT_MODEL}" in out


def test_folder_override_reaches_every_front_end(shelf):
    assert registry.resolve(None) == shelf / f"{registry.DEFAULT_MODEL}.onnx"
    assert load_engine(registry.resolve("blend")).style_names == ["style0", "style1"]


def test_default_falls_back_to_the_first_and_bad_files_are_reported(shelf, capsys):
    (shelf / f"{registry.DEFAULT_MODEL}.onnx").unlink()
    (shelf / "broken.onnx").write_bytes(b"not onnx")
    code, out, _ = rtstyle(capsys, "models")
    assert code == 0
    assert "cannot be read" in _block(out, "broken")
    assert _block(out, "blend").startswith("blend  (default)")  # the first by name
    assert "no --engine: blend" in out


def test_a_damaged_model_that_sorts_first_is_never_the_default(shelf, capsys):
    (shelf / f"{registry.DEFAULT_MODEL}.onnx").unlink()
    (shelf / "aaa.onnx").write_bytes(b"not onnx")  # sorts before blend
    code, out, _ = rtstyle(capsys, "models")
    assert code == 0
    assert _block(out, "aaa").startswith("aaa  —") and "cannot be read" in _block(out, "aaa")
    assert _block(out, "blend").startswith("blend  (default)")
    assert registry.resolve(None) == shelf / "blend.onnx"
    (shelf / "blend.onnx").write_bytes(b"damaged too")
    code, out, _ = rtstyle(capsys, "models")
    assert code == 0 and "(default)" not in out and "none of them can be read" in out
    photo = shelf / "x.png"  # a real input, so that the model is what fails
    cv2.imwrite(str(photo), np.full((8, 8, 3), 128, np.uint8))
    code, _, err = rtstyle(capsys, "image", str(photo), "-o", str(shelf / "y.png"))
    assert code == 2 and "none of the models in" in err


def test_empty_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(registry.MODELS_ENV, str(tmp_path))
    code, out, _ = rtstyle(capsys, "models")
    assert code == 0 and out.startswith("no bundled models in") and "--engine" in out


def test_effect_words():
    assert registry.effect({"kind": "style", "layer": "relu1_1"}) == "more fine colour and grain"
    assert "edges" in registry.effect({"kind": "content", "layer": "relu2_2"})
    assert "objects" in registry.effect({"kind": "content", "layer": "relu4_2"})
    assert "relu9_9" in registry.effect({"kind": "style", "layer": "relu9_9"})


def test_models_command_does_not_import_torch(shelf):
    code = ("import atexit, sys; atexit.register(lambda: print('torch' in sys.modules)); "
            "from rt_style.cli import main; main(['models'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "blend" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "False"

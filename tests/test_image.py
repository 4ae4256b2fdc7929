"""`rtstyle image`: EXIF orientation, grey / RGBA / 16-bit inputs, sheets, atomic writes."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from rt_style.cli import main
from rt_style.imageio import load_image
from rt_style.sheet import font
from tests.conftest import run_cli


def rtstyle(capsys, *args):
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (20, 40, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: stored sideways, shown rotated 90° clockwise
    Image.fromarray(rgb).save(d / "turned.jpg", exif=exif)
    Image.fromarray(rgb[..., 0]).save(d / "grey.png")
    rgba = np.dstack([rgb, np.tile(np.linspace(0, 255, 40, dtype=np.uint8), (20, 1))])
    Image.fromarray(rgba).save(d / "rgba.png")
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(d / "grey16.png")
    Image.fromarray(rgb).save(d / "photo.png")
    cv2.imwrite(str(d / "rgb16.png"), rgb[..., ::-1].astype(np.uint16) * 257)  # 48-bit PNG
    return d


def test_exif_orientation_is_applied(images, tiny_onnx, tmp_path, capsys):
    rgb, alpha, _ = load_image(images / "turned.jpg")
    assert rgb.size == (20, 40) and alpha is None
    code, _, err = rtstyle(capsys, "image", images / "turned.jpg", "-o", tmp_path / "o.png",
                           "--engine", tiny_onnx)
    assert code == 0, err
    assert Image.open(tmp_path / "o.png").size == (20, 40)


def test_grey_rgba_and_16bit_inputs(images, tiny_onnx, tmp_path, capsys):
    grey16, _, _ = load_image(images / "grey16.png")
    grey8, _, _ = load_image(images / "grey.png")
    assert np.abs(np.asarray(grey16, int) - np.asarray(grey8, int)).max() <= 1
    rgb16, _, _ = load_image(images / "rgb16.png")
    assert np.abs(np.asarray(rgb16, int) - np.asarray(load_image(images / "photo.png")[0],
                                                     int)).max() <= 1
    out = tmp_path / "out"
    code, _, err = rtstyle(capsys, "image", images / "grey.png", images / "grey16.png",
                           images / "rgba.png", "-o", out, "--engine", tiny_onnx,
                           "--alpha", "relu1_1=1")
    assert code == 0, err
    assert Image.open(out / "grey.png").mode == "RGB"
    assert Image.open(out / "grey16.png").mode == "RGB"
    kept = Image.open(out / "rgba.png")
    assert kept.mode == "RGBA" and kept.size == (40, 20)
    src_alpha = np.asarray(Image.open(images / "rgba.png"))[..., 3]
    assert np.array_equal(np.asarray(kept)[..., 3], src_alpha)
    code, _, err = rtstyle(capsys, "image", images / "rgba.png", "-o", tmp_path / "flat.jpg",
                           "--engine", tiny_onnx)
    assert code == 0 and "cannot hold transparency" in err
    assert Image.open(tmp_path / "flat.jpg").mode == "RGB"


def test_scale_size_and_overwrite(images, tiny_onnx, tmp_path, capsys):
    out = tmp_path / "o.png"
    code, _, err = rtstyle(capsys, "image", images / "photo.png", "-o", out, "--engine",
                           tiny_onnx, "--size", "x10")
    assert code == 0, err
    assert Image.open(out).size == (20, 10)
    code, _, err = rtstyle(capsys, "image", images / "photo.png", "-o", out, "--engine",
                           tiny_onnx, "--scale", "2")
    assert code == 2 and "exists: pass --force" in err
    code, _, err = rtstyle(capsys, "image", images / "photo.png", "-o", out, "--engine",
                           tiny_onnx, "--scale", "2", "--force")
    assert code == 0, err
    assert Image.open(out).size == (40, 20)  # stylized at 80×40, given back at the input's size
    code, _, err = rtstyle(capsys, "image", images / "photo.png", "-o", out, "--engine",
                           tiny_onnx, "--scale", "2", "--keep-scaled-size", "--force")
    assert code == 0, err
    assert Image.open(out).size == (80, 40)
    code, _, err = rtstyle(capsys, "image", images / "rgba.png", "-o", out, "--engine",
                           tiny_onnx, "--size", "20x", "--scale", "0.5", "--force")
    assert code == 0, err
    kept = Image.open(out)
    assert kept.size == (20, 10) and kept.mode == "RGBA"  # the alpha channel at the output size
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]  # no temporary files


def test_scale_stylizes_at_the_reduced_size(images, tiny_onnx, tmp_path, capsys, monkeypatch):
    from rt_style.engine import Engine

    seen, run = [], Engine.run

    def spy(self, frames, *args, **kw):
        seen.append(frames.shape)
        return run(self, frames, *args, **kw)

    monkeypatch.setattr(Engine, "run", spy)
    code, _, err = rtstyle(capsys, "image", images / "photo.png", "-o", tmp_path / "o.png",
                           "--engine", tiny_onnx, "--scale", "0.5")
    assert code == 0, err
    assert seen == [(10, 20, 3)] and Image.open(tmp_path / "o.png").size == (40, 20)


def test_sweep_sheet_grid(images, tiny_onnx, tmp_path, capsys):
    out = tmp_path / "sweep.png"
    code, _, err = rtstyle(capsys, "image", images / "photo.png", "-o", out, "--engine",
                           tiny_onnx, "--sweep", "--steps", "6", "--scale", "4")
    assert code == 0, err
    sheet = np.asarray(Image.open(out).convert("L"))
    rows, cols = _grid(sheet, 160, 80)
    assert (rows, cols) == (4, 7)  # one row per α component; the input, then 6 steps


def test_random_sheet_grid(images, tiny_onnx_multi, tmp_path, capsys):
    out = tmp_path / "random.png"
    code, _, err = rtstyle(capsys, "image", images / "photo.png", "-o", out, "--engine",
                           tiny_onnx_multi, "--random", "7", "--seed", "1", "--scale", "4",
                           "--style", "style1")
    assert code == 0, err
    sheet = np.asarray(Image.open(out).convert("L"))
    side = math.ceil(math.sqrt(8))  # the input and 7 stylizations
    assert _grid(sheet, 160, 80) == (side, side)
    again = tmp_path / "again.png"
    rtstyle(capsys, "image", images / "photo.png", "-o", again, "--engine", tiny_onnx_multi,
            "--random", "7", "--seed", "1", "--scale", "4", "--style", "style1")
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(out)))


def _grid(sheet, tw, th):
    """(rows, columns) of tw×th tiles on a white sheet: runs of non-white rows and columns
    at least a tile long."""
    def runs(mask, length):
        count = n = 0
        for m in list(mask) + [False]:
            n = n + 1 if m else 0
            count += n == length
        return count
    busy_rows = (sheet < 250).sum(1) > tw  # rows crossing a tile line, not just text
    busy_cols = (sheet < 250).sum(0) > th
    return runs(busy_rows, th), runs(busy_cols, tw)


def test_font_draws_alpha():
    f, has_alpha = font(12)
    assert f.getlength("α = 0.5") > 0
    if not has_alpha:
        pytest.skip("DejaVu Sans is not installed: labels spell α as 'a'")


@pytest.mark.parametrize("args, message", [
    (["{d}/missing.png", "-o", "{t}/o.png"], "no such file"),
    (["{d}/text.png", "-o", "{t}/o.png"], "cannot read"),
    (["{d}/photo.png", "-o", "{t}/o.xyz"], "cannot write an image to"),
    (["{d}/photo.png", "-o", "{t}/o.png", "--sweep", "--random", "3"], "not both"),
    (["{d}/photo.png", "-o", "{t}/o.png", "--size", "12"], "cannot read size"),
])
def test_errors_are_one_line(args, message, images, tiny_onnx, tmp_path):
    (images / "text.png").write_text("not an image")
    fill = {"d": images, "t": tmp_path}
    r = run_cli("image", *[a.format(**fill) for a in args], "--engine", tiny_onnx)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr
    assert not list(tmp_path.iterdir())

"""Shared fixtures: small generated photo folders and paintings, so tests need no shared data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def smooth_image(rng, h, w):
    """A random image with structure at several scales (a photo-like stand-in)."""
    img = np.zeros((h, w, 3))
    for scale in (4, 16, 64):
        small = rng.uniform(0, 1, (max(2, h // scale), max(2, w // scale), 3))
        img += np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.BICUBIC), dtype=float) / 255.0
    return Image.fromarray((img / 3 * 255).clip(0, 255).astype(np.uint8))


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(6):
        sub = d / ("a" if i % 2 else "b")
        sub.mkdir(exist_ok=True)
        smooth_image(rng, 60 + 7 * i, 80 + 5 * i).save(sub / f"p{i}.{'png' if i % 3 else 'jpg'}")
    (d / "broken.jpg").write_bytes(b"not a jpeg")
    return d


@pytest.fixture(scope="session")
def style_images(tmp_path_factory):
    d = tmp_path_factory.mktemp("styles")
    rng = np.random.default_rng(1)
    paths = []
    for i in range(2):
        stripes = np.zeros((96, 96, 3), np.uint8)
        stripes[:, :, i] = (np.sin(np.arange(96) / (2 + 3 * i)) * 127 + 128).astype(np.uint8)
        stripes[:, :, 2 - i] = rng.integers(0, 255, (96, 96))
        p = d / f"style{i}.png"
        Image.fromarray(stripes).save(p)
        paths.append(p)
    return paths


def tiny_config(photo_dir, styles, out, **kw):
    from train.config import TrainConfig

    base = dict(content=str(photo_dir), styles=[str(s) for s in styles], out=str(out), steps=6,
                crop_size=32, batch_size=2, style_size=48, workers=0, tensorboard=False,
                sample_every=1000, checkpoint_every=1000, log_every=1,
                preset="fast")  # the bundled models' preset (new training defaults to fast-sep)
    base.update(kw)
    return TrainConfig(**base)


def dead_pid() -> int:
    """The id of a process that has ended (for files that killed runs leave behind)."""
    p = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                       capture_output=True, text=True, check=True)
    return int(p.stdout)


def run_cli(*args, timeout=300, env=None):
    """Run `rtstyle …` in a subprocess; returns CompletedProcess with text output."""
    e = dict(os.environ, TQDM_DISABLE="1", PYTHONUNBUFFERED="1")
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "rt_style.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=e)


def _tiny_onnx(photo_dir, styles, folder, **kw):
    """A tiny `fast` model trained a few steps on generated photos and exported to ONNX."""
    from export.onnx_export import export_checkpoint
    from train.trainer import Trainer

    Trainer(tiny_config(photo_dir, styles, folder, steps=3, width=0.5, lr=0.01, style_size=32,
                        **kw), log=lambda _: None).fit()
    path = folder / "tiny.onnx"
    export_checkpoint(folder, path, sizes=[(7, 13), (48, 64)], log=lambda _: None)
    return path


@pytest.fixture(scope="session")
def tiny_onnx(photo_dir, style_images, tmp_path_factory):
    """Path of an exported single-style model (4 α components) for runtime tests."""
    return _tiny_onnx(photo_dir, style_images[:1], tmp_path_factory.mktemp("tiny_onnx"))


@pytest.fixture(scope="session")
def tiny_onnx_multi(photo_dir, style_images, tmp_path_factory):
    """Path of an exported two-style model (styles 'style0', 'style1'), plain loss scales."""
    return _tiny_onnx(photo_dir, style_images, tmp_path_factory.mktemp("tiny_onnx_multi"),
                      loss_norm="plain")  # the running-average normalisation stays covered


def write_silent_audio(path) -> None:
    """A file holding one AAC audio stream and no video: a 'video' input that is not one."""
    import av

    with av.open(str(path), "w") as out:
        a = out.add_stream("aac", rate=48000)
        a.layout = "mono"
        f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                       layout="mono")
        f.sample_rate, f.pts = 48000, 0
        out.mux(a.encode(f))
        out.mux(a.encode())

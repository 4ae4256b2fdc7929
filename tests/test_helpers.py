"""The small shared helpers that exist once: atomic writes, the size parser and the suffix lists
of what our readers take."""

from __future__ import annotations

import os

import av
import numpy as np
import pytest
from PIL import Image

from rt_style.atomic import atomic_output, write_bytes, write_text
from rt_style.errors import UserError
from rt_style.imageio import IMAGE_SUFFIXES, load_image
from rt_style.scaling import parse_size
from rt_style.videoio import VIDEO_SUFFIXES, VideoReader
from tests.conftest import dead_pid

# A muxer and an encoder that this PyAV build has, per suffix a folder of videos may hold.
MUXERS = {".mp4": ("mp4", "mpeg4"), ".mov": ("mov", "mpeg4"), ".m4v": ("mp4", "mpeg4"),
          ".mkv": ("matroska", "mpeg4"), ".webm": ("webm", "libvpx"), ".avi": ("avi", "mpeg4"),
          ".mpg": ("mpeg", "mpeg1video"), ".mpeg": ("mpeg", "mpeg2video"),
          ".ts": ("mpegts", "mpeg2video"), ".mts": ("mpegts", "mpeg2video"),
          ".m2ts": ("mpegts", "mpeg2video"), ".wmv": ("asf", "wmv2"), ".flv": ("flv", "flv"),
          ".3gp": ("3gp", "h263"), ".ogv": ("ogg", "libvpx")}


def test_atomic_writes_replace_whole_files_and_clear_killed_runs_leftovers(tmp_path):
    target = tmp_path / "sub" / "model.onnx"
    write_bytes(target, b"first")  # the folder is made
    stale = tmp_path / "sub" / f".model.{dead_pid()}-0123abcd.part.onnx"
    running = tmp_path / "sub" / f".model.{os.getpid()}-0123abcd.part.onnx"
    for f in (stale, running):
        f.write_bytes(b"half")
    write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, running.name])
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_bytes(b"never seen")
        raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"second"  # the old file stays, the temporary goes
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, running.name])
    write_text(tmp_path / "a.toml", "x = 1\n")
    assert (tmp_path / "a.toml").read_text() == "x = 1\n"
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="not a folder"):
        write_bytes(blocker / "x.onnx", b"")


def test_one_size_parser():
    assert parse_size("640x480") == (640, 480)
    assert parse_size(" 640 × 480 ") == (640, 480)
    assert parse_size("640x") == (640, None) and parse_size("x480") == (None, 480)
    with pytest.raises(UserError, match="needs both sides"):
        parse_size("640x", both=True)
    for bad, message in (("640by480", "cannot read size"), ("0x480", "at least 1 pixel")):
        with pytest.raises(UserError, match=message):
            parse_size(bad)


def test_engine_profile_sizes_use_it(tmp_path, capsys):
    from rt_style.cli import main

    with pytest.raises(SystemExit) as e:
        main(["build-engine", str(tmp_path / "m.onnx"), "--min-size", "640x"])
    assert e.value.code == 2 and "needs both sides" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", IMAGE_SUFFIXES)
def test_every_image_suffix_is_read_by_the_runtime_and_training(suffix, tmp_path):
    from train.data import find_images, load_rgb

    path = tmp_path / f"photo{suffix}"
    Image.new("RGB", (12, 8), (200, 100, 50)).save(path)
    rgb, _, _ = load_image(path)
    assert rgb.size == (12, 8)
    assert find_images(tmp_path) == [path] and load_rgb(path).size == (12, 8)


@pytest.mark.parametrize("suffix", VIDEO_SUFFIXES)
def test_every_video_suffix_is_read(suffix, tmp_path):
    fmt, codec = MUXERS[suffix]
    path = tmp_path / f"clip{suffix}"
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for i in range(10):  # MPEG-TS probing needs more than a few packets
            frame = av.VideoFrame.from_ndarray(np.full((96, 128, 3), 20 * i, np.uint8),
                                               format="bgr24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    reader = VideoReader(path, batch=8, log=lambda _: None)
    frames = np.concatenate([c.frames for c in reader.chunks()])
    reader.close()
    assert frames.shape == (10, 96, 128, 3)


def test_the_python_we_claim_is_the_python_we_need():
    """tomllib (training's configs) arrived in Python 3.11: requires-python, ruff's target and
    CI agree on it."""
    import re
    import tomllib

    from tests.conftest import ROOT

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    low = tuple(map(int, re.fullmatch(r">=(\d+)\.(\d+)", project["project"]["requires-python"])
                    .groups()))
    assert low >= (3, 11)
    assert project["tool"]["ruff"]["target-version"] == f"py{low[0]}{low[1]}"
    assert f"sys.version_info < {low}" in (ROOT / ".ci" / "run").read_text()

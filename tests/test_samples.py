"""The bundled samples and the README's first command: they work from a bare clone, with no
data of one's own and nothing beside the repository."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib

import av
import numpy as np
import pytest
from PIL import Image

from rt_style import samples
from rt_style.cli import main
from tests.conftest import ROOT


def rtstyle(capsys, *args):
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def first_command() -> list[str]:
    """The stylizing half of the README's first command (after the install)."""
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)[1]
    line = next(li for li in block.splitlines() if li.strip() and not li.startswith("#"))
    return shlex.split("rtstyle" + line.split("&& rtstyle", 1)[1])


def test_the_photo_is_packaged_and_the_clip_made_once_into_the_cache(tmp_path, monkeypatch,
                                                                       capsys):
    photo = samples.photo()
    assert min(Image.open(photo).size) >= 256 and photo.stat().st_size < 500_000
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "samples/sample.jpg" in data["package-data"]["rt_style"]
    if shutil.which("git") and (ROOT / ".git").exists():  # the repository keeps no videos
        tracked = subprocess.run(["git", "ls-files", "*.mp4", "*.mov", "*.mkv", "*.webm"],
                                 cwd=ROOT, capture_output=True, text=True, check=True)
        assert tracked.stdout == ""
    monkeypatch.setenv("RTSTYLE_CACHE", str(tmp_path))
    clip = samples.clip()
    assert clip.parent.parent == tmp_path and "making the sample clip" in capsys.readouterr().err
    with av.open(str(clip)) as c:
        kinds = sorted(s.type for s in c.streams)
        seconds = c.duration / av.time_base
        assert c.streams.video[0].frames == 100
    assert kinds == ["audio", "video"] and 3 <= seconds <= 10
    mtime = clip.stat().st_mtime_ns
    assert samples.clip() == clip and clip.stat().st_mtime_ns == mtime  # made once
    assert list(clip.parent.iterdir()) == [clip]  # no temporary left behind


def test_sample_generator_draws_a_moving_scene():
    from rt_style.samples.make_samples import chord, landscape, still_life

    rng = np.random.default_rng(0)
    a, b = landscape(0.0, rng), landscape(1.0, rng)
    assert a.shape == b.shape == (360, 640, 3) and np.abs(a.astype(int) - b).mean() > 5
    assert still_life().shape == (480, 640, 3)
    assert np.abs(chord(1.0)).max() <= 1


def test_video_and_image_sample(tiny_onnx, tmp_path, capsys):
    out = tmp_path / "s.mp4"
    code, _, err = rtstyle(capsys, "video", "--sample", "-o", out, "--engine", tiny_onnx,
                           "--scale", "0.25", "--keep-scaled-size")
    assert code == 0, err
    with av.open(str(out)) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "video"]
        assert c.streams.video[0].frames == 100
    code, _, err = rtstyle(capsys, "image", "--sample", "-o", tmp_path / "s.png", "--engine",
                           tiny_onnx)
    assert code == 0, err
    assert Image.open(tmp_path / "s.png").size == Image.open(samples.PHOTO).size


def _run_first_command(tmp_path, extra=()):
    """In an empty folder, with no ../shared anywhere near it."""
    args = first_command()
    assert args[:2] == ["rtstyle", "video"] and "--sample" in args
    assert not any("shared" in a for a in args)
    r = subprocess.run([sys.executable, "-m", "rt_style.cli", *args[1:], *extra], cwd=tmp_path,
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, TQDM_DISABLE="1"))
    assert r.returncode == 0, r.stderr
    out = tmp_path / args[args.index("-o") + 1]
    with av.open(str(out)) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "video"]
    return out


def test_readme_first_command_works_in_an_empty_folder(tmp_path):
    """The README's command with the bundled default model, at a quarter of the size."""
    _run_first_command(tmp_path, ["--scale", "0.25", "--keep-scaled-size"])


@pytest.mark.slow
def test_readme_first_command_exactly(tmp_path):
    out = _run_first_command(tmp_path)
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (640, 360)


@pytest.mark.slow
def test_make_samples_remakes_them(tmp_path):
    from rt_style.samples.make_samples import main as make

    make(["--out", str(tmp_path)])
    total = sum((tmp_path / n).stat().st_size for n in ("sample.mp4", "sample.jpg"))
    assert total < 1_000_000
    with av.open(str(tmp_path / "sample.mp4")) as c:
        assert c.streams.video[0].frames == 100 and len(c.streams.audio) == 1

"""Bad input to every verb: one line on stderr, exit status 2, no traceback, nothing written or
changed. One table, run in this process (most cases fail before any model loads).

Each case runs in a fresh folder holding every input a case may need (a clip with sound, a
photo, a training run, files that only pretend to be images or videos, ...); the folder's whole
tree (names, sizes, modification times) must be the same afterwards. Outputs a case names
outside it (/proc) cannot be created at all.
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rt_style.cli import COMMANDS, main
from tests.conftest import write_silent_audio
from tests.test_video import make_clip

RUN = "run"  # a training run (checkpoints/last.pt) inside the folder

CASES = {
    "train": [
        ("-c nowhere -s style.png -o out", "content folder not found"),
        ("-c photos -s nowhere.png -o out", "style image not found"),
        ("-c photos -s notimage.png -o out", "cannot read style image"),
        ("-c photos -s bomb.png -o out", "cannot read style image"),
        ("-c photos -s style.png -o out --preset huge", "unknown preset 'huge'"),
        ("-c photos -s style.png -o out --style-layers relu9_9", "relu9_9"),
        ("-c photos -s style.png -o out --crop-size 4000", "larger than every image"),
        ("-c photos -s style.png -o out --alpha-default 0.1,0.2", "alpha_default has 2 values"),
        ("-c photos -s style.png -o blocker/out --crop-size 32", "cannot write to output folder"),
        ("-c photos -s style.png -o /proc/out --crop-size 32", "cannot write to output folder"),
        ("-o out --resume", "checkpoint not found"),
        ("-o out --resume notimage.png", "corrupt or not a checkpoint"),
        ("--config nowhere.toml", "config file not found"),
        ("--config notimage.png", "not valid TOML"),
        ("-c photos -s style.png -o out --steps many", "Invalid value for '--steps'"),
    ],
    "export": [
        ("nowhere.pt -o m.onnx", "checkpoint not found"),
        ("notimage.png -o m.onnx", "corrupt or not a checkpoint"),
        (f"{RUN} -o {RUN}/checkpoints/last.pt", "would overwrite the checkpoint"),
        (f"{RUN}/checkpoints/last.pt -o {RUN}/checkpoints/last.pt",
         "would overwrite the checkpoint"),
        (f"{RUN}/checkpoints/last.pt -o {RUN}/checkpoints/./last.pt",
         "would overwrite the checkpoint"),
        (f"{RUN} -o m.onnx --int8 nowhere", "calibration folder not found"),
        (f"{RUN} -o m.onnx --int8 empty", "no readable images in calibration folder"),
        (f"{RUN} -o /proc/m.onnx", "cannot write /proc/m.onnx"),
        (f"{RUN} -o blocker/m.onnx", "is a file, not a folder"),
        (f"{RUN} -o m.onnx --opset 5", "Invalid value for '--opset'"),
        (f"{RUN} -o m.onnx --cpu-only --trt", "leave out --cpu-only"),
        (f"{RUN} -o m.onnx --cpu-only --fp16", "variants without it"),
        (f"{RUN} -o m.onnx --margin -8", "Invalid value for '--margin'"),
        (f"{RUN} -o m.onnx --margin 30", "multiple of the network's stride"),
    ],
    "build-engine": [
        ("{model} --max-batch 0", "Invalid value for '--max-batch'"),
    ],
    "webcam": [
        ("--source nowhere.mp4 --no-window", "video source not found"),
        ("--source clip.mp4 --no-window --every-frame --record clip.mp4",
         "--record clip.mp4 would overwrite the input"),
        ("--source clip.mp4 --no-window --every-frame --record ./clip.mp4",
         "would overwrite the input"),
        ("--source clip.mp4 --no-window --log-state clip.mp4", "would overwrite the input"),
        ("--source clip.mp4 --no-window --record r.mp4 --log-state r.mp4", "both name"),
        ("--source clip.mp4 --no-window --record /proc/r.mp4", "cannot record to /proc/r.mp4"),
        ("--source clip.mp4 --no-window --record nowhere/r.mp4", "does not exist"),
        ("--source text.mp4 --no-window --log-state state.jsonl --record r.mp4",
         "cannot open"),
        ("--source 0 --loop --no-window", "apply to video files"),
        ("--source clip.mp4 --no-window --scale 0", "Invalid value for '--scale'"),
        ("--source clip.mp4 --no-window --size 12", "cannot read size"),
        ("--source clip.mp4 --no-window --alpha 1,2", "--alpha has 2 values"),
        ("--source clip.mp4 --no-window --style nope", "unknown style 'nope'"),
        ("--source clip.mp4 --no-window --style style0:nan", "style mixture 'style0:nan'"),
        ("--source clip.mp4 --no-window --engine nowhere.onnx", "model not found"),
    ],
    "video": [
        ("nowhere.mp4 -o o.mp4", "no such file"),
        ("text.mp4 -o o.mp4", "is not a video FFmpeg can read"),
        ("sound.m4a -o o.mp4", "has no video stream (audio)"),
        ("photo.png -o o.mp4", "is an image, not a video"),
        ("clip.mp4 -o o.xyz", "cannot write video to"),
        ("clip.mp4 -o blocker/o.mp4", "cannot write"),
        ("clip.mp4 -o clip.mp4 --force", "would overwrite an input"),
        ("clip.mp4 -o taken.mp4", "exists: pass --force"),
        ("clip.mp4 clip2.mp4 -o out.mp4", "looks like a file name"),
        ("clip.mp4 -o o.mp4 --codec nope", "unknown video encoder 'nope'"),
        ("clip.mp4 -o o.mp4 --crf 20 --bitrate 4M", "not both"),
        ("clip.mp4 -o o.mp4 --scale 1000", "too large"),
        ("clip.mp4 -o o.mp4 --size 100000x100000", "too large"),
        ("clip.mp4 -o o.mp4 --scale 0", "Invalid value for '--scale'"),
        ("clip.mp4 -o o.mp4 --keep-scaled-size", "--keep-scaled-size goes with --scale"),
        ("clip.mp4 -o o.mp4 --alpha 1,2", "--alpha has 2 values"),
        ("clip.mp4 -o o.mp4 --alpha nan", "α value 'nan' is not finite"),
        ("clip.mp4 -o o.mp4 --alpha-keyframes x:0.5", "keyframe time 'x' is not a number"),
        ("clip.mp4 -o o.mp4 --seed 3", "--seed goes with --random-walk"),
        ("clip.mp4 -o o.mp4 --style style0:nan", "style mixture 'style0:nan'"),
        ("clip.mp4 -o o.mp4 --sample", "not both"),
        ("-o o.mp4", "no input given"),
    ],
    "image": [
        ("nowhere.png -o o.png", "no such file"),
        ("notimage.png -o o.png", "cannot read"),
        ("bomb.png -o o.png", "claims more pixels"),
        ("bomb.jpg -o o.png", "claims more pixels"),
        ("photo.png -o o.xyz", "cannot write an image to"),
        ("photo.png -o photo.png --force", "would overwrite an input"),
        ("photo.png -o taken.png", "exists: pass --force"),
        ("photo.png photo2.png -o out.png", "looks like a file name"),
        ("photo.png -o o.png --sweep --random 3", "not both"),
        ("photo.png -o o.png --random 3 --alpha 0.5", "--random draws α itself"),
        ("photo.png -o o.png --size 12", "cannot read size"),
        ("photo.png -o o.png --scale 1000", "too large"),
        ("photo.png -o o.png --sweep --scale 1000", "too large"),
        ("photo.png notimage.png -o outdir", "cannot read"),
        ("photo.png -o o.png --alpha 2", "outside its range"),
        ("photo.png -o o.png --style style0:-1", "weights must be non-negative"),
        ("photo.png -o o.png --engine nowhere.onnx", "model not found"),
        ("photo.png -o o.png --engine nosuchname", "no model file or bundled model named"),
        ("-o o.png", "no input given"),
    ],
    "bench": [
        ("--engine nowhere.onnx", "model not found"),
        ("--sizes 640by480", "cannot read size"),
        ("--frames 0", "--frames must be at least 1"),
        ("--scale 0.5", "--scale applies to --end-to-end webcam"),
        ("--end-to-end video --source nowhere.mp4", "video not found"),
    ],
    "eval": [
        ("{model} --quick --images photos --style-image style.png --video text.mp4",
         "is not a video FFmpeg can read"),
        ("{model} --quick --images photos --style-image notimage.png --no-video",
         "cannot read style image"),
        ("{model} --quick --images photos --style-image nowhere.png --no-video",
         "style image not found"),
        ("{model} --quick --images photos --style-image style.png --style-image style.png",
         "give --style-image once per style"),
        ("{model} --quick --images nowhere --style-image style.png --no-video",
         "image folder not found"),
        ("{model} --quick --images empty --style-image style.png --no-video", "no images"),
        ("{model} --quick --images photos --style-image style.png --no-video "
         "--checkpoint nowhere.pt", "checkpoint not found"),
        ("{model} --quick --images photos --style-image style.png --no-video "
         "--card /proc/card.md", "cannot write --card /proc/card.md"),
        ("{model} --quick --images photos --style-image style.png --no-video --style nope",
         "unknown style 'nope'"),
        ("nowhere.onnx --quick", "model not found"),
        ("{model} --quick --style-image style.png --no-video", "give --images DIR"),
        ("{model} --quick --images photos --no-video", "give --style-image PATH once per style"),
        ("{model} --quick --images photos --style-image photos --no-video",
         "no painting found for style 'style0' in photos"),
        ("{model} --quick --images photos --style-image style.png --video empty", "no clips"),
    ],
    "models": [
        ("bogus", "unexpected extra argument (bogus)"),
    ],
}
TOP_LEVEL = [("bogus", "No such command 'bogus'")]


def _bomb_png(path: Path) -> None:
    """A PNG whose header claims 60000×60000 pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I",
                                                                       zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def _bomb_jpg(path: Path) -> None:
    """A small JPEG whose frame header (SOF0) claims 60000×60000 pixels."""
    Image.new("RGB", (16, 16), (90, 120, 200)).save(path, quality=90)
    data = bytearray(path.read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_onnx):
    """Every input the cases use, made once; each case gets its own copy."""
    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    make_clip(d / "clip.mp4", 32, 24, 6, timecode=False)
    shutil.copy(d / "clip.mp4", d / "clip2.mp4")
    (d / "taken.mp4").write_bytes(b"an existing output")
    (d / "taken.png").write_bytes(b"an existing output")
    (d / "text.mp4").write_text("not a video")
    (d / "notimage.png").write_text("not an image")
    write_silent_audio(d / "sound.m4a")
    for name in ("photo.png", "photo2.png", "style.png"):
        Image.fromarray(rng.integers(0, 255, (40, 48, 3), np.uint8)).save(d / name)
    (d / "photos").mkdir()
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (64, 80, 3), np.uint8)).save(d / f"photos/{i}.png")
    (d / "empty").mkdir()
    (d / "blocker").write_text("a file where a folder should be")
    _bomb_png(d / "bomb.png")
    _bomb_jpg(d / "bomb.jpg")
    (d / RUN / "checkpoints").mkdir(parents=True)
    shutil.copy(tiny_onnx.parent / "checkpoints" / "last.pt", d / RUN / "checkpoints")
    return d


def tree(folder: Path) -> dict:
    """Every file and folder below `folder`, hidden ones included: (kind, size, mtime)."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = Path(root) / name
            st = p.lstat()
            out[str(p.relative_to(folder))] = (p.is_dir(), st.st_size if p.is_file() else 0,
                                               st.st_mtime_ns)
    return out


def _cases():
    for verb, cases in CASES.items():
        for args, message in cases:
            yield pytest.param([verb, *args.split()], message, id=f"{verb}: {args}"[:90])
    for args, message in TOP_LEVEL:
        yield pytest.param(args.split(), message, id=f"rtstyle {args}")


def test_every_verb_is_in_the_table():
    assert set(CASES) == set(COMMANDS)


@pytest.mark.parametrize("args, message", list(_cases()))
def test_bad_input(args, message, inputs, tiny_onnx, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    shutil.copytree(inputs, work)
    monkeypatch.chdir(work)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    args = [a.format(model=tiny_onnx) for a in args]
    if args[0] in ("webcam", "video", "image", "bench") and "--engine" not in args:
        args += ["--engine", str(tiny_onnx)]
    before = tree(work)
    with pytest.raises(SystemExit) as e:
        main(args)
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err, err
    assert tree(work) == before, "the failed command wrote or changed files"

"""`rtstyle video`: timing, streams, geometry, α over time, interrupts and errors.

Clips are generated with PyAV (small, with AAC audio and a timecode data track); the shared
720p clips are used as short excerpts (stream copies of their first half second), and whole
only in tests marked slow.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import av
import numpy as np
import pytest

from rt_style.cli import main
from rt_style.engine import Engine, load_engine
from rt_style.pipeline import run_stages
from rt_style.stopping import graceful_stop
from rt_style.video import alpha_schedule
from tests.conftest import ROOT, SHARED_DATA, dead_pid, run_cli, write_silent_audio

SHARED_VIDEO = SHARED_DATA / "video"


def make_clip(path, w=96, h=64, frames=30, fps=30, audio=True, timecode=True, rotation=None,
              codec="libx264", pix_fmt="yuv420p", faststart=False):
    """A moving test pattern, optionally with AAC audio and a timecode (tmcd data) track;
    faststart: the MP4 index first, as cameras and web videos have it."""
    out = av.open(str(path), "w", options={"movflags": "+faststart"} if faststart else None)
    v = out.add_stream(codec, rate=fps)
    v.width, v.height, v.pix_fmt = w, h, pix_fmt
    cc = v.codec_context
    cc.color_range = cc.colorspace = cc.color_primaries = cc.color_trc = 1  # limited, BT.709
    if timecode:
        v.metadata["timecode"] = "00:00:00:00"  # the mp4/mov muxer adds a tmcd data stream
    if rotation:
        v.set_display_rotation(rotation)
    a = out.add_stream("aac", rate=48000) if audio else None
    if a is not None:
        a.layout = "mono"
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(frames):
        img = np.stack([(xx * 3 + i * 5) % 256, (yy * 4) % 256, (xx + yy + i * 7) * 2 % 256],
                       -1).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = i
        out.mux(v.encode(frame))
    out.mux(v.encode())
    if a is not None:
        n = 48000 * frames // fps
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000)).astype(np.float32)[None]
        for k in range(0, n, 1024):
            f = av.AudioFrame.from_ndarray(tone[:, k:k + 1024], format="fltp", layout="mono")
            f.sample_rate, f.pts = 48000, k
            out.mux(a.encode(f))
        out.mux(a.encode())
    out.close()
    return path


def excerpt(src, dst, seconds):
    """Stream-copy the first `seconds` of a clip's video and audio (and its timecode tag)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        streams = {}
        for s in inp.streams:
            if s.type in ("video", "audio"):
                streams[s.index] = out.add_stream_from_template(s)
                if s.type == "video":
                    streams[s.index].metadata.update(s.metadata)
        for p in inp.demux():
            if p.dts is not None and p.stream.index in streams and p.dts * p.time_base <= seconds:
                p.stream = streams[p.stream.index]
                out.mux(p)
    return dst


def probe(path):
    """Per stream: type, packet count, first time, end time (s); decoded video frame count."""
    streams = {}
    with av.open(str(path)) as c:
        for p in c.demux():
            if p.dts is None:
                continue
            tb, s = p.time_base, streams.setdefault(p.stream.index, [p.stream.type, 0, 1e9, -1e9])
            s[1] += 1
            s[2] = min(s[2], float(p.pts * tb))
            s[3] = max(s[3], float((p.pts + p.duration) * tb))
    with av.open(str(path)) as c:
        frames = sum(1 for _ in c.decode(video=0))
    return streams, frames


def decoded(path):
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def rtstyle(capsys, *args):
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    return {"av": make_clip(d / "av.mp4"),
            "odd": make_clip(d / "odd.mp4", 97, 65, 12, pix_fmt="yuv444p", timecode=False),
            "rot": make_clip(d / "rot.mp4", 96, 64, 12, rotation=90, audio=False,
                             timecode=False),
            "long": make_clip(d / "long.mp4", frames=150)}


def test_keeps_frames_timing_audio_and_colour(clips, tiny_onnx, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    code, stdout, err = rtstyle(capsys, "video", clips["av"], "-o", out, "--engine", tiny_onnx)
    assert code == 0, err
    assert "30 frames" in stdout
    assert "stream #2 (data) cannot go into mp4: skipped" in err  # a notice, not a failure
    src, src_frames = probe(clips["av"])
    dst, dst_frames = probe(out)
    assert dst_frames == src_frames == 30
    assert dst[0] == src[0]  # video: packets, start and end times
    assert dst[1] == src[1]  # audio: same packets, same duration
    assert dst[2][0] == "data"  # the timecode track, rebuilt by the muxer from the tag
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.name, v.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert v.average_rate == 30 and v.metadata["timecode"] == "00:00:00:00"
        f = next(c.decode(v))
        assert (f.color_range, f.colorspace, f.color_primaries, f.color_trc) == (1, 1, 1, 1)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary files left


def test_colours_survive_the_round_trip(clips, tiny_onnx, tmp_path, capsys, monkeypatch):
    """With an identity model, decoded output matches decoded input: no colour shift."""
    monkeypatch.setattr(Engine, "run", lambda self, frames, alpha=None, style=None: frames)
    out = tmp_path / "same.mkv"
    code, _, err = rtstyle(capsys, "video", clips["av"], "-o", out, "--engine", tiny_onnx,
                           "--crf", "0", "--no-stabilize")
    assert code == 0, err
    diff = np.array(decoded(out), float) - np.array(decoded(clips["av"]), float)
    assert abs(diff.mean()) < 0.3  # swscale's default rounding alone would shift it by ~2


def test_odd_sizes_crop_to_even_or_stay_with_yuv444(clips, tiny_onnx, tmp_path, capsys):
    code, _, err = rtstyle(capsys, "video", clips["odd"], "-o", tmp_path / "a.mp4",
                           "--engine", tiny_onnx)
    assert code == 0 and "97×65 becomes 96×64" in err
    code, _, err = rtstyle(capsys, "video", clips["odd"], "-o", tmp_path / "b.mkv",
                           "--engine", tiny_onnx, "--pix-fmt", "yuv444p")
    assert code == 0, err
    for name, size in (("a.mp4", (96, 64, "yuv420p")), ("b.mkv", (97, 65, "yuv444p"))):
        with av.open(str(tmp_path / name)) as c:
            f = next(c.decode(video=0))
            assert (f.width, f.height, f.format.name) == size
        assert probe(tmp_path / name)[1] == 12


def test_rotation_kept_and_size_means_as_displayed(clips, tiny_onnx, tmp_path, capsys):
    out = tmp_path / "r.mp4"
    code, _, err = rtstyle(capsys, "video", clips["rot"], "-o", out, "--engine", tiny_onnx,
                           "--size", "32x48")
    assert code == 0, err
    with av.open(str(out)) as c:
        f = next(c.decode(video=0))
        assert f.rotation == 90 and (f.width, f.height) == (48, 32)  # shown as 32×48


def test_alpha_keyframes_batches_and_sequential_agree(clips, tiny_onnx, tmp_path, capsys):
    """Lossless output (--crf 0) and no steady picture make decoded frames comparable across
    runs (the steady picture starts afresh at every clip, so frame 0 could be compared too).
    ONNX Runtime's float32, where batch 4 and batch 1 round alike to one level (bfloat16 on
    OpenVINO, which auto picks where installed, differs between them by a few)."""
    runs = {"fixed0": ["--alpha", "0,0,0,0"], "fixed1": ["--alpha", "1,1,1,1"],
            "keys": ["--alpha-keyframes", "0:0,0,0,0;0.3:1,1,1,1", "--batch", "4"],
            "keys_seq": ["--alpha-keyframes", "0:0,0,0,0;0.3:1,1,1,1", "--sequential"]}
    frames = {}
    for name, extra in runs.items():
        code, _, err = rtstyle(capsys, "video", clips["rot"], "-o", tmp_path / f"{name}.mkv",
                               "--engine", tiny_onnx, "--crf", "0", "--no-stabilize",
                               "--provider", "cpu", *extra)
        assert code == 0, err
        frames[name] = np.array(decoded(tmp_path / f"{name}.mkv"), np.int16)
    assert len(frames["keys"]) == 12
    assert np.abs(frames["keys"] - frames["keys_seq"]).max() <= 1  # batch 4 vs 1: rounding
    assert np.abs(frames["keys"][0] - frames["fixed0"][0]).max() <= 1
    assert np.abs(frames["keys"][-1] - frames["fixed1"][-1]).max() <= 1
    assert np.abs(frames["fixed0"] - frames["fixed1"]).max() > 3  # α really matters


def test_alpha_schedules(tiny_onnx):
    engine = load_engine(tiny_onnx)
    times = np.arange(0, 4, 1 / 30)
    walk = alpha_schedule(engine, random_walk=True, seed=5)(times)
    assert walk.shape == (len(times), 4) and np.abs(np.diff(walk, axis=0)).max() < 0.05
    assert np.array_equal(walk, alpha_schedule(engine, random_walk=True, seed=5)(times))
    keys = alpha_schedule(engine, keyframes="1:0,0,0,0;3:1,1,1,1")([0, 2, 5])
    assert np.allclose(keys, [[0] * 4, [0.5] * 4, [1] * 4])
    fixed = alpha_schedule(engine)([0, 1])
    assert np.allclose(fixed, [engine.alpha_defaults] * 2)


def test_multi_style_mixture_and_random_walk(clips, tiny_onnx_multi, tmp_path, capsys):
    code, _, err = rtstyle(capsys, "video", clips["rot"], "-o", tmp_path / "m.mp4", "--engine",
                           tiny_onnx_multi, "--style", "style0:0.5,style1:0.5",
                           "--random-walk", "--seed", "2")
    assert code == 0, err
    assert probe(tmp_path / "m.mp4")[1] == 12


def test_folder_in_folder_out_and_overwrite_refused(clips, tiny_onnx, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    make_clip(src / "one.mp4", frames=4, timecode=False)
    make_clip(src / "two.mov", frames=4, audio=False)
    out = tmp_path / "out"
    code, stdout, err = rtstyle(capsys, "video", src, "-o", out, "--engine", tiny_onnx)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["one.mp4", "two.mov"]
    before = (out / "one.mp4").stat().st_mtime_ns
    code, _, err = rtstyle(capsys, "video", src, "-o", out, "--engine", tiny_onnx)
    assert code == 2 and "exists: pass --force" in err
    assert (out / "one.mp4").stat().st_mtime_ns == before
    code, _, err = rtstyle(capsys, "video", src / "one.mp4", "-o", src / "one.mp4", "--force",
                           "--engine", tiny_onnx)
    assert code == 2 and "would overwrite an input" in err


SLOW_RUN = """
import sys, time
from rt_style import engine
run = engine.Engine.run
engine.Engine.run = lambda self, *a, **k: (time.sleep(0.03), run(self, *a, **k))[1]
from rt_style.cli import main
main(sys.argv[1:])
"""


def _interrupted(clip, model, out, signals):
    """Start a slowed-down `rtstyle video`, send `signals` once it is writing; (rc, stderr)."""
    p = subprocess.Popen([sys.executable, "-c", SLOW_RUN, "video", str(clip), "-o", str(out),
                          "--engine", str(model)], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, TQDM_DISABLE="1"))
    deadline = time.monotonic() + 60
    while not list(out.parent.glob(".*.part*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.6)  # some frames in
    for s in signals:
        p.send_signal(s)
        time.sleep(0.05)
    _, err = p.communicate(timeout=60)
    return p.returncode, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_leaves_playable_prefix(clips, tiny_onnx, tmp_path, sig):
    out = tmp_path / "cut.mp4"
    rc, err = _interrupted(clips["long"], tiny_onnx, out, [sig])
    assert rc == 130, err
    assert "interrupted: " in err and "of 150 frames" in err
    streams, frames = probe(out)
    assert 0 < frames < 150
    assert f"holds the first {frames} of" in err
    video_end, audio_end = streams[0][3], streams[1][3]
    assert abs(audio_end - video_end) < 0.05  # audio cut with the video (one AAC packet)
    assert [p.name for p in tmp_path.iterdir()] == ["cut.mp4"]


def test_signals_first_stops_second_abandons():
    with graceful_stop() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs at the next bytecode boundary
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)


def test_abandoned_run_leaves_nothing(clips, tiny_onnx, tmp_path, capsys, monkeypatch):
    """A second Ctrl-C (KeyboardInterrupt) mid-way: no output, no temporary file."""
    calls, run = [], Engine.run

    def run_then_abandon(self, *args, **kw):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return run(self, *args, **kw)

    monkeypatch.setattr(Engine, "run", run_then_abandon)
    code, _, err = rtstyle(capsys, "video", clips["long"], "-o", tmp_path / "x.mp4",
                           "--engine", tiny_onnx)
    assert code == 130 and "aborted" in err
    assert list(tmp_path.iterdir()) == []


def test_undecodable_data_mid_stream(tiny_onnx, tmp_path, capsys):
    """PNG-coded video with one packet zeroed: FFmpeg refuses frame 11."""
    clip = make_clip(tmp_path / "broken.mov", frames=20, codec="png", pix_fmt="rgb24",
                     timecode=False)
    with av.open(str(clip)) as c:
        pos, size = [(p.pos, p.size) for p in c.demux(video=0) if p.size][10]
    data = bytearray(clip.read_bytes())
    data[pos:pos + size] = bytes(size)
    clip.write_bytes(data)
    out = tmp_path / "out.mp4"
    code, _, err = rtstyle(capsys, "video", clip, "-o", out, "--engine", tiny_onnx)
    assert code == 2
    assert err.count("\n") == 1 and "undecodable data after 10 frames" in err
    assert "holds the 10 frames before it" in err
    streams, frames = probe(out)
    assert frames == 10 and abs(streams[1][3] - streams[0][3]) < 0.05


def test_truncated_file_is_reported_with_the_frames_written(tiny_onnx, tmp_path, capsys):
    """The first half of an MP4 whose index comes first: it opens, then runs out of data."""
    whole = make_clip(tmp_path / "whole.mp4", frames=30, timecode=False, faststart=True)
    data = whole.read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[:len(data) // 2])
    out = tmp_path / "out.mp4"
    code, _, err = rtstyle(capsys, "video", half, "-o", out, "--engine", tiny_onnx)
    assert code == 2 and err.count("\n") == 1, err
    done = int(re.search(r"ends after (\d+) of the 30 frames its header lists", err)[1])
    assert 0 < done < 30 and "truncated" in err
    assert f"{out} holds the {done} frames before it" in err
    assert probe(out)[1] == done


@pytest.mark.parametrize("flags, size", [
    (["--scale", "0.5"], (96, 64)),                           # the input's size back
    (["--scale", "0.5", "--keep-scaled-size"], (48, 32)),
    (["--size", "192x", "--scale", "0.25"], (192, 128)),     # --size sets the output
    (["--size", "48x32"], (48, 32)),
])
def test_scale_stylizes_smaller_and_resizes_back(clips, tiny_onnx, tmp_path, capsys, flags,
                                                  size):
    out = tmp_path / "o.mp4"
    code, _, err = rtstyle(capsys, "video", clips["av"], "-o", out, "--engine", tiny_onnx,
                           *flags)
    assert code == 0, err
    frames = decoded(out)
    assert len(frames) == 30 and frames[0].shape[1::-1] == size


def test_leftovers_of_a_killed_run_are_removed_by_the_next(clips, tiny_onnx, tmp_path,
                                                           capsys):
    out = tmp_path / "k.mp4"
    rc, _ = _interrupted(clips["long"], tiny_onnx, out, [signal.SIGKILL])
    assert rc == -signal.SIGKILL
    left = list(tmp_path.glob(".k.*.part.mp4"))
    assert len(left) == 1 and not out.exists()
    running = tmp_path / f".k.{os.getpid()}-0123abcd.part.mp4"  # a run still writing
    running.write_bytes(b"")
    other = tmp_path / f".other.{dead_pid()}-0123abcd.part.mp4"  # another target's
    other.write_bytes(b"")
    code, _, err = rtstyle(capsys, "video", clips["av"], "-o", out, "--engine", tiny_onnx)
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["k.mp4", running.name, other.name])


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "text.mp4").write_text("not a video")
    write_silent_audio(d / "sound.m4a")
    (d / "blocker").write_text("a file where a folder should be")
    return d


@pytest.mark.parametrize("args, message", [
    (["{d}/missing.mp4", "-o", "{t}/o.mp4"], "no such file"),
    (["{d}/text.mp4", "-o", "{t}/o.mp4"], "is not a video FFmpeg can read"),
    (["{d}/sound.m4a", "-o", "{t}/o.mp4"], "has no video stream (audio)"),
    (["{clip}", "-o", "{t}/o.mp4", "--codec", "nope"], "unknown video encoder 'nope'"),
    (["{clip}", "-o", "{t}/o.xyz"], "cannot write video to"),
    (["{clip}", "-o", "{d}/blocker/o.mp4"], "cannot write"),
    (["{clip}", "-o", "{t}/o.mp4", "--alpha", "1,2"], "--alpha has 2 values"),
    (["{clip}", "-o", "{t}/o.mp4", "--seed", "3"], "--seed goes with --random-walk"),
])
def test_errors_are_one_line(args, message, bad_inputs, clips, tiny_onnx, tmp_path):
    fill = {"d": bad_inputs, "t": tmp_path, "clip": clips["rot"]}
    r = run_cli("video", *[a.format(**fill) for a in args], "--engine", tiny_onnx)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr
    assert not list(tmp_path.iterdir())


def test_pipeline_overlaps_and_keeps_order():
    """Items arrive in order; a source error comes after everything it produced before."""
    import threading

    def source():
        yield from range(5)
        raise ValueError("broken")

    got = []
    with pytest.raises(ValueError, match="broken"):
        run_stages(source(), lambda x: x * 2, got.append, threading.Event())
    assert got == [0, 2, 4, 6, 8]


def test_runtime_does_not_import_torch():
    code = ("import sys, rt_style.video, rt_style.image, rt_style.sheet; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def _shared_clips():
    clips = sorted(SHARED_VIDEO.glob("*.mp4")) if SHARED_VIDEO.is_dir() else []
    return clips or [pytest.param(None, marks=pytest.mark.skip(
        reason=f"shared clips not found in {SHARED_VIDEO}"))]


@pytest.mark.parametrize("clip", _shared_clips(), ids=lambda p: getattr(p, "stem", "none"))
def test_shared_clip_excerpt(clip, tiny_onnx, tmp_path, capsys):
    """Half a second of each real 720p clip, at quarter size to keep it quick."""
    src = excerpt(clip, tmp_path / "in.mp4", 0.5)
    out = tmp_path / "out.mp4"
    code, _, err = rtstyle(capsys, "video", src, "-o", out, "--engine", tiny_onnx,
                           "--scale", "0.25", "--batch", "2")
    assert code == 0, err
    (s_in, n_in), (s_out, n_out) = probe(src), probe(out)
    assert n_in == n_out > 10
    assert s_out[0][1:] == s_in[0][1:]
    if len(s_in) > 1:
        assert s_out[1] == s_in[1]


@pytest.mark.slow
@pytest.mark.parametrize("clip", _shared_clips(), ids=lambda p: getattr(p, "stem", "none"))
def test_shared_clip_whole(clip, tiny_onnx, tmp_path, capsys):
    """A whole real clip, data stream included (at half size: the timing is what counts)."""
    out = tmp_path / "out.mp4"
    code, _, err = rtstyle(capsys, "video", clip, "-o", out, "--engine", tiny_onnx,
                           "--scale", "0.5")
    assert code == 0, err
    (s_in, n_in), (s_out, n_out) = probe(clip), probe(out)
    assert n_in == n_out
    for i, s in s_in.items():
        if s[0] in ("video", "audio"):
            assert s_out[i][1:] == s[1:], s[0]

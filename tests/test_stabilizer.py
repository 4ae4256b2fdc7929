"""The steady picture (issue 16, rt_style/stabilizer.py): flow-guided blending of the previous
stylized frame. On synthetic frames: a still noisy scene settles, a moving square leaves no
ghost, a cut is not blended; then the option and the `t` key in `rtstyle video` / `webcam`."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from rt_style.controls import Controls
from rt_style.errors import UserError
from rt_style.hud import hud_lines
from rt_style.stabilizer import DEFAULT_STRENGTH, Stabilizer, parse_strength
from rt_style.webcam import Live, StateLog
from tests.conftest import run_cli, smooth_image
from tests.test_live_features import _clip, _frames
from tests.test_webcam import (  # noqa: F401  (display is a fixture)
    _events,
    _finish,
    _open_window,
    _press,
    _wait_for,
    display,
)

NAMES = ["style:relu1_1", "style:relu2_1", "style:relu3_1", "style:relu4_1"]


def _photo(h=120, w=160, seed=0) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(smooth_image(np.random.default_rng(seed), h, w))
                                [..., ::-1])


def _flicker(frame: np.ndarray, rng, sigma=10.0) -> np.ndarray:
    """A stand-in for the network: the frame with fresh noise each call (shimmering texture)."""
    return np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)


def _step_error(frames) -> float:
    """Mean squared difference between consecutive frames (a still scene's warping error)."""
    f = [x.astype(np.float32) for x in frames]
    return float(np.mean([((a - b) ** 2).mean() for a, b in zip(f, f[1:])]))


def test_a_still_noisy_scene_settles():
    photo, rng = _photo(), np.random.default_rng(1)
    inputs = [_flicker(photo, rng, 2.0) for _ in range(12)]  # a still camera's sensor noise
    raw = [_flicker(x, rng) for x in inputs]
    s = Stabilizer(DEFAULT_STRENGTH)
    steady = [s(x, y) for x, y in zip(inputs, raw)]
    assert np.array_equal(steady[0], raw[0])  # nothing to blend with yet
    assert _step_error(steady[4:]) < _step_error(raw[4:]) / 4
    assert s.cuts == 0
    off = Stabilizer(0)
    assert all(np.array_equal(off(x, y), y) for x, y in zip(inputs, raw))


def test_a_moving_square_leaves_no_ghost_while_the_background_settles():
    photo, rng = (_photo() * 0.5).astype(np.uint8), np.random.default_rng(2)  # dim background
    inputs = []
    for t in range(10):
        f = photo.copy()
        f[40:75, 10 + 8 * t: 45 + 8 * t] = (40, 220, 250)  # 8 px per frame to the right
        inputs.append(f)
    raw = [_flicker(x, rng) for x in inputs]
    s = Stabilizer(DEFAULT_STRENGTH)
    steady = [s(x, y) for x, y in zip(inputs, raw)]
    for t in range(3, 10):
        left = slice(10 + 8 * (t - 1), 10 + 8 * t)  # where the square was, background now
        trail = np.abs(steady[t][40:75, left].astype(int) - raw[t][40:75, left]).mean()
        assert trail < 6, f"frame {t}: a ghost of the square ({trail:.1f} levels)"
        square = np.abs(steady[t][45:70, 15 + 8 * t: 40 + 8 * t].astype(int) - (40, 220, 250))
        assert square.mean() < 12  # the square itself is where it is, in its own colour
    still = (slice(85, 120), slice(0, 160))  # background the square never crossed
    calm = _step_error([f[still] for f in steady[4:]])
    assert calm < _step_error([f[still] for f in raw[4:]]) / 3


def test_a_moving_textured_object_settles_along_its_motion():
    """A hand or a cup crossing the frame: its own strokes must settle too, which needs a flow
    that follows it (DIS ultrafast's own finest level, a quarter of the copy, loses it here:
    0.12 of the network's flicker is left instead of 0.03)."""
    back, obj = _photo(240, 320, 3), _photo(80, 80, 4)
    rng = np.random.default_rng(5)
    inputs = []
    for t in range(12):
        f = back.copy()
        f[80:160, 40 + 6 * t: 120 + 6 * t] = obj  # 6 px per frame to the right
        inputs.append(np.clip(f + rng.normal(0, 2.0, f.shape), 0, 255).astype(np.uint8))
    raw = [_flicker(x, rng) for x in inputs]
    s = Stabilizer(DEFAULT_STRENGTH)
    steady = [s(x, y) for x, y in zip(inputs, raw)]

    def along(frames):  # the object's inside, frame to frame, carried with it
        return np.mean([((frames[t][90:150, 50 + 6 * t: 110 + 6 * t].astype(np.float32)
                          - frames[t - 1][90:150, 44 + 6 * t: 104 + 6 * t]) ** 2).mean()
                        for t in range(4, 12)])
    assert along(steady) < 0.06 * along(raw)
    assert s.cuts == 0


def test_a_cut_is_not_blended_and_starts_afresh():
    a, b, rng = _photo(seed=0), _photo(seed=5), np.random.default_rng(3)
    inputs = [a, a, a, b, b]
    raw = [_flicker(x, rng) for x in inputs]
    s = Stabilizer(0.9)
    steady = [s(x, y) for x, y in zip(inputs, raw)]
    assert not np.array_equal(steady[2], raw[2])  # blended before the cut
    assert np.array_equal(steady[3], raw[3]) and s.cuts == 1  # the new scene as it is
    assert not np.array_equal(steady[4], raw[4])  # and blended again after it
    assert np.abs(steady[4].astype(int) - b).mean() < np.abs(raw[4].astype(int) - b).mean()


def test_output_larger_than_the_input_and_a_size_change():
    """The flow runs on the input (as stylized), the blend on the output (resized back)."""
    photo, rng = _photo(60, 80), np.random.default_rng(4)
    s = Stabilizer(DEFAULT_STRENGTH, flow_width=40)
    big = [_flicker(cv2.resize(photo, (160, 120)), rng) for _ in range(4)]
    out = [s(photo, y) for y in big]
    assert out[-1].shape == (120, 160, 3) and _step_error(out[1:]) < _step_error(big[1:])
    other = _flicker(_photo(90, 120), rng)
    assert np.array_equal(s(other, other), other)  # another size: starts afresh


@pytest.mark.parametrize("value", ["abc", "1.5", "-0.1", "nan", "1"])
def test_bad_strengths_are_refused(value):
    with pytest.raises(UserError, match="--stabilize"):
        parse_strength(value)


# ------------------------------------------------------------------------ the live view
class _FlickerEngine:
    """Stylizes by adding fresh noise; remembers its last output."""

    def __init__(self):
        self.rng, self.last = np.random.default_rng(0), None

    def run(self, frames, alpha=None, style=None):
        self.last = _flicker(frames, self.rng)
        return self.last


def _live(stabilize: float) -> Live:
    controls = Controls(NAMES, [0.5] * 4, [[0, 1]] * 4, ["a"], seed=0, stabilize=stabilize)
    return Live(_FlickerEngine(), controls, SimpleNamespace(every_frame=True, fps=30.0),
                log=StateLog(None, controls))


def test_live_view_blends_fresh_frames_and_starts_afresh_after_a_key():
    photo = _photo()
    views = {}
    for strength in (0.0, DEFAULT_STRENGTH):
        live = _live(strength)
        shown = []
        for i in range(8):
            live.current = (photo, SimpleNamespace(time=0.0, index=i))
            live.render(fresh=True)
            shown.append(live.view)
        views[strength] = shown
    assert _step_error(views[DEFAULT_STRENGTH][3:]) < _step_error(views[0.0][3:]) / 3
    live.controls.press("Up", 0.0)  # α changed by hand: the new look at once, not blended in
    live.render(fresh=True)
    assert np.array_equal(live.view, live.engine.last)
    live.render(fresh=False)  # a frozen frame re-rendered: no blending with itself
    assert np.array_equal(live.view, live.engine.last)


def test_t_key_toggles_and_the_hud_shows_it():
    c = Controls(NAMES, [0.5] * 4, [[0, 1]] * 4, ["a"], seed=0)
    assert c.stabilize == 0 and c.state()["stabilize"] == 0
    c.press("t", 0)
    assert c.stabilize == DEFAULT_STRENGTH
    assert f"STEADY {DEFAULT_STRENGTH:.2f}" in hud_lines(c, 30, 20)[0]
    c.press("t", 0)
    assert c.stabilize == 0 and "STEADY" not in hud_lines(c, 30, 20)[0]
    c = Controls(NAMES, [0.5] * 4, [[0, 1]] * 4, ["a"], seed=0, stabilize=0.4)
    c.press("t", 0)
    c.press("t", 0)
    assert c.state()["stabilize"] == 0.4  # back on at the strength it started with


# ------------------------------------------------------------------------ the commands
def _still_noisy_clip(path, frames=8, w=96, h=72):
    import av

    photo, rng = _photo(h, w), np.random.default_rng(7)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.options = {"crf": "0"}
        for _ in range(frames):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(_flicker(photo, rng, 6), "bgr24")))
        out.mux(stream.encode(None))
    return path


def test_video_steadies_a_still_noisy_clip_by_default(tmp_path):
    """The steady picture is on unless --no-stabilize (or --stabilize 0) turns it off."""
    clip = _still_noisy_clip(tmp_path / "still.mp4")
    outs = {}
    for name, extra in (("plain", ["--no-stabilize"]), ("zero", ["--stabilize", "0"]),
                        ("steady", [])):
        dst = tmp_path / f"{name}.mp4"
        r = run_cli("video", clip, "-o", dst, "--style", "0", "--crf", "0", "--threads", "1",
                    *extra)
        assert r.returncode == 0, r.stderr
        outs[name] = _frames(dst)
    assert len(outs["steady"]) == len(outs["plain"]) == 8
    assert np.array_equal(outs["plain"], outs["zero"])
    assert _step_error(outs["steady"][2:]) < _step_error(outs["plain"][2:]) / 2


@pytest.mark.parametrize("command", ["video", "webcam"])
def test_stabilize_and_no_stabilize_together_are_an_error(command, tmp_path):
    clip = _clip(tmp_path / "c.mp4", frames=2)
    args = [clip, "-o", tmp_path / "o.mp4"] if command == "video" else ["--source", clip,
                                                                         "--no-window"]
    r = run_cli(command, *args, "--stabilize", "0.5", "--no-stabilize")
    assert r.returncode != 0 and r.stderr.startswith("error: ") and "not both" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("command", ["video", "webcam"])
@pytest.mark.parametrize("value, message", [("1.5", "from 0 (off) to 0.95"),
                                            ("x", "takes a strength from 0 to 0.95")])
def test_bad_stabilize_values_are_one_line_errors(command, value, message, tmp_path):
    clip = _clip(tmp_path / "c.mp4", frames=2)
    args = [clip, "-o", tmp_path / "o.mp4"] if command == "video" else ["--source", clip,
                                                                         "--no-window"]
    r = run_cli(command, *args, "--stabilize", value)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "o.mp4").exists()


def test_webcam_stabilize_option_sets_the_start(tmp_path):
    clip = _clip(tmp_path / "c.mp4", frames=4)
    log = tmp_path / "state.jsonl"
    r = run_cli("webcam", "--source", clip, "--no-window", "--every-frame", "--max-frames", "3",
                "--style", "0", "--stabilize", "0.5", "--log-state", log)
    assert r.returncode == 0, r.stderr
    assert [e["stabilize"] for e in _events(log, "frame")] == [0.5] * 3


def test_t_key_in_a_real_window(display, tmp_path):  # noqa: F811
    clip = _clip(tmp_path / "moving.mp4", frames=30)
    log = tmp_path / "state.jsonl"
    proc, _ = _open_window("classics", clip, display, log, "--style", "0")
    _wait_for(lambda: any(f["stabilize"] == DEFAULT_STRENGTH for f in _events(log, "frame")),
              60, "a frame with the steady picture on (the default)", proc)
    _press(display, log, ["t"])
    _wait_for(lambda: any(f["stabilize"] == 0 for f in _events(log, "frame")), 60,
              "a frame with the steady picture off", proc)
    _press(display, log, ["t", "t", "q"])
    code, out, err = _finish(proc)
    assert code == 0, err
    pressed = _events(log, "key")
    assert [k["key"] for k in pressed] == ["t", "t", "t", "q"]
    assert [k["stabilize"] for k in pressed] == [0, DEFAULT_STRENGTH, 0, 0]
    assert "steady picture on/off" in out  # the key list printed at start


def test_switching_the_steady_picture_back_on_forgets_the_old_frames():
    live, photo = _live(DEFAULT_STRENGTH), _photo()
    for i, picture in enumerate([photo, photo, None, photo]):
        if picture is None:
            live.controls.press("t", 0.0)  # off: the frames shown meanwhile are not remembered
            continue
        live.current = (picture, SimpleNamespace(time=0.0, index=i))
        live.render(fresh=True)
    live.controls.press("t", 0.0)  # on again: what it remembered may be long gone
    live.render(fresh=True)
    assert np.array_equal(live.view, live.engine.last)


def test_looks_benchmark_writes_frames_and_a_softness_row_per_clip(tiny_onnx, tmp_path):
    """benchmarks/stabilize_looks.py: side-by-side frames (input, network, each strength) and
    the fine-texture ratio, which the blend can only lower on a smoothly moving clip."""
    import subprocess
    import sys

    from rt_style.timing import make_clip
    from tests.conftest import ROOT

    clip = make_clip(tmp_path / "moving.mp4", (64, 48), 14)
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "stabilize_looks.py"),
                        "--model", str(tiny_onnx), "--video", str(clip), "--frames", "12",
                        "--side", "64", "--alpha", "max", "--strengths", "0.5,0.9",
                        "-o", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (row,) = [ln for ln in r.stdout.splitlines() if ln.startswith("| moving |")]
    low, high = (float(v) for v in row.split("|")[3].split("/"))
    assert 0 < high <= low <= 1.0
    shot = cv2.imread(str(tmp_path / "out" / "moving-max-10.png"))
    assert shot.shape == (48, 64 * 4, 3)


def test_flow_benchmark_measures_every_setting_two_ways(tiny_onnx, tmp_path):
    """benchmarks/stabilize_flow.py: one row per flow setting, each clip measured with the
    evaluation's DIS flow and with Farnebäck's; the steady picture always beats the network."""
    import subprocess
    import sys

    from rt_style.timing import make_clip
    from tests.conftest import ROOT

    clip = make_clip(tmp_path / "moving.mp4", (96, 64), 14)
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "stabilize_flow.py"),
                        "--model", str(tiny_onnx), "--video", str(clip), "--frames", "12",
                        "--side", "96", "--threads", "1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rows = [ln.split("|")[1:-1] for ln in r.stdout.splitlines()
            if ln.startswith("| ") and "flow ms" not in ln]
    alone = [c for c in rows if c[0].strip() == "network alone"][0]
    assert len(rows) == 8 and any("ultrafast, level 1, 320 px" in c[0] for c in rows)
    for cells in rows:
        dis, farneback = (float(v) for v in cells[2].split("/"))
        assert 0 < dis and 0 < farneback
        if cells is not alone:
            assert dis < float(alone[2].split("/")[0])

"""`rtstyle webcam`: a real window under Xvfb receiving real key presses, headless recording,
clean shutdown, and one-line errors. A generated video file stands in for the camera."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from rt_style.capture import Capture
from rt_style.controls import STEP, Controls, key_name
from rt_style.errors import UserError
from tests.conftest import ROOT, run_cli

W, H, FRAMES, FPS = 64, 48, 40, 30


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A short H.264 clip with moving colour ramps (PyAV), the stand-in for a camera."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        yy, xx = np.mgrid[0:H, 0:W]
        for i in range(FRAMES):
            img = np.stack([(xx * 4 + i * 6) % 256, yy * 5, np.full_like(xx, i * 6)], -1)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img.astype(np.uint8), "bgr24")))
        out.mux(stream.encode(None))
    return path


def _webcam(tiny, clip, *args):
    return ["webcam", "--engine", tiny, "--source", clip, "--threads", "1", *args]


def _popen(args, env=None):
    e = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.Popen([sys.executable, "-m", "rt_style.cli", *map(str, args)], cwd=ROOT,
                            env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _events(log: Path, kind: str | None = None) -> list[dict]:
    if not log.exists():
        return []
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.endswith("}")]
    return [r for r in lines if kind is None or r["event"] == kind]


def _wait_for(condition, timeout: float, what: str, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"rtstyle webcam exited ({proc.returncode}) before {what}: {err[-2000:]}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _finish(proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"rtstyle webcam did not exit: {err[-2000:]}")
    return proc.returncode, out, err


def _decode(path: Path) -> tuple[list[np.ndarray], tuple]:
    """The decoded frames and (codec, pixel format, width, height) of a recording."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(stream)]
        return frames, (stream.codec_context.name, stream.codec_context.pix_fmt,
                        stream.width, stream.height)


# ------------------------------------------------------------------------ a real window
def _start_xvfb(number: int):
    """Xvfb on :number, once it accepts clients; None if it exits (e.g. the number is taken).
    -noreset: by default the server resets whenever its last client leaves, and a client
    connecting during that reset (the webcam while xdotool polls for its window) is refused.
    -ardelay: no autorepeat, even if a loaded machine delays a key's release."""
    server = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1024x768x24", "-nolisten",
                               "tcp", "-noreset", "-ardelay", "30000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 30
    while time.monotonic() < end and server.poll() is None:
        if _xdotool(f":{number}", "getdisplaygeometry"):
            return server
        time.sleep(0.1)
    server.kill()
    server.wait()
    return None


@pytest.fixture(scope="module")
def display():
    """A private Xvfb server on a display number nobody else uses."""
    missing = [t for t in ("Xvfb", "xdotool") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} for real windows and keys "
                    "(apt-get install xvfb xdotool)")
    for number in range(100 + os.getpid() % 100, 400):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        server = _start_xvfb(number)
        if server is not None:
            break
    else:
        pytest.skip("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


def _xdotool(display, *args) -> str:
    return subprocess.run(["xdotool", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, DISPLAY=display), timeout=30).stdout.strip()


def _open_window(tiny, clip, display, log, *args):
    """Start the live view on the clip (looping, in real time) and wait for its window."""
    proc = _popen(_webcam(tiny, clip, "--loop", "--log-state", log, *args),
                  env={"DISPLAY": display})
    window = _wait_for(lambda: _xdotool(display, "search", "--name", "^rtstyle$"), 90,
                       "the window", proc).split()[0]
    _wait_for(lambda: _events(log, "frame"), 60, "the first frame", proc)
    _xdotool(display, "windowfocus", "--sync", window)
    return proc, window


def _press(display, log, keys):
    """Real key presses, one at a time: OpenCV reports one key per GUI poll, so each waits
    until the running loop has logged the previous one."""
    for key in keys:
        seen = len(_events(log, "key"))
        _xdotool(display, "key", key)
        _wait_for(lambda s=seen: len(_events(log, "key")) > s, 30, f"key {key}")


def test_keys_in_a_real_window_change_alpha_and_save_a_snapshot(tiny_onnx_multi, clip, display,
                                                               tmp_path):
    log = tmp_path / "state.jsonl"
    proc, _ = _open_window(tiny_onnx_multi, clip, display, log, "--snapshot-dir", tmp_path)
    keys = ["2", "Up", "Up", "Up", "Down", "minus", "Tab", "4", "Left", "Right", "Right", "plus",
            "v", "space", "s", "space", "q"]
    _press(display, log, keys)
    code, out, err = _finish(proc)
    assert code == 0, err
    expected = np.array(_events(log, "frame")[0]["alpha"])  # the model's defaults
    expected[1] += STEP * (3 - 1 - 1)
    expected[3] += STEP * (-1 + 2 + 1)
    pressed = _events(log, "key")
    names = {"minus": "-", "plus": "+"}
    assert [k["key"] for k in pressed] == [names.get(k, k) for k in keys], pressed  # none lost
    last = pressed[-1]
    assert last["alpha"] == pytest.approx(expected.tolist(), abs=1e-4)
    assert last["selected"] == 3 and last["style"] == "style1"
    assert last["flags"] == {"walk": False, "split": True, "hud": True, "frozen": False,
                             "help": False, "keep_colors": False}
    assert pressed[keys.index("space")]["flags"]["frozen"]
    assert _events(log, "end")[0]["reason"] == "quit"
    snapshots = list(tmp_path.glob("rtstyle-*.png"))
    tag = "-".join(f"{v:.2f}" for v in expected)
    assert len(snapshots) == 1 and snapshots[0].name.endswith(f"-a{tag}-style1.png")
    assert f"snapshot: {snapshots[0]}" in out


def _send_wm_delete(display: str, window: int) -> None:
    """What a window manager's close button sends: WM_PROTOCOLS / WM_DELETE_WINDOW."""
    lib = ctypes.util.find_library("X11")
    if lib is None:
        pytest.skip("libX11 not found")
    x11 = ctypes.CDLL(lib)

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong),
                    ("send_event", ctypes.c_int), ("display", ctypes.c_void_p),
                    ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    x11.XOpenDisplay.restype, x11.XOpenDisplay.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                               ctypes.POINTER(XEvent)]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.encode())
    event = XEvent()
    event.xclient.type, event.xclient.window, event.xclient.format = 33, window, 32
    event.xclient.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
    event.xclient.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
    x11.XSendEvent(dpy, window, 0, 0, ctypes.byref(event))
    x11.XFlush(dpy)
    x11.XCloseDisplay(dpy)


def test_closing_the_window_ends_cleanly_and_keeps_the_recording(tiny_onnx, clip, display,
                                                                 tmp_path):
    log, video = tmp_path / "state.jsonl", tmp_path / "live.mp4"
    proc, window = _open_window(tiny_onnx, clip, display, log, "--record", video)
    _wait_for(lambda: len(_events(log, "frame")) >= 5, 60, "five frames", proc)
    _send_wm_delete(display, int(window))
    code, out, err = _finish(proc)
    assert code == 0, err
    assert _events(log, "end")[0]["reason"] == "window closed"
    frames, _ = _decode(video)
    assert len(frames) >= 5 and f"recorded {len(frames)} frames" in out


# ------------------------------------------------------------------------ headless
def test_headless_recording_is_playable_h264_with_the_expected_frames(tiny_onnx, clip,
                                                                      tmp_path):
    video = tmp_path / "out.mp4"
    # 63x47: odd sides, which 4:2:0 H.264 cannot hold; the recording drops a row and column
    r = run_cli(*_webcam(tiny_onnx, clip, "--no-window", "--every-frame", "--record", video,
                         "--max-frames", 12, "--size", "63x47", "--scale", "0.5", "--mirror",
                         "--alpha", "relu1_1=0.9"))
    assert r.returncode == 0, r.stderr
    frames, (codec, pix_fmt, w, h) = _decode(video)
    assert len(frames) == 12 and (codec, pix_fmt, w, h) == ("h264", "yuv420p", 62, 46)
    assert "recorded 12 frames" in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary left


def test_sigterm_finalises_the_recording(tiny_onnx, clip, tmp_path):
    log, video = tmp_path / "state.jsonl", tmp_path / "live.mp4"
    proc = _popen(_webcam(tiny_onnx, clip, "--no-window", "--loop", "--record", video,
                          "--log-state", log))
    _wait_for(lambda: len(_events(log, "frame")) >= 5, 90, "five frames", proc)
    proc.send_signal(signal.SIGTERM)
    code, out, err = _finish(proc)
    assert code == 130 and "Traceback" not in err
    frames, _ = _decode(video)
    assert len(frames) >= 5 and _events(log, "end")[0]["reason"] == "interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4", "state.jsonl"]


@pytest.mark.parametrize("args,message", [
    (["--source", "missing.mp4"], "video source not found: missing.mp4"),
    (["--source", "97"], "cannot open camera 97"),
    (["--alpha", "0.5,1.5,0.5,0.5"], "α relu2_1 = 1.5 is outside its range [0, 1]"),
    (["--alpha", "0.5,0.5"], "--alpha has 2 values but the model has 4"),
    (["--style", "nope"], "unknown style 'nope'"),
    (["--provider", "metal"], "unknown provider 'metal'"),
])
def test_bad_sources_and_alpha_are_one_line_errors(tiny_onnx, clip, args, message):
    r = run_cli("webcam", "--engine", tiny_onnx, "--source", clip, "--no-window", *args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert message in lines[0]


def test_webcam_runtime_does_not_import_torch(tiny_onnx, clip):
    code = ("import atexit, sys; atexit.register(lambda: print('torch' in sys.modules)); "
            "from rt_style.cli import main; "
            f"main(['webcam', '--engine', {str(tiny_onnx)!r}, '--source', {str(clip)!r}, "
            "'--no-window', '--every-frame', '--max-frames', '2'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


# ------------------------------------------------------------------------ capture
class FakeCamera:
    """cv2.VideoCapture stand-in: `good` frames, then failures (a camera pulled out)."""

    opened = 0

    def __init__(self, good=3, delay=0.0, shape=(6, 8, 3)):
        FakeCamera.opened += 1
        self.left, self.delay, self.shape, self.n = good, delay, shape, 0

    def isOpened(self):
        return True

    def get(self, prop):
        return 0.0

    def set(self, prop, value):
        return True

    def read(self):
        time.sleep(self.delay)
        if self.left <= 0:
            return False, None
        self.left -= 1
        self.n += 1
        return True, np.full(self.shape, self.n % 256, np.uint8)

    def release(self):
        pass


def test_a_camera_that_stops_is_reconnected_then_reported():
    FakeCamera.opened = 0
    cap = Capture(0, reconnects=2, reconnect_delay=0.01,
                  opener=lambda _: FakeCamera(good=3 if FakeCamera.opened == 0 else 0)).open()
    got = []
    with pytest.raises(UserError, match="camera 0 stopped delivering frames .*2 reconnect"):
        for _ in range(100):
            frame = cap.get(timeout=1)
            if frame is not None:
                got.append(frame.index)
    cap.close()
    assert got and FakeCamera.opened == 3  # opened once, then two reconnect attempts


def test_a_camera_that_comes_back_keeps_delivering():
    FakeCamera.opened = 0
    cap = Capture(0, reconnects=3, reconnect_delay=0.01,
                  opener=lambda _: FakeCamera(good=2 if FakeCamera.opened != 1 else 0)).open()
    indices = []
    while len(indices) < 5:
        frame = cap.get(timeout=5)
        assert frame is not None
        indices.append(frame.index)
    cap.close()
    assert indices == sorted(indices) and FakeCamera.opened >= 3


def test_only_the_newest_frame_is_kept_when_stylizing_is_slower():
    cameras = []
    cap = Capture(0, opener=lambda _: cameras.append(FakeCamera(good=10**6, delay=0.005))
                  or cameras[-1]).open()
    indices = []
    for _ in range(5):
        time.sleep(0.05)  # "inference": about ten camera frames long
        read = cameras[0].n  # frames the camera has delivered so far (index = reads - 1)
        frame = cap.get(timeout=1)
        assert frame.index >= read - 2  # the newest (or the one being handed over), not queued
        indices.append(frame.index)
    cap.close()
    assert indices[-1] - indices[0] > len(indices)  # frames in between were dropped


def test_every_frame_mode_hands_over_a_file_in_order(clip):
    cap = Capture(str(clip), every_frame=True).open()
    indices = []
    while not cap.ended:
        frame = cap.get(timeout=5)
        if frame is not None:
            indices.append(frame.index)
    cap.close()
    assert indices == list(range(FRAMES)) and cap.fps == pytest.approx(FPS)


def test_a_file_plays_at_its_own_frame_rate(clip):
    cap = Capture(str(clip)).open()
    start, count = time.perf_counter(), 0
    while not cap.ended:
        count += cap.get(timeout=5) is not None
    elapsed = time.perf_counter() - start
    cap.close()
    assert elapsed >= (FRAMES - 2) / FPS and count >= FRAMES // 2


# ------------------------------------------------------------------------ controls
def test_controls_keys_without_a_window():
    names = ["style:relu1_1", "style:relu2_1", "style:relu3_1"]
    c = Controls(names, [0.5, 0.5, 0.5], [[0, 1]] * 3, ["a", "b", "c"], seed=0)
    c.press("3", 0)
    for _ in range(12):
        c.press("Up", 0)  # clamped at the top of the range
    assert c.alpha.tolist() == pytest.approx([0.5, 0.5, 1.0]) and c.selected == 2
    c.press("Tab", 0)
    c.press("Tab", 0)
    assert c.style_label() == "c"
    c.press("r", 0)
    assert ((c.alpha >= 0) & (c.alpha <= 1)).all()
    c.press("w", 10.0)
    walked = c.alpha.copy()
    c.tick(12.0)
    assert c.walk and not np.allclose(c.alpha, walked)
    c.press("Down", 12.0)  # a manual change ends the walk
    assert not c.walk
    c.press("d", 0)
    assert c.alpha.tolist() == [0.5, 0.5, 0.5]
    for key in ("v", "h", "space", "?"):
        c.press(key, 0)
    assert c.state()["flags"] == {"walk": False, "split": True, "hud": False, "frozen": True,
                                  "help": True, "keep_colors": False}
    assert c.press("s", 0) == "snapshot" and c.press("Esc", 0) == "quit"
    assert [key_name(k) for k in (65362, 65364, 65361, 65363, 9, 27, 32, 113, 43, -1)] == [
        "Up", "Down", "Left", "Right", "Tab", "Esc", "space", "q", "+", None]
    # Shift (held for '+'), Ctrl, Alt: a lone modifier is no key press
    assert [key_name(k) for k in (65505, 65506, 65507, 65513)] == [None] * 4


def test_capture_thread_stops_promptly(clip):
    cap = Capture(str(clip), loop=True).open()
    cap.get(timeout=5)
    t = threading.Thread(target=cap.close)
    t.start()
    t.join(timeout=5)
    assert not t.is_alive()

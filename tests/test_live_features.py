"""Live features (issue 19): brush size, strength, keep colours, the virtual camera and the one
key table behind the handler, the help overlay and the README. Real keys go to a real window
under Xvfb (tests/test_webcam.py's fixtures); the virtual camera is tested through a fake
camera, through pyvirtualcam with a fake backend, and on a real v4l2loopback device where the
machine has one."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from rt_style.controls import HELP, KEYS, SCALE_MIN, Controls, help_text, readme_table
from rt_style.engine import load_engine
from rt_style.errors import UserError
from rt_style.frameops import KeepColors, keep_colors
from rt_style.hud import draw_help, draw_hud, hud_lines
from rt_style.registry import resolve
from rt_style.vcam import VirtualCamera
from tests.conftest import ROOT, run_cli, smooth_image
from tests.test_webcam import (  # noqa: F401  (display is a fixture)
    _events,
    _finish,
    _open_window,
    _popen,
    _press,
    _wait_for,
    display,
)

NAMES = ["style:relu1_1", "style:relu2_1", "style:relu3_1", "style:relu4_1"]


def _chroma(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)[..., 1:].astype(np.int16)


def _luma(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)[..., 0].astype(np.int16)


def _photo(h=120, w=160, seed=0) -> np.ndarray:
    """A colourful photo-like BGR image."""
    return np.ascontiguousarray(np.asarray(smooth_image(np.random.default_rng(seed), h, w))
                                [..., ::-1])


# ------------------------------------------------------------------------ the key table
def test_readme_key_list_is_the_key_table():
    """The README's key table is generated from controls.KEYS: regenerate it with
    `python -m rt_style.controls` when a key changes."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_table() in readme, "README key table is stale: run python -m rt_style.controls"


def test_every_key_of_the_table_is_handled_and_listed():
    c = Controls(NAMES, [0.5] * 4, [[0, 1]] * 4, ["a", "b"], seed=0)
    for entry in KEYS:
        for name in entry.keys:
            c.press(name, 0.0)  # every action exists (an unknown one raises AttributeError)
    assert c.press("x", 0) is None  # a key outside the table does nothing
    assert [h[0] for h in HELP] == [k.label for k in KEYS]
    assert len(help_text().splitlines()) == len(KEYS)
    image = np.zeros((480, 640, 3), np.uint8)
    assert draw_help(image).any()  # the overlay draws the table's rows


# ------------------------------------------------------------------------ strength and brush
def test_strength_scales_every_style_alpha_together_and_keeps_ratios():
    names = ["content:relu2_2", *NAMES[:3]]
    c = Controls(names, [0.5, 0.2, 0.4, 0.1], [[0, 1]] * 4, ["a"], seed=0)
    for _ in range(4):
        c.press(".", 0)  # four presses: ×2
    assert c.strength == pytest.approx(2.0)
    assert c.applied_alpha().tolist() == pytest.approx([0.5, 0.4, 0.8, 0.2])  # content kept
    assert c.alpha.tolist() == pytest.approx([0.5, 0.2, 0.4, 0.1])  # the sliders stay put
    c.press(">", 0)
    c.press(">", 0)  # ×2.83: relu3_1 clamps at 1, the others keep their ratio
    assert c.applied_alpha()[1:].tolist() == pytest.approx([0.566, 1.0, 0.283], abs=1e-3)
    for _ in range(40):
        c.press(",", 0)
    assert c.strength == 0 and c.applied_alpha().tolist() == pytest.approx([0.5, 0, 0, 0])
    c.press("<", 0)
    assert c.strength == 0
    c.press(".", 0)  # from 0 back up to the lowest step
    assert c.strength == pytest.approx(0.25)
    for _ in range(40):
        c.press(".", 0)
    assert c.strength == pytest.approx(4.0)
    c.changed = False
    c.press("d", 0)
    assert c.strength == 1 and c.changed


def test_brush_keys_walk_a_ladder_of_scales_and_come_back_to_one():
    c = Controls(NAMES, [0.5] * 4, [[0, 1]] * 4, ["a"], scale=1.0)
    seen = []
    for _ in range(20):
        c.press("]", 0)
        seen.append(c.scale)
    assert seen[:4] == pytest.approx([0.8409, 0.7071, 0.5946, 0.5], abs=1e-4)
    assert seen[-1] == SCALE_MIN and all(a >= b for a, b in zip(seen, seen[1:]))
    for _ in range(20):
        c.press("[", 0)
    assert c.scale == 1.0  # exactly: repeated presses do not drift
    c = Controls(NAMES, [0.5] * 4, [[0, 1]] * 4, ["a"], scale=0.45)  # --scale off the ladder
    c.press("[", 0)
    assert c.scale > 0.45
    c.press("]", 0)
    c.press("]", 0)
    assert c.scale < 0.45


def test_hud_shows_scale_strength_and_keep_colours():
    c = Controls(NAMES, [0.5] * 4, [[0, 1]] * 4, ["a"], scale=0.5)
    c.press(".", 0)
    c.press("c", 0)
    head, brush = hud_lines(c, 29.5, 40)
    assert "COLOURS" in head and brush == "scale 0.50  strength x1.19"
    image = np.zeros((480, 640, 3), np.uint8)
    assert draw_hud(image, c, 29.5, 40).any()


class RecordingEngine:
    """Stands in for an engine: records the frame sizes it is given, returns a fixed colour."""

    def __init__(self):
        self.sizes = []

    def run(self, frames, alpha=None, style=None):
        frames = np.asarray(frames)
        self.sizes.append(frames.shape[-3:-1])
        out = np.empty_like(frames)
        out[...] = (30, 200, 90)
        return out


# ------------------------------------------------------------------------ keep colours
def test_keep_colors_keeps_the_inputs_chroma_and_takes_the_stylized_luminance():
    content, stylized = _photo(seed=0), _photo(seed=1)[:, ::-1].copy()
    kept = keep_colors(content, stylized)
    d = np.abs(_chroma(kept) - _chroma(content))
    assert d.mean() < 1 and np.percentile(d, 95) <= 3  # a few levels (clipping at the gamut)
    assert np.abs(_chroma(stylized) - _chroma(content)).mean() > 5  # so the test can fail
    assert np.abs(_luma(kept) - _luma(stylized)).mean() < 1
    batch = keep_colors(np.stack([content, stylized]), np.stack([stylized, content]))
    assert np.array_equal(batch[0], kept)  # a batch is the frames one by one
    with pytest.raises(ValueError):
        keep_colors(content, stylized[:10])


def test_keep_colors_engine_wraps_any_engine():
    engine = RecordingEngine()
    wrapped = KeepColors(engine)
    frame = _photo(48, 64)
    out = wrapped.run(frame)
    assert np.abs(_chroma(out) - _chroma(frame)).mean() < 1
    assert wrapped.sizes is engine.sizes  # everything else is the engine's


def test_image_keep_colors_output_has_the_photos_chroma(tmp_path):
    src = tmp_path / "photo.png"
    Image.fromarray(_photo()[..., ::-1]).save(src)
    for args, name in (([], "plain.png"), (["--keep-colors"], "kept.png")):
        r = run_cli("image", src, "-o", tmp_path / name, "--style", "0", *args)
        assert r.returncode == 0, r.stderr
    photo = cv2.imread(str(src))
    plain, kept = (cv2.imread(str(tmp_path / n)) for n in ("plain.png", "kept.png"))
    d = np.abs(_chroma(kept) - _chroma(photo))
    assert d.mean() < 1 and np.percentile(d, 95) <= 3
    assert np.abs(_chroma(plain) - _chroma(photo)).mean() > 5
    assert np.abs(_luma(kept) - _luma(plain)).mean() < 1


def _clip(path: Path, frames: int = 8, w: int = 160, h: int = 120, moving=True) -> Path:
    """A colourful H.264 clip (static when moving=False: every frame the same picture)."""
    photo = _photo(h, w)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.options = {"crf": "12"}
        for i in range(frames):
            img = np.roll(photo, 3 * i if moving else 0, axis=1)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, "bgr24")))
        out.mux(stream.encode(None))
    return path


def _frames(path: Path) -> list[np.ndarray]:
    """Frames decoded as `rtstyle video` decodes them (the input's own matrix and range)."""
    from rt_style.videoio import VideoReader

    reader = VideoReader(path, pix_fmt="yuv444p")
    try:
        return [f for chunk in reader.chunks() if chunk.frames is not None for f in chunk.frames]
    finally:
        reader.close()


def test_video_keep_colors_output_has_the_clips_chroma(tmp_path):
    clip = _clip(tmp_path / "clip.mp4")
    for args, name in (([], "plain.mp4"), (["--keep-colors"], "kept.mp4")):
        # lossless 4:4:4, so that what is measured is the colour step, not the encoder
        r = run_cli("video", clip, "-o", tmp_path / name, "--style", "0", "--crf", "0",
                    "--pix-fmt", "yuv444p", "--batch", "3", *args)
        assert r.returncode == 0, r.stderr
    source, plain, kept = (_frames(tmp_path / n) for n in ("clip.mp4", "plain.mp4", "kept.mp4"))
    assert len(source) == len(kept) == 8
    d = np.mean([np.abs(_chroma(k) - _chroma(s)).mean() for k, s in zip(kept, source)])
    d_plain = np.mean([np.abs(_chroma(p) - _chroma(s)).mean() for p, s in zip(plain, source)])
    assert d < 1 and d_plain > 5, (d, d_plain)


def test_bench_shows_what_keeping_colours_costs(tmp_path):
    out = tmp_path / "bench.json"
    r = run_cli("bench", "--sizes", "64x48", "--keep-colors", "--frames", "5", "--warmup", "1",
                "--alpha", "fixed", "--threads", "1", "--json", out)
    assert r.returncode == 0, r.stderr
    assert "+keep-colors" in r.stdout and "× base" in r.stdout
    assert "keep colours alone:" in r.stdout
    record = json.loads(out.read_text())
    kept = [x for x in record["results"] if x["keep_colors"]]
    assert len(kept) == 1 and kept[0]["speed_vs_base"] > 0
    assert record["keep_colors_alone"][0]["width"] == 64
    r = run_cli("bench", "--keep-colors", "--vs", "cpu")
    assert r.returncode == 2 and "give --vs or --keep-colors" in r.stderr


# ------------------------------------------------------------------------ virtual camera
class FakeCamera:
    """What VirtualCamera needs of pyvirtualcam.Camera: send and close."""

    def __init__(self, width, height, fps, device):
        self.width, self.height, self.fps, self.device = width, height, fps, device
        self.sent, self.closed = [], False

    def send(self, frame):
        self.sent.append(frame)

    def close(self):
        self.closed = True


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


def _vcam(clock, size=(64, 48), fps=10.0):
    cams = []

    def opener(*args):
        cams.append(FakeCamera(*args))
        return cams[-1]

    return VirtualCamera(size, fps, "/dev/video9", opener=opener, clock=clock,
                         sleep=clock.sleep), cams


def test_virtual_camera_gets_rgb_frames_at_its_own_size():
    clock = Clock()
    vcam, (cam,) = _vcam(clock)
    assert (cam.width, cam.height, cam.fps, cam.device) == (64, 48, 10.0, "/dev/video9")
    frame = np.zeros((96, 128, 3), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    assert vcam.offer(frame)
    (sent,) = cam.sent
    assert sent.shape == (48, 64, 3) and sent.dtype == np.uint8
    assert sent[..., 2].min() == 255 and sent[..., :2].max() == 0  # RGB: blue is last
    vcam.close()
    assert cam.closed


def test_virtual_camera_paces_frames_to_its_rate():
    clock = Clock()
    vcam, (cam,) = _vcam(clock, fps=10.0)
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(30)]
    for f in frames[:10]:  # a burst: ten renders within 10 ms
        vcam.offer(f)
        clock.t += 0.001
    assert len(cam.sent) == 2  # the burst allowance, then wait for the rate
    clock.t += 0.1
    assert vcam.pump() and len(cam.sent) == 3
    assert cam.sent[-1][0, 0, 0] == 9 and vcam.replaced == 7  # only the newest went out
    # a steady source at the camera's rate, with jitter: every frame goes out
    clock.t += 1
    for i, f in enumerate(frames[10:20]):
        clock.t += 0.1 + (0.02 if i % 2 else -0.02)
        assert vcam.offer(f)
    # a silent source (frozen picture): the last frame is repeated at the rate
    sent = len(cam.sent)
    for _ in range(50):
        clock.t += 0.01
        vcam.pump()
    assert 3 <= len(cam.sent) - sent <= 5 and cam.sent[-1][0, 0, 0] == 19
    # --every-frame: wait for each turn instead of dropping; the file plays at its rate
    start, sent = clock.t, len(cam.sent)
    for f in frames[20:30]:
        assert vcam.offer(f, wait=True)
    assert len(cam.sent) - sent == 10 and clock.t - start == pytest.approx(0.9, abs=0.11)


def test_virtual_camera_errors_are_one_line():
    def fails(*args):
        raise RuntimeError("'v4l2loopback' backend: No v4l2 loopback device found\n'x': y")

    with pytest.raises(UserError) as e:
        VirtualCamera((64, 48), 30, opener=fails)
    message = str(e.value)
    assert "\n" not in message and "No v4l2 loopback device found 'x': y" in message
    if sys.platform.startswith("linux"):
        assert "sudo modprobe v4l2loopback" in message


def test_virtual_camera_through_pyvirtualcam_with_a_fake_backend():
    pyvirtualcam = pytest.importorskip("pyvirtualcam")
    got = {}

    class Backend:
        def __init__(self, *, width, height, fps, fourcc, device, **kw):
            got.update(width=width, height=height, fps=fps, fourcc=fourcc, frames=[])

        def send(self, frame):
            got["frames"].append(frame.copy())

        def close(self):
            got["closed"] = True

        def device(self):
            return "fake0"

        def native_fourcc(self):
            return None

    pyvirtualcam.register_backend("rtstyle-test", Backend)

    def opener(w, h, fps, device):
        return pyvirtualcam.Camera(w, h, fps, fmt=pyvirtualcam.PixelFormat.RGB,
                                   backend="rtstyle-test")

    vcam = VirtualCamera((64, 48), 30, opener=opener)
    frame = _photo(48, 64)
    vcam.offer(frame)
    assert vcam.describe() == "virtual camera fake0 (rtstyle-test) 64x48 at 30 fps"
    vcam.close()
    assert (got["width"], got["height"], got["fps"]) == (64, 48, 30)
    assert np.array_equal(got["frames"][0].reshape(48, 64, 3), frame[..., ::-1])
    assert got["closed"]


FAKE_BACKEND = """
import json, sys, numpy as np, pyvirtualcam
log = open(sys.argv[1], "w")
class Backend:
    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        log.write(json.dumps({"open": [width, height, fps], "device": device}) + "\\n")
        self.shape = (height, width, 3)
    def send(self, frame):
        self.n = getattr(self, "n", 0) + 1
        np.save(sys.argv[1] + f".{self.n}.npy", frame.reshape(self.shape))
        log.write(json.dumps({"frame": self.n}) + "\\n")
        log.flush()
    def close(self):
        log.write(json.dumps({"closed": True}) + "\\n")
        log.close()
    def device(self):
        return "/dev/video42"
    def native_fourcc(self):
        return None
pyvirtualcam.register_backend("v4l2loopback", Backend)  # in place of the real one
from rt_style.cli import main
main(sys.argv[2:])
"""


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return _clip(tmp_path_factory.mktemp("clip") / "clip.mp4", frames=10)


def test_webcam_hands_frames_to_the_virtual_camera(clip, tmp_path):
    """The whole command, pyvirtualcam included, down to its backend (a fake: no device)."""
    pytest.importorskip("pyvirtualcam")
    log = tmp_path / "vcam.jsonl"
    r = subprocess.run(
        [sys.executable, "-c", FAKE_BACKEND, log, "webcam", "--source", clip, "--no-window",
         "--every-frame", "--max-frames", "6", "--style", "0", "--threads", "1",
         "--virtual-camera", "--keep-colors", "--scale", "0.5"],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records[0] == {"open": [160, 120, 30.0], "device": None}
    frames = [np.load(f"{log}.{x['frame']}.npy") for x in records if "frame" in x]
    assert len(frames) == 6 and records[-1] == {"closed": True}
    source = cv2.VideoCapture(str(clip)).read()[1]  # decoded as the webcam's capture does
    assert frames[0].shape == source.shape
    chroma = _chroma(np.ascontiguousarray(frames[0][..., ::-1]))  # sent as RGB
    assert np.abs(chroma - _chroma(source)).mean() < 1  # --keep-colors, in RGB order
    assert "virtual camera /dev/video42 (v4l2loopback) 160x120 at 30 fps" in r.stdout
    assert "sent 6 frames to the virtual camera" in r.stdout


def test_virtual_camera_without_pyvirtualcam_says_what_to_install(clip):
    code = ("import sys; sys.modules['pyvirtualcam'] = None; from rt_style.cli import main; "
            f"main(['webcam', '--source', {str(clip)!r}, '--no-window', '--virtual-camera'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith("error: --virtual-camera needs pyvirtualcam: "
                               "pip install 'rtstyle[vcam]'")
    if sys.platform.startswith("linux"):
        assert "sudo modprobe v4l2loopback" in lines[0]


def test_virtual_camera_without_a_device_is_a_one_line_error(clip, tmp_path):
    pytest.importorskip("pyvirtualcam")
    device = "/dev/video63"
    if Path(device).exists():
        pytest.skip(f"{device} exists on this machine")
    video = tmp_path / "out.mp4"
    r = run_cli("webcam", "--source", clip, "--no-window", "--virtual-camera", device,
                "--record", video)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: cannot open the virtual camera {device}: ")
    if sys.platform.startswith("linux"):
        assert "sudo modprobe v4l2loopback" in lines[0]
    assert r.stdout == "" and list(tmp_path.iterdir()) == []  # nothing printed or written


def _loopback_devices() -> list[str]:
    """v4l2loopback devices, as the kernel names them in sysfs."""
    found = []
    for name in sorted(Path("/sys/devices/virtual/video4linux").glob("video*/name")):
        try:
            if Path("/dev", name.parent.name).exists():
                found.append(str(Path("/dev", name.parent.name)))
        except OSError:
            pass
    return found


def test_virtual_camera_on_a_real_v4l2loopback_device(clip, tmp_path):
    """Where the machine has a v4l2loopback device (sudo modprobe v4l2loopback
    exclusive_caps=1): a reader of the device sees the stylized frames at their size."""
    pytest.importorskip("pyvirtualcam", reason="pyvirtualcam is not installed: "
                                               "pip install 'rtstyle[vcam]'")
    devices = _loopback_devices()
    if not devices:
        pytest.skip("no v4l2loopback device on this machine (a kernel module: sudo modprobe "
                    "v4l2loopback devices=1 exclusive_caps=1; containers usually cannot load it)")
    device = devices[0]
    proc = _popen(["webcam", "--source", clip, "--no-window", "--loop", "--style", "0",
                   "--threads", "1", "--virtual-camera", device])
    try:
        got = []

        def read():
            end = time.monotonic() + 60
            while time.monotonic() < end and not got:
                cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
                ok, frame = cap.read() if cap.isOpened() else (False, None)
                cap.release()
                if ok:
                    got.append(frame)
                time.sleep(0.5)

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=90)
        assert got, "nothing could be read from the virtual camera"
        assert got[0].shape == (120, 160, 3)
    finally:
        proc.terminate()
        code, _, err = _finish(proc)
    assert code == 130, err


# ------------------------------------------------------------------------ real keys
def _snapshots(log: Path) -> list[np.ndarray]:
    return [cv2.imread(e["path"]) for e in _events(log, "snapshot")]


def test_brush_strength_and_keep_colours_keys_in_a_real_window(display, tmp_path):  # noqa: F811
    """Real key presses on a frozen frame of a still clip: each snapshot differs only by what
    the keys changed."""
    clip = _clip(tmp_path / "still.mp4", frames=30, moving=False)
    log = tmp_path / "state.jsonl"
    proc, _ = _open_window("classics", clip, display, log, "--snapshot-dir", tmp_path,
                           "--style", "0")
    keys = ["space", "s", "bracketright", "bracketright", "s", "period", "period", "period",
            "period", "s", "c", "s", "q"]
    _press(display, log, keys)
    code, out, err = _finish(proc)
    assert code == 0, err
    pressed = _events(log, "key")
    assert [k["key"] for k in pressed] == ["space", "s", "]", "]", "s", ".", ".", ".", ".", "s",
                                           "c", "s", "q"]
    first = _events(log, "frame")[0]
    assert first["scale"] == 1 and first["strength"] == 1
    last = pressed[-1]
    assert last["scale"] == pytest.approx(0.7071) and last["strength"] == 2
    # the sliders stay where the model starts them; strength 2 doubles them, up to each range
    engine = load_engine(resolve("classics"))
    defaults, top = engine.alpha_defaults, engine.alpha_ranges[:, 1]
    assert last["alpha"] == pytest.approx(defaults.tolist())
    assert last["applied_alpha"] == pytest.approx(np.minimum(2 * defaults, top).tolist())
    assert last["flags"]["keep_colors"] and last["flags"]["frozen"]

    plain, brush, strong, kept = _snapshots(log)
    source = cv2.VideoCapture(str(clip)).read()[1]  # the picture every frame of the clip holds
    assert plain.shape == brush.shape == strong.shape == kept.shape == source.shape
    assert np.abs(plain.astype(int) - brush).mean() > 2  # bigger strokes: another picture
    assert np.abs(brush.astype(int) - strong).mean() > 2  # stronger: another picture
    d_kept = np.abs(_chroma(kept) - _chroma(source))
    assert d_kept.mean() < 2 and np.percentile(d_kept, 95) <= 4  # the input's colours
    assert np.abs(_chroma(strong) - _chroma(source)).mean() > 5
    assert np.abs(_luma(kept) - _luma(strong)).mean() < 1  # the stylized luminance


def test_scale_and_keep_colors_options_set_the_start(clip, tmp_path):
    log = tmp_path / "state.jsonl"
    r = run_cli("webcam", "--source", clip, "--no-window", "--every-frame", "--max-frames", "2",
                "--style", "0", "--scale", "0.5", "--keep-colours", "--log-state", log)
    assert r.returncode == 0, r.stderr
    frame = _events(log, "frame")[0]
    assert frame["scale"] == 0.5 and frame["flags"]["keep_colors"]

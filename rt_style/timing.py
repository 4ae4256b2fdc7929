"""Timing stylization on this machine: the library under `rtstyle bench` and benchmarks/.

`time_interleaved` times `Engine.run` for several cases (engines × α modes) on the same frames,
taking turns, so that other load on the machine falls on all of them alike: ratios between them
are meaningful even when absolute numbers are not. `run_webcam` and `run_video` run the real code
paths on a video file (the webcam loop, webcam.Live; the video pipeline, video.transcode) and
record the time spent in each stage, so the bottleneck shows; `finish` and `summary` turn the
times into results, and `machine` says what they were measured on.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rt_style.engine import Engine
from rt_style.errors import UserError
from rt_style.frameops import KeepColors, keep_colors
from rt_style.options import style_weights

ALPHA_MODES = ("fixed", "changing")  # the model's defaults | a new random α every call
FRAME_POOL = 4  # distinct input frames cycled through, so no one buffer stays hot in cache
BLOCK = 5  # interleaved cases take turns of this many timed calls


# ------------------------------------------------------------------------------ the machine
def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1

def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpus() -> list[str]:
    """NVIDIA GPUs as nvidia-smi names them (without importing a GPU library)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        out = subprocess.run([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def _version(module: str) -> str | None:
    try:
        return __import__(module).__version__
    except (ImportError, AttributeError):
        return None


def machine() -> dict:
    """What the numbers were measured on: CPU, cores, GPU, library versions, OS."""
    import onnxruntime

    from rt_style import __version__

    try:
        import importlib.metadata as md

        trt = md.version("tensorrt")
    except Exception:  # not installed, or no metadata
        trt = None
    return {"cpu": _cpu_model(), "cores": cores(), "logical_cpus": os.cpu_count(),
            "gpus": _gpus(), "onnxruntime": onnxruntime.__version__,
            "ort_providers": onnxruntime.get_available_providers(), "tensorrt": trt,
            "numpy": np.__version__, "opencv": _version("cv2"), "av": _version("av"),
            "rtstyle": __version__, "python": platform.python_version(),
            "os": platform.platform(), "load_average": _load()}


def _load() -> list[float] | None:
    """1, 5 and 15-minute load averages: other work on the machine shows here."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


# ------------------------------------------------------------------------------ statistics
def summary(seconds, batch: int = 1) -> dict:
    """Median, p90, p99, mean (ms per call or per frame interval) and frames per second."""
    ms = np.asarray(seconds, np.float64) * 1e3
    if ms.size == 0:
        raise UserError("nothing was timed: give --frames of at least 1")
    median = float(np.median(ms))
    return {"n": int(ms.size), "median_ms": median, "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean()),
            "min_ms": float(ms.min()), "fps": batch * 1e3 / median if median > 0 else 0.0}


# ------------------------------------------------------------------------------ latency
@dataclass
class Case:
    """One thing to time: an engine with its α mode."""

    label: str
    engine: Engine
    alpha: str = "fixed"  # fixed (the model's defaults) | changing (a new random α per call)
    style: np.ndarray | None = None  # None: the first style of a multi-style model
    seconds: list = field(default_factory=list)

    def __post_init__(self):
        if self.style is None and self.engine.num_styles > 1:
            self.style = style_weights(self.engine, None)

    def conditioning(self, rng, batch: int):
        e = self.engine
        if self.alpha == "fixed":
            return e.alpha_defaults
        low, high = e.alpha_ranges.T
        return rng.uniform(low, high, (batch, e.num_alpha)).astype(np.float32)


def frames_for(size, batch: int, seed: int = 0) -> list[np.ndarray]:
    """A few distinct batches of uint8 BGR frames (their content does not change the speed)."""
    w, h = size
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8) for _ in range(FRAME_POOL)]


def time_interleaved(cases: list[Case], size, batch: int, frames: int, warmup: int,
                     seed: int = 0, block: int = BLOCK) -> list[Case]:
    """Time every case on the same frames, taking turns in blocks of `block` calls (order
    reversed every round: A B, B A, …), so that load from elsewhere on the machine falls on
    all of them alike. Each turn starts with one untimed call: an ONNX Runtime session's
    threads keep spinning for a while after a run, which would slow the next session down."""
    rng = np.random.default_rng(seed)
    pool = frames_for(size, batch, seed)
    for case in cases:
        case.seconds = []
    lead = 1 if len(cases) > 1 else 0
    calls = 0
    for turn in range(-(-(warmup + frames) // block)):
        for case in cases if turn % 2 == 0 else cases[::-1]:
            for i in range(lead + block):
                alpha = case.conditioning(rng, batch)
                image = pool[(calls + i) % len(pool)]
                start = time.perf_counter()
                case.engine.run(image, alpha, case.style)
                elapsed = time.perf_counter() - start
                n = turn * block + i - lead  # this case's call number
                if i >= lead and warmup <= n < warmup + frames:
                    case.seconds.append(elapsed)
        calls += block
    return cases


def keep_colors_alone(size, batch: int, frames: int, warmup: int, seed: int) -> dict:
    """The keep-colours step by itself (OpenCV, no model) on frames of this size."""
    pool = frames_for(size, batch, seed)
    seconds = []
    for i in range(warmup + frames):
        content, stylized = pool[i % len(pool)], pool[(i + 1) % len(pool)]
        start = time.perf_counter()
        keep_colors(content, stylized)
        if i >= warmup:
            seconds.append(time.perf_counter() - start)
    return {"width": size[0], "height": size[1], "batch": batch, **summary(seconds, batch)}


# ------------------------------------------------------------------------------ clips
def make_clip(path: Path, size, frames: int, fps: int = 30, seed: int = 0) -> Path:
    """A camera-like H.264 clip: a smooth random texture panning, with a moving square."""
    import av
    import cv2

    w, h = size
    ew, eh = w + w % 2, h + h % 2  # yuv420p needs even sides; the reader resizes back
    rng = np.random.default_rng(seed)
    step = 3
    wide = ew + step * frames
    small = rng.integers(0, 256, (max(2, eh // 8), max(2, wide // 8), 3), dtype=np.uint8)
    texture = cv2.resize(small, (wide, eh), interpolation=cv2.INTER_CUBIC)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = ew, eh, "yuv420p"
        stream.codec_context.options = {"preset": "veryfast", "crf": "23"}
        side = max(2, min(ew, eh) // 6)
        for i in range(frames):
            img = np.ascontiguousarray(texture[:, i * step: i * step + ew])
            x = (i * 7) % max(1, ew - side)
            img[eh // 3: eh // 3 + side, x: x + side] = (40, 200, 240)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(stream.encode(None))
    return path


# ------------------------------------------------------------------------------ end to end
class _TimedRead:
    """cv2.VideoCapture whose read() (decoding, in the capture thread) is timed."""

    def __init__(self, cap, spans: dict):
        self._cap, self._spans = cap, spans

    def read(self):
        start = time.perf_counter()
        result = self._cap.read()
        self._spans.setdefault("capture", []).append((start, time.perf_counter()))
        return result

    def __getattr__(self, name):
        return getattr(self._cap, name)


def run_webcam(engine: Engine, source, size, frames: int, warmup: int, alpha: str = "fixed",
               style=None, sink: str = "none", workdir: Path | None = None,
               seed: int = 0, scale: float = 1.0, stabilize: float = 0.0) -> dict:
    """The real webcam loop (webcam.Live) on a file read as a camera would be, every frame once
    (Capture's every_frame: no pacing, no drops, looping), with the time spent in each stage.

    Returns raw spans for `finish`: a frame is done when the loop has rendered it.
    A KeepColors engine turns the loop's keep-colours on (the `c` key), as the webcam does it:
    on the full-size frame after resizing back."""
    import cv2

    from rt_style.capture import Capture
    from rt_style.controls import Controls
    from rt_style.stopping import graceful_stop
    from rt_style.webcam import Live, StateLog

    spans: dict[str, list] = {}

    def timed(stage, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spans.setdefault(stage, []).append((start, time.perf_counter()))
        return wrapper

    class TimedCapture(Capture):
        get = timed("wait", Capture.get)

    class TimedLive(Live):
        stylize = timed("stylize", Live.stylize)
        record = timed("record", Live.record)

        def render(self, fresh):
            if alpha == "changing":
                self.controls.press("r", time.perf_counter())  # the 'r' key: random α
            super().render(fresh)
            now = time.perf_counter()
            spans.setdefault("frame", []).append((now, now))

    capture = TimedCapture(str(source), size=size, every_frame=True, loop=True,
                           opener=lambda src: _TimedRead(cv2.VideoCapture(src), spans))
    kept = isinstance(engine, KeepColors)
    engine = engine.engine if kept else engine
    controls = Controls.for_engine(engine, style=style, seed=seed, keep_colors=kept,
                                   stabilize=stabilize)
    recorder = window = None
    if sink == "record":
        from rt_style.recorder import Recorder

        recorder = Recorder(Path(workdir or tempfile.gettempdir()) / "bench-webcam.mp4")
    with graceful_stop() as stop:
        capture.open()
        try:
            if recorder is not None:
                recorder.fps = capture.fps
            if sink == "window":
                from rt_style.window import Window

                window = Window("rtstyle bench", controls, capture.frame_size)
                window.show = timed("display", window.show)
                window.key = timed("display", window.key)
            live = TimedLive(engine, controls, capture, window=window, recorder=recorder,
                             log=StateLog(None, controls), max_frames=warmup + frames + 1,
                             scale=scale)
            cpu, start = time.process_time(), time.perf_counter()
            reason = live.run(stop)
            if reason != "max-frames":
                raise UserError(f"the webcam loop stopped early ({reason}) after {live.frames} "
                                "frames")
            raw = _raw(spans, start, warmup, cpu, ("capture", "wait", "stylize", "record",
                                                    "display"))
        finally:
            capture.close()
            if window is not None:
                window.close()
            if recorder is not None:
                recorder.close()
                recorder.path.unlink(missing_ok=True)
    raw["size"] = capture.frame_size
    return raw


def run_video(engine: Engine, source: Path, size, warmup: int, alpha: str = "fixed",
              style=None, batch: int = 1, sequential: bool = False,
              workdir: Path | None = None, seed: int = 0, stabilize: float = 0.0) -> dict:
    """The real video pipeline (video.transcode: decode → stylize → encode, overlapped in three
    threads) over the whole file, with the time spent in each stage.

    Returns raw spans for `finish`: a frame is done when the encoder has taken it."""
    from rt_style.pipeline import StageTimer
    from rt_style.stopping import graceful_stop
    from rt_style.video import alpha_schedule, transcode
    from rt_style.videoio import Encoding

    rng = np.random.default_rng(seed)
    if alpha == "fixed":
        schedule = alpha_schedule(engine)
    else:
        low, high = engine.alpha_ranges.T

        def schedule(times):
            return rng.uniform(low, high, (len(times), low.size))
    # The reader's last chunk may hold only other streams' packets: not a frame.
    timer = StageTimer(weigh=lambda chunk: 0 if chunk.frames is None else len(chunk.frames))
    dst = Path(workdir or tempfile.gettempdir()) / "bench-video.mp4"
    cpu, start = time.process_time(), time.perf_counter()
    with graceful_stop() as stop:
        outcome = transcode(Path(source), dst, engine, schedule, style, Encoding(), stop,
                            batch=batch, size=None if size is None else f"{size[0]}x{size[1]}",
                            sequential=sequential, timer=timer, stabilize=stabilize)
    names = {"source": "decode", "transform": "stylize", "sink": "encode"}
    spans = {names[k]: [(start, end) for start, end, n in v if n]
             for k, v in timer.spans.items()}
    spans["frame"] = [(end, end) for _, end in spans.get("encode", [])]
    raw = _raw(spans, start, -(-warmup // batch), cpu, ("decode", "stylize", "encode"))
    import av

    with av.open(str(dst)) as c:
        raw["size"] = (c.streams.video[0].width, c.streams.video[0].height)
    dst.unlink(missing_ok=True)
    raw["frames_written"] = outcome.frames
    return raw


def _raw(spans: dict, start: float, skip: int, cpu_before, order) -> dict:
    """Frame intervals after the first `skip` frames, and each stage's durations."""
    done = [end for _, end in spans.get("frame", [])]
    if len(done) < skip + 2:
        raise UserError(f"too few frames to time ({len(done)} after a warm-up of {skip}): "
                        "give more --frames or a longer --source")
    t0, t1 = done[skip], done[-1]
    cpu = time.process_time()
    stages = {}  # each stage's items after the warm-up ones (stages may run ahead of others)
    for name in order:
        d = [e - s for s, e in spans.get(name, [])[skip:]]
        if d:
            stages[name] = d
    return {"intervals": list(np.diff(done[skip:])), "stages": stages, "window": t1 - t0,
            "cpu_s": cpu - cpu_before,
            "wall_s": time.perf_counter() - start}


def finish(raws: list[dict], batch: int = 1) -> dict:
    """Statistics over one or more rounds of one variant: frame pace, stages, CPU use."""
    intervals = [x for r in raws for x in r["intervals"]]
    window = sum(r["window"] for r in raws)
    result = summary(intervals, batch)
    stages = {}
    for name in raws[0]["stages"]:
        d = np.array([x for r in raws for x in r["stages"].get(name, [])])
        stages[name] = {"median_ms": float(np.median(d)) * 1e3,
                        "p90_ms": float(np.percentile(d, 90)) * 1e3,
                        "total_s": float(d.sum()),
                        "busy": float(d.mean() / np.mean(intervals))}  # share of a frame's time
    result.update(stages=stages, overall_fps=batch * len(intervals) / window,
                  cpu_cores_used=sum(r["cpu_s"] for r in raws) / sum(r["wall_s"] for r in raws),
                  rounds=len(raws))
    return result

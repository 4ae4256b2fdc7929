"""`rtstyle webcam`: stylize a live camera (or a video file or stream) with α under your fingers.

Each new frame from the capture thread (which keeps only the newest, capture.py) is stylized
(at the brush scale, with the input's colours if asked: frameops.py), shown with the HUD and
optionally recorded and sent to a virtual camera (vcam.py); keys and trackbars change α, the
strength, the brush scale, the style and the view (controls.py, window.py). Every way out (q,
Esc, closing the window, Ctrl-C, SIGTERM, --max-frames, the end of a file, a camera that is
gone) leaves through the same cleanup, so a recording is always finalised and playable.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import cv2
import numpy as np

from rt_style.capture import Capture, describe_source, parse_source
from rt_style.controls import Controls, help_text, key_name
from rt_style.errors import UserError
from rt_style.frameops import keep_colors
from rt_style.hud import draw_help, draw_hud
from rt_style.options import (
    engine_options,
    fixed_alpha,
    keep_colors_option,
    open_engine,
    style_weights,
)
from rt_style.outputs import refuse_overwriting
from rt_style.scaling import parse_size, stylize_scaled
from rt_style.stabilizer import Stabilizer, stabilize_option
from rt_style.stopping import graceful_stop

TITLE = "rtstyle"
STALL_SECONDS = 10.0  # a live source silent this long (after reconnect attempts) is an error


class StateLog:
    """--log-state: one JSON object per line (frames, keys, start and end), flushed at once so
    that a test or another program can follow a session live."""

    def __init__(self, path, controls: Controls):
        self.controls, self.path = controls, path
        self.file = None  # opened at the first event, once the source is known to work
        if path and not Path(path).parent.is_dir():
            raise UserError(f"cannot write --log-state {path}: folder {Path(path).parent} "
                            "does not exist")

    def write(self, event: str, **fields) -> None:
        if self.path and self.file is None:
            self.file = open(self.path, "w", encoding="utf-8")
        if self.file:
            record = {"event": event, "time": round(time.time(), 3), **fields,
                      **self.controls.state()}
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file:
            self.file.close()


class Meter:
    """Smoothed frames per second and latency for the HUD."""

    def __init__(self, smoothing: float = 0.9):
        self.k, self.fps, self.latency, self.last = smoothing, 0.0, 0.0, None

    def tick(self, now: float, latency: float | None) -> None:
        if self.last is not None and now > self.last:
            rate = 1.0 / (now - self.last)
            self.fps = rate if self.fps == 0 else self.k * self.fps + (1 - self.k) * rate
        self.last = now
        if latency is not None:
            self.latency = latency if self.latency == 0 else \
                self.k * self.latency + (1 - self.k) * latency


def snapshot_path(folder: Path, alpha, style: str) -> Path:
    """'rtstyle-20250131-142501-a0.50-0.60-0.45-0.50[-style].png', never overwriting."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tag = "-".join(f"{v:.2f}" for v in alpha)
    style = "".join(c if c.isalnum() or c in "_.:" else "_" for c in style).replace(":", "")
    base = f"rtstyle-{stamp}-a{tag}" + (f"-{style}" if style else "")
    path, n = folder / f"{base}.png", 2
    while path.exists():
        path, n = folder / f"{base}-{n}.png", n + 1
    return path


class Live:
    """One live session: the frame loop over a capture, an engine and the controls."""

    def __init__(self, engine, controls: Controls, capture: Capture, *, window=None,
                 recorder=None, vcam=None, log: StateLog, scale=None, mirror=False,
                 max_frames=None, snapshot_dir: Path = Path(".")):
        """scale: the starting brush scale, when not already set on the controls."""
        self.engine, self.controls, self.capture = engine, controls, capture
        self.window, self.recorder, self.vcam, self.log = window, recorder, vcam, log
        if scale is not None:
            controls.scale = scale
        self.mirror, self.max_frames = mirror, max_frames
        self.snapshot_dir = snapshot_dir
        self.meter = Meter()
        self.frames = 0
        self.current = None  # (image, Frame) being shown; held while frozen
        self.view = self.view_alpha = None  # last rendered picture (no HUD) and its α
        self.record_start = None
        self.stabilizer = Stabilizer(0)  # the steady picture (`t`, --stabilize), when on

    # ------------------------------------------------------------------ one frame
    def stylize(self, image: np.ndarray) -> np.ndarray:
        """Stylize at the brush scale and resize back to the frame's size (rt_style.scaling)."""
        c = self.controls
        return stylize_scaled(lambda x: self.engine.run(x, c.applied_alpha(), c.style), image,
                              c.scale)

    def render(self, fresh: bool) -> None:
        image, frame = self.current
        c = self.controls
        changed, c.changed = c.changed, False
        out = self.stylize(image)
        s = self.stabilizer  # the steady picture: blend along the motion (off at strength 0)
        if not fresh or (changed and not c.walk) or s.strength != c.stabilize:
            s.reset()  # a re-render, a key that changes the look, `t`: start afresh
            s.strength = c.stabilize
        out = s(image, out)
        if c.keep_colors:  # the frame's own colours (full resolution), after the blend
            out = keep_colors(image, out)
        if c.split:  # original on the left half, stylized on the right
            out = out.copy()
            out[:, : out.shape[1] // 2] = image[:, : out.shape[1] // 2]
        self.view, self.view_alpha = out, c.applied_alpha()
        if self.recorder is not None:
            self.record(out, frame)
        if self.vcam is not None:  # a file read --every-frame is paced to its own rate
            self.vcam.offer(out, wait=self.capture.every_frame)
        now = time.perf_counter()
        if self.window is not None:
            shown = out.copy() if c.hud or c.help else out
            if c.hud:
                draw_hud(shown, c, self.meter.fps, self.meter.latency * 1e3)
            if c.help:
                draw_help(shown)
            self.window.show(shown)
            now = time.perf_counter()
        self.meter.tick(now, now - frame.time if fresh else None)
        self.frames += 1
        self.log.write("frame", frame=self.frames, index=frame.index,
                       fps=round(self.meter.fps, 2), latency_ms=round(self.meter.latency * 1e3, 1))

    def record(self, image: np.ndarray, frame) -> None:
        if self.capture.every_frame:  # deterministic: the file's own timing
            t = frame.index / self.capture.fps
        else:  # live: wall-clock, so the recording plays at real speed
            now = time.perf_counter()
            self.record_start = self.record_start if self.record_start is not None else now
            t = now - self.record_start
        self.recorder.write(image, t)

    # ------------------------------------------------------------------ keys
    def handle_keys(self, wait_ms: int) -> str | None:
        """Trackbars, one key, and the close button; returns why to stop, if so."""
        w = self.window
        moved = w.moved_sliders()
        if moved:
            self.log.write("slider", components=moved)
        code = w.key(wait_ms)
        name = key_name(code)
        reason = None
        if name is not None:
            action = self.controls.press(name, time.perf_counter())
            self.log.write("key", key=name, code=code)
            if action == "quit":
                reason = "quit"
            elif action == "snapshot":
                self.snapshot()
            elif name == "?" and self.controls.help:
                click.echo("keys:\n" + help_text())
        w.sync()
        if reason is None and w.closed:
            reason = "window closed"
        return reason

    def snapshot(self) -> None:
        if self.view is None:
            return
        path = snapshot_path(self.snapshot_dir, self.view_alpha, self.controls.style_label()
                             if len(self.controls.style_names) > 1 else "")
        if not cv2.imwrite(str(path), self.view):
            raise UserError(f"cannot write the snapshot {path}")
        click.echo(f"snapshot: {path}")
        self.log.write("snapshot", path=str(path))

    # ------------------------------------------------------------------ the loop
    def run(self, stop) -> str:
        """Run until something ends the session; returns why."""
        cap, c = self.capture, self.controls
        last_arrival = time.perf_counter()
        while True:
            if stop.is_set():
                return "interrupted"
            frame = cap.get(timeout=0 if self.window is not None else 0.5)
            now = time.perf_counter()
            fresh = False
            if frame is not None:
                last_arrival = now
                if not (c.frozen and self.current is not None):
                    image = cv2.flip(frame.image, 1) if self.mirror else frame.image
                    self.current, fresh = (image, frame), True
            elif cap.ended:
                return "end of input"
            elif not cap.is_file and now - last_arrival > STALL_SECONDS:
                raise UserError(f"{describe_source(cap.source)} delivered no frame for "
                                f"{STALL_SECONDS:.0f} s")
            c.tick(now)
            rendered = self.current is not None and (fresh or c.changed)
            if rendered:
                self.render(fresh)
                if self.max_frames and self.frames >= self.max_frames:
                    return "max-frames"
            elif self.vcam is not None:
                self.vcam.pump()
            if self.window is not None:
                reason = self.handle_keys(1 if rendered else 4)
                if reason:
                    return reason


def _camera_size(text):
    """--size as the capture size: a frame size, so both sides (rt_style.scaling.parse_size)."""
    return parse_size(text, both=True) if text else None


@click.command("webcam")
@engine_options
@click.option("--source", default="0", show_default=True, metavar="INDEX|FILE|URL",
              help="Camera index, video file or stream URL.")
@click.option("--size", metavar="WxH",
              help="Frame size to ask the camera for (it may pick the nearest it has); video "
                   "files are resized to it.")
@click.option("--scale", type=click.FloatRange(0, 1, min_open=True), default=1.0,
              show_default=True,
              help="Starting brush size: stylize at this fraction of the frame size and resize "
                   "back (bigger strokes, faster); '[' and ']' change it live.")
@click.option("--alpha", metavar="V,V,…|NAME=V,…",
              help="Starting α: one value per component, or name=value pairs (default: the "
                   "model's defaults).")
@click.option("--record", type=click.Path(dir_okay=False),
              help="Also record the stylized view (no HUD) to this file: H.264, e.g. out.mp4.")
@click.option("--virtual-camera", "virtual_camera", is_flag=False, flag_value="auto",
              default=None, metavar="[DEVICE]",
              help="Also send the stylized view (no HUD) to a virtual camera, for video calls "
                   "and OBS: a v4l2loopback DEVICE such as /dev/video10 (default: the first "
                   "free one) on Linux, the OBS virtual camera elsewhere. Needs "
                   "pip install 'rtstyle[vcam]'.")
@keep_colors_option
@stabilize_option
@click.option("--no-window", is_flag=True, help="Run without a window (e.g. to --record).")
@click.option("--mirror", is_flag=True, help="Flip the picture left-right, like a mirror.")
@click.option("--log-state", type=click.Path(dir_okay=False), metavar="FILE.jsonl",
              help="Write one JSON line per frame and per key press: α, style, flags.")
@click.option("--max-frames", type=click.IntRange(1), help="Stop after this many frames.")
@click.option("--every-frame", is_flag=True,
              help="Video files: stylize every frame once, in order, as fast as possible "
                   "(no real-time pacing, no dropped frames).")
@click.option("--loop", is_flag=True, help="Video files: start again at the end.")
@click.option("--snapshot-dir", type=click.Path(file_okay=False), default=".",
              show_default=True, help="Folder for the PNG snapshots that 's' saves.")
@click.option("--seed", type=int, help="Seed for 'r' (random α) and 'w' (random walk).")
def webcam_command(engine_name, provider, threads, style, source, size, scale, alpha, record,
                   virtual_camera, keep_colors, stabilize, no_window, mirror, log_state,
                   max_frames, every_frame, loop, snapshot_dir, seed):
    """Stylize a camera live, with α on the keyboard (press ? in the window for the keys)."""
    source = parse_source(source)
    if virtual_camera is not None:
        from rt_style import vcam

        vcam.require_pyvirtualcam()  # before anything opens: one line saying what to install
    if isinstance(source, int) and (loop or every_frame):
        raise UserError("--loop and --every-frame apply to video files, not cameras")
    refuse_overwriting([source if isinstance(source, str) else None],
                       {"--record": record, "--log-state": log_state})
    snapshot_dir = Path(snapshot_dir)
    if not no_window and not snapshot_dir.is_dir():
        raise UserError(f"snapshot folder not found: {snapshot_dir}")
    capture = Capture(source, size=_camera_size(size), every_frame=every_frame, loop=loop)
    engine = open_engine(engine_name, provider, threads)
    controls = Controls.for_engine(engine, fixed_alpha(engine, alpha),
                                   style_weights(engine, style), seed, scale=scale,
                                   keep_colors=keep_colors, stabilize=stabilize)
    recorder = None
    if record:
        from rt_style.recorder import Recorder

        recorder = Recorder(record)
    log = StateLog(log_state, controls)
    window = live = camera = None
    with graceful_stop("stopping (press Ctrl-C again to abort)") as stop:
        capture.open()
        try:
            if recorder is not None:
                recorder.fps = capture.fps
            if virtual_camera is not None:  # fails before anything is printed or recorded
                camera = vcam.VirtualCamera(capture.frame_size, capture.fps,
                                            None if virtual_camera == "auto" else virtual_camera)
            w, h = capture.frame_size
            click.echo(f"{engine.describe()}; {describe_source(source)} {w}x{h} at "
                       f"{capture.fps:.3g} fps")
            if camera is not None:
                click.echo(camera.describe())
            if not no_window:
                from rt_style.window import Window

                window = Window(TITLE, controls, capture.frame_size)
                click.echo("keys:\n" + help_text())
            live = Live(engine, controls, capture, window=window, recorder=recorder,
                        vcam=camera, log=log, mirror=mirror, max_frames=max_frames,
                        snapshot_dir=snapshot_dir)
            log.write("start", engine=engine.describe(), source=str(source), size=[w, h],
                      source_fps=capture.fps, alpha_names=engine.alpha_names,
                      style_names=engine.style_names)
            reason = live.run(stop)
        finally:
            capture.close()
            if window is not None:
                window.close()
            if camera is not None:
                camera.close()
                click.echo(f"sent {camera.frames} frames to the virtual camera")
            saved = recorder.close() if recorder is not None else None
            if saved:
                click.echo(f"recorded {recorder.frames} frames to {saved}")
        log.write("end", reason=reason, frames=live.frames)
        log.close()
    if reason == "interrupted":
        click.echo("interrupted", err=True)
        raise SystemExit(130)

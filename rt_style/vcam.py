"""`rtstyle webcam --virtual-camera`: the stylized picture (no HUD) as a camera other programs
can open — video calls, OBS, a browser — through pyvirtualcam: a v4l2loopback device on Linux,
the OBS virtual camera on Windows and macOS.

The live loop renders when a frame arrives or a key changes the picture; a camera consumer
expects a steady rate. So frames are handed over through a token bucket at the camera's frame
rate: bursts (a key held down on a frozen frame) keep only the newest frame, a silent source
has its last frame repeated, and a file read with --every-frame is paced to its own rate.
"""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np

from rt_style.errors import UserError
from rt_style.scaling import resize_frames

INSTALL = "pip install 'rtstyle[vcam]'"
LOOPBACK = "sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=rtstyle"
BURST = 2.0  # frames that may go out back to back after a pause (absorbs capture jitter)


def _needs() -> str:
    if sys.platform.startswith("linux"):
        return f"a v4l2loopback device ({LOOPBACK})"
    return "OBS Studio 26 or later (its virtual camera; start it once in OBS)"


def require_pyvirtualcam():
    """The pyvirtualcam module, or a one-line UserError saying what to install."""
    try:
        import pyvirtualcam
    except ImportError:
        raise UserError(f"--virtual-camera needs pyvirtualcam: {INSTALL}, and {_needs()}") \
            from None
    return pyvirtualcam


def _open_pyvirtualcam(width: int, height: int, fps: float, device: str | None):
    pyvirtualcam = require_pyvirtualcam()
    return pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB,
                               device=device)


class VirtualCamera:
    """Hands uint8 BGR frames of any size to a virtual camera as RGB at its fixed size and at
    no more than its frame rate.

    opener(width, height, fps, device) → an object with send(rgb) and close(), as
    pyvirtualcam.Camera (tests pass a fake). clock and sleep are injectable for the same reason.
    """

    def __init__(self, size: tuple[int, int], fps: float, device: str | None = None,
                 opener=_open_pyvirtualcam, clock=time.perf_counter, sleep=time.sleep):
        self.size, self.fps = (int(size[0]), int(size[1])), float(fps)
        self.clock, self.sleep = clock, sleep
        try:
            self.camera = opener(self.size[0], self.size[1], self.fps, device)
        except (RuntimeError, ValueError, OSError) as e:
            what = " ".join(str(e).split())  # pyvirtualcam lists each backend on its own line
            raise UserError(f"cannot open the virtual camera{' ' + device if device else ''}: "
                            f"{what} — needs {_needs()}") from None
        self.interval = 1.0 / self.fps
        self.tokens, self.refilled = BURST, self.clock()
        self.pending: np.ndarray | None = None
        self.last: np.ndarray | None = None  # the last frame sent, RGB
        self.last_sent = self.last_fresh = self.refilled  # any frame; a new one
        self.frames = self.replaced = 0  # sent; dropped for a newer one before their turn

    def describe(self) -> str:
        device = getattr(self.camera, "device", None)
        backend = getattr(self.camera, "backend", None)
        where = " ".join(str(v) for v in (device, f"({backend})" if backend else None) if v)
        return (f"virtual camera {where} {self.size[0]}x{self.size[1]} at {self.fps:.3g} fps"
                .replace("  ", " "))

    def offer(self, image: np.ndarray, wait: bool = False) -> bool:
        """Queue a BGR frame (replacing one not yet sent) and send it if its turn has come;
        wait=True sleeps until it has (a file read with --every-frame: no frame dropped)."""
        if self.pending is not None:
            self.replaced += 1
        self.pending = image
        return self.pump(wait)

    def pump(self, wait: bool = False) -> bool:
        """Send the queued frame when the rate allows (call it on every pass of the loop); with
        nothing new for two frame intervals, repeat the last one at the rate. Returns whether
        it sent."""
        now = self._refill()
        if self.pending is None:
            if (self.last is None or now - self.last_fresh < 2 * self.interval
                    or now - self.last_sent < self.interval):
                return False
            frame = self.last
        else:
            frame = None
        if self.tokens < 1:
            if not wait:
                return False
            self.sleep((1 - self.tokens) * self.interval)
            now = self._refill()
        if frame is None:
            frame = self._rgb(self.pending)
            self.pending, self.last_fresh = None, now
        self.tokens -= 1
        self.camera.send(frame)
        self.last, self.last_sent = frame, now
        self.frames += 1
        return True

    def _refill(self) -> float:
        now = self.clock()
        self.tokens = min(BURST, self.tokens + (now - self.refilled) * self.fps)
        self.refilled = now
        return now

    def _rgb(self, image: np.ndarray) -> np.ndarray:
        """RGB at the camera's size: every backend takes RGB, and the size is fixed at open."""
        return cv2.cvtColor(resize_frames(image, self.size), cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        try:
            self.camera.close()
        except Exception:  # closing a camera that is gone must not hide the run's outcome
            pass

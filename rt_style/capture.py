"""Frames from a camera, a video file or a stream URL, read in a thread that keeps only the
newest one.

When stylizing is slower than the camera, a queue of old frames would add latency that grows
without bound; keeping just the newest frame holds the lag at one frame. A file is read at its
own frame rate, as a camera would deliver it (or, with every_frame, each frame exactly once in
order, for deterministic tests and offline recording). A camera that stops delivering is
reopened a few times before giving up with a clear message.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rt_style.errors import UserError


def parse_source(text) -> int | str:
    """A camera index ('0'), a stream URL ('rtsp://…') or an existing video file."""
    text = str(text)
    if text.isdigit():
        return int(text)
    if "://" in text:
        return text
    if not Path(text).is_file():
        raise UserError(f"video source not found: {text} (give a camera index such as 0, a "
                        "video file or a stream URL)")
    return text


def describe_source(source) -> str:
    return f"camera {source}" if isinstance(source, int) else str(source)


@contextmanager
def _quiet_opencv():
    """OpenCV logs several lines per backend it tries; our own message says what failed."""
    logging = cv2.utils.logging
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(level)


@dataclass
class Frame:
    image: np.ndarray  # uint8 BGR H×W×3
    index: int         # position in the source (counts from 0, continues across loops)
    time: float        # time.perf_counter() when it was read: latency is measured from here


class Capture:
    """Start with `open()` (errors surface there, before any window), then `get()` frames."""

    def __init__(self, source, size=None, every_frame=False, loop=False, reconnects=3,
                 reconnect_delay=1.0, opener=cv2.VideoCapture):
        self.source = source
        self.is_file = isinstance(source, str) and "://" not in source
        self.size, self.loop, self.every_frame = size, loop, every_frame and self.is_file
        self.reconnects, self.reconnect_delay, self.opener = reconnects, reconnect_delay, opener
        self.fps = 0.0
        self.frame_size = (0, 0)  # (width, height) of the first frame, known after open()
        self._cap = None
        self._cond = threading.Condition()
        self._frame: Frame | None = None  # newest frame not yet taken by get()
        self._ended = False
        self._error: str | None = None  # set by the reader thread when a camera is gone
        self._stop = False
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- opening and reading
    def _open_capture(self):
        with _quiet_opencv():
            cap = self.opener(self.source)
            if isinstance(self.source, int) and self.size and cap.isOpened():
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
        return cap

    def _read(self):
        with _quiet_opencv():
            ok, image = self._cap.read()
        if not ok or image is None:
            return None
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        if self.size and not isinstance(self.source, int) and image.shape[1::-1] != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        return image

    def open(self) -> Capture:
        """Open the source and read its first frame; a one-line UserError if that fails."""
        name = describe_source(self.source)
        self._cap = self._open_capture()
        if not self._cap.isOpened():
            if isinstance(self.source, int):
                raise UserError(f"cannot open camera {self.source}: is it connected and not in "
                                "use by another program? (--source takes a camera index, a "
                                "video file or a stream URL)")
            raise UserError(f"cannot open {name}: not a video OpenCV can read")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and 0 < fps < 1000 else 30.0
        first = self._read()
        if first is None:
            self._cap.release()
            raise UserError(f"{name} opened but delivered no frame")
        self._frame = Frame(first, 0, time.perf_counter())
        self.frame_size = (first.shape[1], first.shape[0])
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()
        return self

    def _reopen(self):
        """The next frame after reopening the source, or None if it delivers nothing."""
        self._cap.release()
        self._cap = self._open_capture()
        return self._read() if self._cap.isOpened() else None

    def _next_image(self):
        """The next frame; None at the end of a file; a UserError message if a camera is gone."""
        image = self._read()
        if image is not None or self._stop:
            return image
        if self.is_file:
            return self._reopen() if self.loop else None
        for _ in range(self.reconnects):  # a camera or stream stopped: try to get it back
            time.sleep(self.reconnect_delay)
            if self._stop:
                return None
            if (image := self._reopen()) is not None:
                return image
        self._error = (f"{describe_source(self.source)} stopped delivering frames (gave up "
                       f"after {self.reconnects} reconnect attempts)")
        return None

    def _run(self) -> None:
        index, start = 0, time.perf_counter()
        while not self._stop:
            image = self._next_image()
            if image is None:
                break
            index += 1
            if self.is_file and not self.every_frame:  # play at the file's own rate
                delay = start + index / self.fps - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            with self._cond:
                if self.every_frame:  # hand over each frame: wait until the last one is taken
                    self._cond.wait_for(lambda: self._frame is None or self._stop)
                self._frame = Frame(image, index, time.perf_counter())
                self._cond.notify_all()
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def get(self, timeout: float) -> Frame | None:
        """The newest frame not yet returned, waiting up to `timeout` seconds for one.

        None if none arrived in time or the source has ended (see `ended`); a UserError if a
        camera stopped for good.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._ended, timeout)
            frame, self._frame = self._frame, None
            if frame is None and self._error:
                raise UserError(self._error)
            self._cond.notify_all()
            return frame

    @property
    def ended(self) -> bool:
        """True once a file has played to its end and its last frame has been taken."""
        with self._cond:
            return self._ended and self._frame is None

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._cap is not None:
            self._cap.release()

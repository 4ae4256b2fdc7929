"""Record frames to a playable H.264 file with PyAV, however the run ends.

Frames go to a hidden temporary file next to the output, renamed into place only once the
container is finalised, so an interrupted run never leaves a truncated file under the final
name. Timestamps come from the caller (wall-clock for live sources), so a recording plays at
real speed even when stylizing ran slower than the camera. libx264 with yuv420p needs even
dimensions: odd frames lose their last row or column.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from rt_style.atomic import remove_stale_temps, temp_path
from rt_style.errors import UserError

TIME_BASE = Fraction(1, 1000)  # millisecond timestamps: variable frame rate


class Recorder:
    def __init__(self, path, fps: float = 30.0, crf: int = 20):
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise UserError(f"cannot record to {self.path}: folder {self.path.parent} does not "
                            "exist")
        self.tmp = temp_path(self.path, "partial")
        remove_stale_temps(self.path, "partial")
        try:  # can the folder take the file? Know it now, not after the last frame
            os.close(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            os.unlink(self.tmp)
        except OSError as e:
            raise UserError(f"cannot record to {self.path}: {e.strerror}") from None
        self.fps, self.crf = fps, crf
        self.container = self.stream = None
        self.frames, self._last_pts = 0, -1

    def _start(self, w: int, h: int) -> None:
        import av

        try:
            self.container = av.open(str(self.tmp), "w")  # muxer from the suffix (.mp4, .mkv)
        except (OSError, ValueError) as e:
            raise UserError(f"cannot record to {self.path}: {e}") from None
        rate = Fraction(self.fps).limit_denominator(1001)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height, self.stream.pix_fmt = w, h, "yuv420p"
        self.stream.time_base = self.stream.codec_context.time_base = TIME_BASE
        self.stream.codec_context.options = {"crf": str(self.crf), "preset": "veryfast"}

    def write(self, image: np.ndarray, t: float) -> None:
        """Add one uint8 BGR frame shown at `t` seconds from the start of the recording."""
        import av

        h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
        if h == 0 or w == 0:
            raise UserError("frames smaller than 2x2 cannot be recorded")
        if self.container is None:
            self._start(w, h)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:h, :w]), format="bgr24")
        frame.pts = max(int(round(t / TIME_BASE)), self._last_pts + 1)
        frame.time_base = TIME_BASE
        self._last_pts = frame.pts
        self.container.mux(self.stream.encode(frame))
        self.frames += 1

    def close(self) -> Path | None:
        """Flush and finalise; returns the output path, or None if no frame was written."""
        if self.container is None:
            return None
        try:
            self.container.mux(self.stream.encode(None))
        finally:
            self.container.close()
            self.container = None
        try:
            os.replace(self.tmp, self.path)
        except OSError as e:
            raise UserError(f"cannot record to {self.path}: {e.strerror}; the recording is in "
                            f"{self.tmp}") from None
        return self.path


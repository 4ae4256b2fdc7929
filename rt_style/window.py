"""The OpenCV windows of the live view: the picture (which takes the keys) and, beside it, one
trackbar per α component.

The trackbars live in a window of their own because in OpenCV's Qt build they are focusable
widgets: in the same window, Tab would move the keyboard focus onto them (and never reach us),
after which the arrows move a slider and Space opens a trackbar's value dialog. Keys are read
with cv2.waitKeyEx, because cv2.waitKey masks the arrow keys. Trackbars are polled rather than
given callbacks: a callback would also fire when we move a trackbar to follow a key press, and
feed the rounded position back into α.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from rt_style.errors import UserError

SLIDER_MAX = 100
SYSTEM_FONTS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/truetype", "/usr/share/fonts")


def _qt_fonts() -> None:
    """opencv-python points Qt at a font folder inside its wheel that ships no fonts, and Qt
    then warns on every window; point it at the system's fonts instead, when they exist."""
    if os.path.isdir(os.environ.get("QT_QPA_FONTDIR", "/")):
        return
    for folder in SYSTEM_FONTS:
        if os.path.isdir(folder):
            os.environ["QT_QPA_FONTDIR"] = folder
            return


class Window:
    def __init__(self, title: str, controls, frame_size=(640, 480)):
        self.title, self.controls = title, controls
        self.sliders = f"{title} controls"
        _qt_fonts()  # before the first window creates the Qt application
        flags = cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL
        try:
            cv2.namedWindow(title, flags)
            cv2.namedWindow(self.sliders, flags)
        except cv2.error:
            raise UserError("cannot open a window (no display? this OpenCV build may lack GUI "
                            "support): run with --no-window, e.g. to --record") from None
        cv2.moveWindow(title, 0, 0)
        cv2.moveWindow(self.sliders, frame_size[0] + 10, 0)
        self.shown = [-1] * len(controls.names)
        for i in range(len(self.shown)):
            cv2.createTrackbar(self._label(i), self.sliders, 0, SLIDER_MAX, lambda _: None)
        self.sync()

    def _label(self, i: int) -> str:
        return f"{i + 1} {self.controls.shorts[i]}"

    def _position(self, i: int) -> int:
        c = self.controls
        frac = (c.alpha[i] - c.low[i]) / max(c.high[i] - c.low[i], 1e-9)
        return int(round(float(np.clip(frac, 0, 1)) * SLIDER_MAX))

    def sync(self) -> None:
        """Move the trackbars to follow α (after keys, r, d or the random walk)."""
        for i in range(len(self.shown)):
            pos = self._position(i)
            if pos != self.shown[i]:
                cv2.setTrackbarPos(self._label(i), self.sliders, pos)
                self.shown[i] = pos

    def moved_sliders(self) -> list[int]:
        """Components whose trackbar the user moved since the last sync; α follows them."""
        moved = []
        c = self.controls
        for i in range(len(self.shown)):
            pos = cv2.getTrackbarPos(self._label(i), self.sliders)
            if pos != self.shown[i]:
                self.shown[i] = pos
                c.set(i, c.low[i] + (c.high[i] - c.low[i]) * pos / SLIDER_MAX)
                moved.append(i)
        return moved

    def show(self, image: np.ndarray) -> None:
        cv2.imshow(self.title, image)

    def key(self, wait_ms: int = 1) -> int:
        """The key code pressed (cv2.waitKeyEx), -1 for none; this also runs the GUI."""
        return cv2.waitKeyEx(wait_ms)

    @property
    def closed(self) -> bool:
        """Whether the user closed the window with its close button."""
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            return True

    def close(self) -> None:
        try:
            cv2.destroyAllWindows()
            cv2.waitKey(1)
        except cv2.error:
            pass

"""rt_style.scaling: --scale means the same in `rtstyle webcam`, `video` and `image`."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rt_style.errors import UserError
from rt_style.scaling import MAX_SIDE, check_size, frame_sizes, stylize_scaled
from rt_style.webcam import Live


def test_stylize_scaled_works_small_and_gives_the_size_back():
    seen = []

    def run(x):
        seen.append(x.shape)
        return 255 - x

    frame = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
    out = stylize_scaled(run, frame, 0.5)
    assert seen == [(24, 32, 3)] and out.shape == frame.shape
    assert stylize_scaled(run, frame, 0.5, keep_scaled=True).shape == (24, 32, 3)
    assert stylize_scaled(run, np.stack([frame, frame]), 0.25).shape == (2, 48, 64, 3)
    assert np.array_equal(stylize_scaled(run, frame, None), 255 - frame)  # no copy at 1


def test_webcam_uses_the_shared_function(monkeypatch):
    calls = []
    monkeypatch.setattr("rt_style.webcam.stylize_scaled",
                        lambda run, image, scale: calls.append(scale) or image)
    live = Live.__new__(Live)
    live.engine = None
    live.controls = SimpleNamespace(scale=0.5, keep_colors=False, style=None,
                                    applied_alpha=lambda: None)
    live.stylize(np.zeros((4, 4, 3), np.uint8))
    assert calls == [0.5]


def test_frame_sizes():
    assert frame_sizes(640, 480, None, 0.5) == ((640, 480), (320, 240))
    assert frame_sizes(640, 480, None, 0.5, keep_scaled=True) == ((320, 240), (320, 240))
    assert frame_sizes(640, 480, "320x", 0.5) == ((320, 240), (160, 120))
    assert frame_sizes(640, 480, None, None, limit=320) == ((320, 240), (320, 240))
    assert frame_sizes(640, 480, None, 2, limit=320) == ((640, 480), (1280, 960))
    with pytest.raises(UserError, match="--keep-scaled-size goes with --scale"):
        frame_sizes(640, 480, None, None, keep_scaled=True)


@pytest.mark.parametrize("w, h", [(8193, 8193), (MAX_SIDE + 1, 2)])
def test_work_size_is_bounded(w, h):
    with pytest.raises(UserError, match="too large"):
        check_size(w, h)
    with pytest.raises(UserError, match="lower --scale or --size"):
        frame_sizes(w, h, None, None)
    check_size(8192, 8192)

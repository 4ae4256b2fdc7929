"""Temporal stability (evaluation.temporal): the warping error, the generated clips and the
measure on stylizers whose flicker is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaluation import temporal
from evaluation.temporal import warping_errors
from tests.conftest import smooth_image


def moving_frames(n=6, h=72, w=96, shift=3, seed=0) -> list[np.ndarray]:
    """A smooth random scene panning `shift` pixels right per frame (BGR uint8)."""
    big = np.asarray(smooth_image(np.random.default_rng(seed), h, w + n * shift))[..., ::-1]
    return [np.ascontiguousarray(big[:, (n - i) * shift:(n - i) * shift + w]) for i in range(n)]



def test_static_video_has_no_warping_error():
    frame = moving_frames(1)[0]
    frames = [frame.copy() for _ in range(4)]
    r = warping_errors(frames)
    assert r["mean"] == pytest.approx(0.0, abs=1e-10) and r["valid"] > 0.95
    styled = [255 - f for f in frames]  # any deterministic per-frame output: still 0
    assert warping_errors(frames, styled)["mean"] == pytest.approx(0.0, abs=1e-10)


def test_flickering_output_has_a_larger_warping_error():
    frames = moving_frames(5)
    rng = np.random.default_rng(0)
    steady = warping_errors(frames)["mean"]
    flicker = [np.clip(f.astype(int) + rng.integers(-40, 41, f.shape), 0, 255).astype(np.uint8)
               for f in frames]
    flickering = warping_errors(frames, flicker)["mean"]
    assert flickering > 10 * steady and flickering > 1e-3


def test_flow_compensates_motion():
    """Warping follows the motion: a panning scene's warping error is far below the plain
    difference of consecutive frames (a flow applied the wrong way round would double it)."""
    frames = moving_frames(5, shift=4)
    plain = np.mean([((a.astype(float) - b) / 255) ** 2 for a, b in zip(frames, frames[1:])])
    r = warping_errors(frames)
    assert r["mean"] < 0.2 * plain
    assert 0.6 < r["valid"] < 1.0  # the strip entering the frame is masked


def test_warping_error_needs_two_frames():
    with pytest.raises(ValueError):
        warping_errors(moving_frames(1))


def test_generated_clips_are_deterministic_and_what_they_say():
    photo = temporal.synthetic_photo(80, 120)
    pan, still = temporal.generated_clips(photo, 6, 100)
    again = temporal.generated_clips(photo, 6, 100)
    for a, b in zip((pan, still), again):
        assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert (pan.kind, still.kind) == ("moving", "still")
    base = temporal.fit_side(photo, 100).astype(float)
    # the still camera: the photo plus fresh noise of σ levels in every frame
    noise = [f.astype(float) - base for f in still.frames]
    assert all(abs(n.std() - temporal.STILL_NOISE) < 0.1 * temporal.STILL_NOISE for n in noise)
    assert abs(np.corrcoef(noise[0].ravel(), noise[1].ravel())[0, 1]) < 0.05
    # the pan: frame i is the photo moved by i steps; the flow follows it, so the input's own
    # warping error is far below the plain difference of consecutive frames
    sx, sy = temporal.PAN_STEP
    assert pan.frames[0].shape[:2] == (base.shape[0] - math.ceil(5 * sy) - 1,
                                       base.shape[1] - math.ceil(5 * sx) - 1)
    flow = temporal.dis_flow(pan.frames[0], pan.frames[1])[10:-10, 10:-10]
    assert np.allclose(np.median(flow.reshape(-1, 2), 0), [-sx, -sy], atol=0.15)
    plain = np.mean([((a.astype(float) - b) / 255) ** 2 for a, b in
                     zip(pan.frames, pan.frames[1:])])
    assert temporal.warping_errors(pan.frames)["mean"] < 0.2 * plain


def test_measure_tells_a_steady_stylization_from_a_flickering_one():
    """A per-pixel colour map follows the motion (about the input's own error); a texture fixed
    to the frame does not (far above it), on the pan and on the still clip alike."""
    clips = temporal.generated_clips(temporal.synthetic_photo(80, 120), 5, 120)
    rng = np.random.default_rng(0)
    texture = rng.integers(-30, 31, (80, 120, 3))

    def stylize(frames, alpha, style):
        out = [255 - f for f in frames]  # a steady "style"
        if alpha[0] > 0.5:  # all-max α: add the anchored texture
            out = [np.clip(f.astype(int) + texture[:f.shape[0], :f.shape[1]], 0, 255)
                   .astype(np.uint8) for f in out]
        return out

    r = temporal.measure(clips, stylize, {"default": [0.0], "all-max": [1.0]}, {"s": None})
    for c in r["clips"]:
        assert 0.7 < c["stylized"]["s"]["default"]["ratio"] < 1.5, c["name"]
    # on the still clip the fixed texture cancels out; on the pan it swims against the scene
    pan, still = r["clips"]
    assert pan["stylized"]["s"]["all-max"]["ratio"] > 10
    assert r["worst"]["s"]["moving"]["ratio"] == pan["stylized"]["s"]["all-max"]["ratio"]
    assert not r["worst"]["s"]["moving"]["met"] and r["worst"]["s"]["still"]["met"]

"""The border-line and grid figures read 1 on the photo itself and rise with each artefact."""

import numpy as np

from evaluation.artefacts import border, grid


def photo(h=160, w=200, seed=0):
    """A smooth random picture (noise blurred by 9 px boxes) with fine sensor-like noise: no
    periodicity of its own."""
    rng = np.random.default_rng(seed)
    img = rng.normal(128, 60, (h, w, 3))
    box = np.ones(9) / 9
    for axis in (0, 1):
        img = np.apply_along_axis(lambda v: np.convolve(v, box, mode="same"), axis, img)
    img += rng.normal(0, 2, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_the_photo_itself_reads_one():
    x = photo()
    assert border(x, x) == 1.0 and grid(x, x) == 1.0


def test_a_line_inside_the_border_is_seen_and_is_not_a_grid():
    x = photo()
    y = x.astype(int)
    y[:, 3] += 40
    y = np.clip(y, 0, 255).astype(np.uint8)
    assert border(y, x) > 2.0
    assert grid(y, x) < 1.5


def test_a_period_four_pattern_is_a_grid():
    x = photo()
    y = x.astype(int)
    y[:, ::4] += 8
    y = np.clip(y, 0, 255).astype(np.uint8)
    assert grid(y, x) > 3.0


def test_eval_flags_a_drawn_border_line_and_passes_a_clean_output(tmp_path):
    """Through `rtstyle eval`'s stage and summary rows: an output with a line drawn inside its
    left edge at all-max α misses the border goal (✗); one that returns the photo passes (✓)."""
    from types import SimpleNamespace

    from evaluation.artefacts import GOALS
    from evaluation.report import ARTEFACT_ROWS, goal_rows
    from evaluation.stages import measure_artefacts
    from rt_style.imageio import from_bgr

    x = photo()
    from_bgr(x).save(tmp_path / "p.png")

    def lined(frame, alpha, style):
        y = frame.astype(int)
        y[:, 3] += 40 * alpha
        return np.clip(y, 0, 255).astype(np.uint8)

    for run, clean in ((lambda frame, alpha, style: frame.copy(), True), (lined, False)):
        ev = SimpleNamespace(used=[tmp_path / "p.png"], engine=SimpleNamespace(run=run),
                             alphas={"default": 0, "all-max": 1}, mixes={"s": None})
        r = measure_artefacts(ev, [])["s"]
        assert r["alphas"]["default"] == {"border": 1.0, "grid": 1.0}
        assert (r["border"] == 1.0) == clean and r["grid"] < 1.5
        assert r["meets"] == {"border": clean, "grid": True}
        border_row, grid_row = goal_rows({"s": r}, ARTEFACT_ROWS, GOALS)
        assert border_row.endswith(" | ≤ 2 | ✓ |" if clean else " | ≤ 2 | ✗ |")
        assert grid_row.endswith(" | ≤ 3 | ✓ |")

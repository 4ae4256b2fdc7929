"""rt_style.timing, the library under `rtstyle bench` and benchmarks/: statistics and cases."""

from __future__ import annotations

import pytest

from rt_style.engine import load_engine
from rt_style.errors import UserError
from rt_style.timing import Case, summary, time_interleaved


def test_summary_is_consistent():
    s = summary([0.010, 0.020, 0.030, 0.040], batch=2)
    assert s["median_ms"] == pytest.approx(25.0) and s["fps"] == pytest.approx(2000 / 25.0)
    assert s["min_ms"] <= s["median_ms"] <= s["p90_ms"] <= s["p99_ms"] <= 40.0
    with pytest.raises(UserError):
        summary([])


def test_case_defaults_to_the_first_style_of_a_multi_style_model(tiny_onnx_multi):
    """Scripts that build cases without a style (benchmarks/ort_tuning.py) must still run."""
    case = Case("multi", load_engine(tiny_onnx_multi, providers="cpu", threads=1))
    assert case.style.tolist() == [1.0, 0.0]
    time_interleaved([case], (16, 16), 1, 3, 1)
    assert len(case.seconds) == 3

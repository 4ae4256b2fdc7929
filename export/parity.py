"""Export parity and speed: does the exported graph compute what PyTorch computes, how fast?

Parity: two runners (PyTorch, ONNX Runtime sessions of different precisions) on the same frames
and random α, at several sizes including odd and tiny ones; differences in 0–255 units of the
uint8 output. Speed: median latency after warm-up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rt_style.contract import ALPHA, IMAGE, STYLE, STYLIZED, ModelInfo

DEFAULT_SIZES = ((1, 1), (7, 13), (240, 320), (481, 321))  # H×W


def conditioning(rng: np.random.Generator, n: int, info: ModelInfo) -> dict:
    """Random α, uniform in each component's range, and random style mixtures if any."""
    low, high = np.array(info.alpha_ranges, np.float64).reshape(-1, 2).T
    feeds = {ALPHA: rng.uniform(low, high, (n, len(low))).astype(np.float32)}
    k = info.num_styles
    if k > 1:
        feeds[STYLE] = rng.dirichlet(np.ones(k), n).astype(np.float32)
    return feeds


def noise_feeds(info: ModelInfo, sizes=DEFAULT_SIZES, batch: int = 2,
                seed: int = 0) -> list[dict]:
    """Noise frames (the hardest case for padding and rounding), a different α per frame."""
    rng = np.random.default_rng(seed)
    return [{IMAGE: rng.integers(0, 256, (batch, h, w, 3), dtype=np.uint8),
             **conditioning(rng, batch, info)} for h, w in sizes]


def session_runner(session):
    return lambda feeds: session.run([STYLIZED], feeds)[0]


def torch_runner(module):
    """PyTorch reference: the contract module run eagerly on the same feeds."""
    import torch

    def run(feeds):
        with torch.no_grad():
            return module(*(torch.from_numpy(v) for v in feeds.values())).numpy()
    return run


@dataclass
class Diff:
    size: tuple
    max: int
    mean: float


def compare(run, reference, feeds_list) -> list[Diff]:
    """Max and mean |run − reference| for each set of feeds."""
    diffs = []
    for feeds in feeds_list:
        a, b = run(feeds), reference(feeds)
        if a.shape != b.shape or a.dtype != np.uint8:
            raise RuntimeError(f"output {a.dtype} {a.shape}, expected uint8 {b.shape}")
        d = np.abs(a.astype(np.int16) - b.astype(np.int16))
        diffs.append(Diff(feeds[IMAGE].shape[1:3], int(d.max()), float(d.mean())))
    return diffs


def report(diffs: list[Diff]) -> str:
    """One line: per-size max (mean) differences."""
    parts = [f"{h}×{w} {d.max} ({d.mean:.3f})" for d in diffs for h, w in [d.size]]
    return "max (mean) |Δ| in 0–255 units: " + ", ".join(parts)


def latency_ms(run, feeds: dict, runs: int = 20, warmup: int = 3) -> float:
    """Median wall time of one run, in milliseconds."""
    for _ in range(warmup):
        run(feeds)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        run(feeds)
        times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times))

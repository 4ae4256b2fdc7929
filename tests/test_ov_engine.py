"""The OpenVINO backend (`--provider openvino`): the same pictures as ONNX Runtime, one compiled
model per input shape, and a one-line error where OpenVINO is not installed."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image

from rt_style.engine import load_engine
from rt_style.errors import UserError
from rt_style.registry import resolve
from tests.conftest import ROOT, run_cli

SAMPLE = ROOT / "rt_style" / "samples" / "sample.jpg"


def _photo(w=320, h=240):
    rgb = np.asarray(Image.open(SAMPLE).convert("RGB").resize((w, h), Image.Resampling.BILINEAR))
    return np.ascontiguousarray(rgb[..., ::-1])  # BGR, as the engines take it


@pytest.fixture(scope="module")
def bundled():
    pytest.importorskip("openvino", reason="OpenVINO is not installed (pip install "
                                           "'rtstyle[openvino]')")
    path = resolve(None)
    return path, load_engine(path, providers="cpu", threads=2)


def test_float32_gives_onnx_runtimes_picture(bundled):
    """openvino-f32 computes what the exported graph says: ONNX Runtime's output to one level,
    at odd sizes (the model's own padding and crop) and with a different α per frame."""
    path, ort = bundled
    ov = load_engine(path, providers="openvino-f32", threads=2)
    assert ov.describe() == f"{path.name} on OpenVINO (CPU, f32)"
    rng = np.random.default_rng(0)
    for h, w in [(1, 1), (7, 13), (61, 37), (240, 320)]:
        frames = np.stack([_photo(w, h), rng.integers(0, 256, (h, w, 3), dtype=np.uint8)])
        alpha = rng.uniform(0, 1, (2, ort.num_alpha))
        got, want = ov.run(frames, alpha, style=1), ort.run(frames, alpha, style=1)
        assert got.shape == want.shape == frames.shape and got.dtype == np.uint8
        diff = np.abs(got.astype(int) - want.astype(int))
        assert diff.max() <= 1, (h, w, diff.max())


def test_default_precision_differs_by_less_than_a_level(bundled):
    """OpenVINO's own choice (bfloat16 on CPUs with AVX-512 BF16 or AMX): invisible, a mean
    difference well under one level of 255 on a photo."""
    path, ort = bundled
    ov = load_engine(path, providers="openvino", threads=2)
    assert ov.precision in ("bf16", "f16", "f32")
    frame = _photo(640, 480)
    diff = np.abs(ov.run(frame, style=0).astype(int) - ort.run(frame, style=0).astype(int))
    assert diff.mean() < 1.0, (ov.precision, diff.mean())
    assert np.percentile(diff, 99.9) <= 8, (ov.precision, np.percentile(diff, 99.9))


def test_each_shape_is_compiled_once_and_the_oldest_dropped(bundled, monkeypatch):
    from rt_style import ov_engine

    path, ort = bundled
    monkeypatch.setattr(ov_engine, "COMPILED_SHAPES", 2)
    ov = load_engine(path, providers="openvino-f32", threads=1)
    compiled = []
    real = ov.core.compile_model
    monkeypatch.setattr(ov.core, "compile_model",
                        lambda *a, **k: compiled.append(1) or real(*a, **k))
    a, b, c = _photo(64, 48), _photo(48, 64), _photo(32, 32)
    for frame in [a, a, b, a, c, b, a]:
        out = ov.run(frame, style=2)
        assert np.abs(out.astype(int) - ort.run(frame, style=2).astype(int)).max() <= 1
    # a, b compiled; a kept; c evicts b (a was used last); b evicts a; a compiled again
    assert len(compiled) == 5
    assert len(ov._requests) == 2


def test_results_are_not_overwritten_by_the_next_frame(bundled):
    path, _ = bundled
    ov = load_engine(path, providers="openvino", threads=1)
    frame = _photo(64, 48)
    before = frame.copy()
    first = ov.run(frame, style=0)
    kept = first.copy()
    ov.run(255 - frame, style=0)
    assert np.array_equal(first, kept)  # the request's output buffer is not handed out
    assert np.array_equal(frame, before)  # inputs are read, never written


def test_auto_prefers_openvino_on_a_cpu_only_machine(bundled, monkeypatch, capsys):
    from rt_style import engine as engine_module

    path, _ = bundled
    monkeypatch.setattr(engine_module, "default_providers", lambda: ["CPUExecutionProvider"])
    assert load_engine(path).backend == "OpenVINO"
    assert load_engine(path, providers="auto").backend == "OpenVINO"
    assert load_engine(path, providers="cpu").backend == "ONNX Runtime"
    # a GPU provider comes first: ONNX Runtime's fallback chain decides, as before
    monkeypatch.setattr(engine_module, "default_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert not engine_module.openvino_preferred()
    monkeypatch.setattr(engine_module, "default_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setitem(sys.modules, "openvino", None)  # installed but broken, or absent
    assert load_engine(path).backend == "ONNX Runtime"
    assert capsys.readouterr().err == ""


SIGNAL_STACK_SCRIPT = """
import gc, os, signal, time, numpy as np
from rt_style.engine import load_engine
from rt_style.registry import resolve

engines = [load_engine(resolve(None), providers="openvino", threads=1) for _ in range(2)]
for engine in engines:
    engine.run(np.zeros((48, 64, 3), np.uint8), style=0)
del engine
while engines:  # released in the order they were made, as an LRU or the GC may
    engines.pop(0)
    gc.collect()
signal.signal(signal.SIGTERM, lambda *_: print("handled", flush=True))
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(0.1)
print("alive")
"""


def test_engines_released_in_any_order_leave_signals_working(bundled):
    """Two engines released first-made-first: the next Python-handled signal must not find the
    thread on a signal stack OpenVINO freed (each Core's CPU plugin swaps the thread's stack in
    and back out: one shared Core, rt_style.ov_engine._core). With a Core per engine this
    process died with SIGSEGV inside kill()."""
    import subprocess

    result = subprocess.run([sys.executable, "-c", SIGNAL_STACK_SCRIPT], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stderr[-500:])
    assert result.stdout.split() == ["handled", "alive"]


THREADS_SCRIPT = """
import sys, threading, numpy as np
from pathlib import Path
from rt_style.engine import load_engine, read_info
from rt_style.registry import resolve

def native():  # thread id -> blocked-signal mask, for threads Python did not start
    python = {t.native_id for t in threading.enumerate()}
    out = {}
    for task in Path("/proc/self/task").iterdir():
        if int(task.name) not in python:
            line = [l for l in (task / "status").read_text().splitlines() if l.startswith("SigBlk")]
            out[task.name] = int(line[0].split()[1], 16)
    return out

read_info(resolve(None))  # ONNX Runtime's own threads exist before OpenVINO's
before = native()
engine = load_engine(resolve(None), providers="openvino", threads=2)
engine.run(np.zeros((96, 128, 3), np.uint8), style=0)
print(" ".join(str(m) for t, m in native().items() if t not in before))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")
def test_openvinos_threads_leave_ctrl_c_and_sigterm_to_python(bundled):
    """OpenVINO's worker threads start with SIGINT and SIGTERM blocked, so that a process-wide
    signal reaches a Python thread (rt_style.ov_engine._signals_blocked)."""
    import subprocess

    result = subprocess.run([sys.executable, "-c", THREADS_SCRIPT], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    masks = [int(m) for m in result.stdout.split()]
    assert masks, "OpenVINO started no threads: nothing was checked"
    want = (1 << (2 - 1)) | (1 << (15 - 1))  # SIGINT, SIGTERM
    assert all(m & want == want for m in masks), [hex(m) for m in masks]


def test_a_model_openvino_cannot_compile_is_one_line(bundled, monkeypatch):
    path, _ = bundled
    ov = load_engine(path, providers="openvino")

    def refuse(*a, **k):
        raise RuntimeError("Exception from src/inference/src/core.cpp:112:\nUnsupported op X\n")

    monkeypatch.setattr(ov.core, "compile_model", refuse)
    with pytest.raises(UserError) as e:
        ov.run(_photo(64, 48), style=0)
    assert "\n" not in str(e.value) and str(e.value).startswith(
        f"OpenVINO cannot compile {path.name} for 64×48 frames: Exception from src")
    assert str(e.value).endswith("use --provider cpu")


def test_a_missing_openvino_is_one_line(tiny_onnx, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(UserError, match=r"OpenVINO is not installed: pip install "
                                        r"'rtstyle\[openvino\]'"):
        load_engine(tiny_onnx, providers="openvino")


def test_cli_runs_on_openvino(tmp_path):
    pytest.importorskip("openvino", reason="OpenVINO is not installed")
    out = tmp_path / "out.png"
    result = run_cli("image", str(SAMPLE), "-o", str(out), "--provider", "openvino")
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == Image.open(SAMPLE).size


def _presets_bench():
    """benchmarks/presets.py as a module (benchmarks/ is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("presets_bench",
                                                  ROOT / "benchmarks" / "presets.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_preset_benchmark_times_every_preset_on_every_provider(tmp_path):
    """benchmarks/presets.py --providers: one row per preset and provider, GMAC from the
    preset's own network, ratios against the first row."""
    import json

    pytest.importorskip("openvino", reason="OpenVINO is not installed")
    bench = _presets_bench()
    out = tmp_path / "presets.json"
    bench.main(["--presets", "fast-half-smooth", "--providers", "openvino,cpu", "--size",
                "64x48", "--frames", "2", "--warmup", "1", "--no-peer", "--work",
                str(tmp_path / "work"), "--json", str(out)])
    rows = json.loads(out.read_text())["results"]
    assert list(rows) == ["fast-half-smooth (openvino)", "fast-half-smooth (cpu)"]
    assert rows["fast-half-smooth (openvino)"]["speed_vs_base"] == 1.0
    assert all(r["median_ms"] > 0 and r["gmac"] > 0 for r in rows.values())


def test_preset_benchmark_refuses_a_json_path_in_a_missing_folder(tmp_path):
    """A --json path whose folder does not exist stops before minutes of timing, not after."""
    bench = _presets_bench()
    with pytest.raises(SystemExit, match="cannot write --json .*does not exist"):
        bench.main(["--presets", "fast", "--no-peer", "--work", str(tmp_path / "work"),
                    "--json", str(tmp_path / "missing" / "out.json")])
    assert not (tmp_path / "work").exists()

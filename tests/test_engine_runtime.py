"""The runtime engines: provider choice and fallback, threads, α range checks, and the native
TensorRT backend (skipped, with the reason, where TensorRT or a GPU is missing)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from rt_style import engine as engine_module
from rt_style.engine import load_engine
from rt_style.errors import UserError

CPU = "CPUExecutionProvider"


def _frames(n=2, h=24, w=32, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def _has(provider: str) -> bool:
    import onnxruntime

    return provider in onnxruntime.get_available_providers()


# ------------------------------------------------------------------ ONNX Runtime providers
def test_cpu_provider_on_request(tiny_onnx):
    engine = load_engine(tiny_onnx, providers="cpu")
    assert engine.providers == [CPU]
    assert engine.describe() == f"{tiny_onnx.name} on ONNX Runtime ({CPU})"


def test_auto_falls_back_with_a_one_line_notice(tiny_onnx, monkeypatch, capsys):
    if _has("CUDAExecutionProvider"):
        pytest.skip("CUDA is available here: nothing to fall back from")
    monkeypatch.setattr(engine_module, "default_providers",
                        lambda: ["CUDAExecutionProvider", CPU])
    engine = load_engine(tiny_onnx)
    assert engine.providers == [CPU]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("note: CUDAExecutionProvider could not be loaded")
    assert err[0].endswith(f"running on {CPU}")


def test_auto_on_a_cpu_build_is_silent(tiny_onnx, capsys, monkeypatch):
    if len(engine_module.default_providers()) > 1:
        pytest.skip("this onnxruntime has GPU providers")
    monkeypatch.setattr(engine_module, "openvino_preferred", lambda: False)
    assert load_engine(tiny_onnx, providers="auto").providers == [CPU]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("provider,message", [
    ("metal", "unknown provider 'metal'"),
    ("cuda", "the cuda provider is not in this onnxruntime build"),
    ("tensorrt,cpu", "the tensorrt provider is not in this onnxruntime build"),
])
def test_provider_errors(tiny_onnx, provider, message):
    if "not in this" in message and _has(engine_module.PROVIDER_NAMES[provider.split(",")[0]]):
        pytest.skip(f"{provider} is available here")
    with pytest.raises(UserError, match=message):
        load_engine(tiny_onnx, providers=provider)


def test_thread_option(tiny_onnx):
    one = load_engine(tiny_onnx, providers="cpu", threads=1)
    two = load_engine(tiny_onnx, providers="cpu", threads=2)
    assert one.session.get_session_options().intra_op_num_threads == 1
    assert two.session.get_session_options().intra_op_num_threads == 2
    frames = _frames()
    assert np.array_equal(one.run(frames), two.run(frames))
    with pytest.raises(UserError, match="threads must be at least 1"):
        load_engine(tiny_onnx, threads=0)


def test_bundled_names_resolve_through_the_registry_not_the_engine(tiny_onnx):
    from rt_style.registry import resolve

    with pytest.raises(UserError, match="no model file or bundled model named 'no-such-model'"):
        resolve("no-such-model")
    with pytest.raises(UserError, match="model not found: no-such-model"):
        load_engine("no-such-model")  # a path, never a name


# ------------------------------------------------------------------ input checks
@pytest.mark.parametrize("alpha,message", [
    ([0.5, 1.5, 0.5, 0.5], r"α relu2_1 = 1.5 is outside its range \[0, 1\]"),
    ([-0.1, 0.5, 0.5, 0.5], r"α relu1_1 = -0.1 is outside its range \[0, 1\]"),
    ([[0.5] * 4, [0.5, 0.5, 0.5, 2.0]], r"α relu4_1 = 2 is outside its range"),  # second frame
])
def test_alpha_range_is_checked_before_inference(tiny_onnx, alpha, message):
    with pytest.raises(UserError, match=message):
        load_engine(tiny_onnx).run(_frames(), alpha)


def test_alpha_at_the_ends_of_its_range_is_accepted(tiny_onnx):
    out = load_engine(tiny_onnx).run(_frames(), [[0, 0, 0, 0], [1, 1, 1, 1]])
    assert out.shape == (2, 24, 32, 3) and out.dtype == np.uint8


def test_ranges_come_from_the_metadata(tiny_onnx):
    engine = load_engine(tiny_onnx)
    first = engine.info.components[0]
    engine.info.components[0] = dataclasses.replace(first, range=(0.0, 0.25))
    assert engine.alpha_ranges[0].tolist() == [0.0, 0.25]
    assert engine.meta["alpha"][0]["range"] == [0.0, 0.25]
    with pytest.raises(UserError, match=r"relu1_1 = 0.65 is outside its range \[0, 0.25\]"):
        engine.run(_frames())  # the defaults themselves are now out of range


# ------------------------------------------------------------------ native TensorRT
def test_engine_file_without_tensorrt_or_sidecar_is_one_line(tiny_onnx, tmp_path):
    fake = tmp_path / "model.engine"
    fake.write_bytes(b"not an engine")
    with pytest.raises(UserError, match="TensorRT|GPU|sidecar|cuda-python"):
        load_engine(fake)
    with pytest.raises(UserError, match="runs on TensorRT only"):
        load_engine(fake, providers="cpu")


def _trt_reason() -> str | None:
    try:
        from rt_style.trt_engine import require_tensorrt

        require_tensorrt()
    except UserError as e:
        return str(e)
    return None


@pytest.fixture(scope="module")
def trt_engine_path(tiny_onnx, tmp_path_factory):
    reason = _trt_reason()
    if reason:
        pytest.skip(f"needs TensorRT and an NVIDIA GPU: {reason}")
    from export.tensorrt import Profile, build_engine

    profile = Profile((16, 16), (64, 48), (320, 240), 1, 1, 2)
    return build_engine(tiny_onnx, fp16=False, profile=profile,
                        cache=tmp_path_factory.mktemp("engines"), log=lambda _: None)


@pytest.mark.gpu
def test_native_tensorrt_matches_onnxruntime(tiny_onnx, trt_engine_path):
    trt = load_engine(trt_engine_path)
    ort = load_engine(tiny_onnx, providers="cpu")
    assert trt.backend == "TensorRT" and trt.meta == ort.meta
    assert trt.inputs == ort.inputs and trt.alpha_names == ort.alpha_names
    alpha = [[0.1, 0.9, 0.3, 0.6], [1.0, 0.0, 0.5, 0.2]]
    for shape in [(2, 48, 64), (1, 240, 320), (2, 20, 30)]:  # buffers grow, then are reused
        frames = _frames(*shape)
        a = alpha[: shape[0]]
        diff = np.abs(trt.run(frames, a).astype(int) - ort.run(frames, a))
        assert diff.max() <= 2, shape
    single = _frames(1)[0]
    assert trt.run(single).shape == single.shape
    with pytest.raises(UserError, match="outside this engine's profile"):
        trt.run(_frames(1, 480, 640))
    with pytest.raises(UserError, match="outside its range"):
        trt.run(single, [2, 0, 0, 0])
    trt.close()


@pytest.mark.gpu
def test_native_tensorrt_needs_its_sidecar(trt_engine_path, tmp_path):
    lone = tmp_path / "lone.engine"
    lone.write_bytes(trt_engine_path.read_bytes())
    with pytest.raises(UserError, match="no metadata sidecar"):
        load_engine(lone)
    lone.with_suffix(".json").write_text(json.dumps({"gpu": "?"}))
    with pytest.raises(UserError, match="not an rtstyle engine sidecar"):
        load_engine(lone)

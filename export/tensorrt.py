"""TensorRT engines from exported models, built on the GPU that runs them, and cached.

An engine is specific to the GPU model and the TensorRT version, so it is built on the target
and cached under a key made of both, the ONNX graph hash and the build settings. FP16 engines
keep instance norm in FP32 (its variance sums lose precision in FP16). A JSON sidecar carries
the model's metadata, so an engine describes itself without its .onnx.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import onnx

from export.metadata import graph_hash, read
from export.trt_check import trt_problems
from rt_style.atomic import write_bytes
from rt_style.contract import IMAGE
from rt_style.engine import cache_dir
from rt_style.errors import UserError


@dataclass(frozen=True)
class Profile:
    """The optimisation profile: frame sizes (W, H) and batch sizes the engine accepts."""

    min_size: tuple = (320, 240)
    opt_size: tuple = (1280, 720)
    max_size: tuple = (1920, 1080)
    min_batch: int = 1
    opt_batch: int = 1
    max_batch: int = 1

    def check(self) -> Profile:
        sizes = [self.min_size, self.opt_size, self.max_size]
        batches = [self.min_batch, self.opt_batch, self.max_batch]
        for i in range(2):
            if not all(a <= b for a, b in zip(sizes[i], sizes[i + 1])) or \
                    batches[i] > batches[i + 1]:
                raise UserError("the profile needs min ≤ opt ≤ max for width, height and batch")
        if min(self.min_size) < 1 or self.min_batch < 1:
            raise UserError("profile sizes and batches must be at least 1")
        return self

    def shapes(self, name: str, dims) -> tuple:
        """(min, opt, max) shapes for one network input."""
        batches = (self.min_batch, self.opt_batch, self.max_batch)
        if name == IMAGE:
            sizes = (self.min_size, self.opt_size, self.max_size)
            return tuple((b, h, w, 3) for b, (w, h) in zip(batches, sizes))
        return tuple((b, *dims[1:]) for b in batches)  # alpha, style: N×A, N×K


def gpu_name() -> str | None:
    """Name of the first visible NVIDIA GPU, from the driver's nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0].strip() if out.strip() else None


def require_tensorrt():
    """(tensorrt module, GPU name), or a one-line UserError saying which one is missing."""
    try:
        import tensorrt
    except ImportError:
        raise UserError("TensorRT is not installed: pip install 'rtstyle[trt]' on a machine "
                        "with an NVIDIA GPU (or use the ONNX model with ONNX Runtime)") from None
    gpu = gpu_name()
    if gpu is None:
        raise UserError("no NVIDIA GPU found (nvidia-smi reports none): TensorRT engines are "
                        "built on the GPU that runs them; use ONNX Runtime here")
    return tensorrt, gpu


def engine_key(gpu: str, trt_version: str, onnx_hash: str, fp16: bool, profile: Profile) -> str:
    spec = {"gpu": gpu, "tensorrt": trt_version, "onnx": onnx_hash, "fp16": fp16,
            "profile": asdict(profile)}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _pin_instance_norm(trt, network) -> int:
    """Keep every instance-norm layer in FP32 (honoured with OBEY_PRECISION_CONSTRAINTS)."""
    pinned = 0
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if layer.type != trt.LayerType.NORMALIZATION:
            continue
        layer.__class__ = trt.INormalizationLayer  # the Python binding's downcast
        layer.compute_precision = trt.float32
        layer.precision = trt.float32
        for j in range(layer.num_outputs):
            layer.set_output_type(j, trt.float32)
        pinned += 1
    return pinned


def _build(trt, onnx_path: Path, fp16: bool, profile: Profile, timing_cache: Path,
           workspace_gb: float, log) -> bytes:
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    parser.set_flag(trt.OnnxParserFlag.NATIVE_INSTANCENORM)  # a layer, not the old plugin
    if not parser.parse_from_file(str(onnx_path)):
        errors = [parser.get_error(i).desc() for i in range(parser.num_errors)]
        raise UserError(f"TensorRT cannot parse {onnx_path}: {errors[0] if errors else '?'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    shapes = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        shapes.set_shape(tensor.name, *profile.shapes(tensor.name, tuple(tensor.shape)))
    config.add_optimization_profile(shapes)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        log(f"FP16 with {_pin_instance_norm(trt, network)} instance-norm layers kept in FP32")
    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.exists() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)
    log("building the TensorRT engine (minutes on first build; the timing cache speeds up later "
        "ones)")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise UserError("TensorRT could not build an engine (see its messages above)")
    write_bytes(timing_cache, bytes(memoryview(config.get_timing_cache().serialize())))
    return bytes(memoryview(serialized))


def build_engine(onnx_path, *, fp16: bool = True, profile: Profile = Profile(), out=None,
                 cache: Path | None = None, timing_cache=None, workspace_gb: float = 4.0,
                 force: bool = False, log=print) -> Path:
    """Build (or reuse from the cache) an engine for `onnx_path`; returns the engine's path."""
    trt, gpu = require_tensorrt()
    onnx_path = Path(onnx_path)
    if not onnx_path.is_file():
        raise UserError(f"model not found: {onnx_path}")
    proto = onnx.load(onnx_path, load_external_data=False)
    info = read(proto)
    if info is None:
        raise UserError(f"{onnx_path} is not an rtstyle model: export it with `rtstyle export`")
    problems = trt_problems(proto)
    if problems:
        raise UserError(f"{onnx_path} is not TensorRT-compatible: {'; '.join(problems[:3])}")
    profile.check()
    onnx_hash = info.get("graph_sha256") or graph_hash(proto)
    key = engine_key(gpu, trt.__version__, onnx_hash, fp16, profile)
    cache = Path(cache) if cache else cache_dir() / "engines"
    engine = cache / f"{onnx_path.stem}-{key}.engine"
    sidecar = engine.with_suffix(".json")
    if engine.exists() and sidecar.exists() and not force:
        log(f"using the cached engine {engine}")
    else:
        gpu_key = hashlib.sha256(f"{gpu}|{trt.__version__}".encode()).hexdigest()[:12]
        timing = Path(timing_cache) if timing_cache else cache / f"timing-{gpu_key}.cache"
        write_bytes(engine, _build(trt, onnx_path, fp16, profile, timing, workspace_gb, log))
        description = {"meta": info, "gpu": gpu, "tensorrt": trt.__version__,
                       "onnx_sha256": onnx_hash, "onnx": str(onnx_path.resolve()),
                       "precision": "fp16" if fp16 else "fp32", "profile": asdict(profile)}
        write_bytes(sidecar, json.dumps(description, indent=2).encode())
        log(f"wrote {engine} (+ {sidecar.name}) for {gpu}, TensorRT {trt.__version__}")
    if out:
        out = Path(out)
        write_bytes(out, engine.read_bytes())
        write_bytes(out.with_suffix(".json"), sidecar.read_bytes())
        log(f"copied to {out}")
        return out
    return engine

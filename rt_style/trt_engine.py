"""Native TensorRT 10 engines (.engine / .plan from `rtstyle build-engine`), without torch.

CUDA memory is handled with cuda-python: per tensor one device buffer and one pinned host
staging buffer, allocated on first use and grown (never shrunk) when a larger batch or frame
arrives, and one CUDA stream for copies and execution. An engine file holds no rtstyle
metadata, so the model's ModelInfo is read from the JSON sidecar the build writes next to it.
"""

from __future__ import annotations

import ctypes
import json
import math
from pathlib import Path

import numpy as np

from rt_style.contract import IMAGE, STYLIZED, ModelInfo
from rt_style.engine import Engine
from rt_style.errors import UserError

NO_TRT = "run the .onnx model with ONNX Runtime instead"


def _cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python ≥ 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError:
            raise UserError("TensorRT engines need cuda-python, which is not installed: pip "
                            f"install 'rtstyle[trt]' (or {NO_TRT})") from None
    return cudart


def require_tensorrt():
    """(tensorrt, cudart) when TensorRT and a CUDA GPU are usable, else a one-line UserError."""
    try:
        import tensorrt as trt
    except ImportError:
        raise UserError(f"TensorRT is not installed: pip install 'rtstyle[trt]' on a machine "
                        f"with an NVIDIA GPU (or {NO_TRT})") from None
    cudart = _cudart()
    err, count = cudart.cudaGetDeviceCount()
    if err != cudart.cudaError_t.cudaSuccess or count == 0:
        raise UserError(f"no CUDA GPU is available ({cudart.cudaGetErrorName(err)[1].decode()}"
                        f"): TensorRT engines run on NVIDIA GPUs; {NO_TRT}")
    return trt, cudart


def _call(cudart, result):
    """Unpack a cuda-python (error, value…) tuple; a failed call is a one-line error."""
    err, *values = result
    if err != cudart.cudaError_t.cudaSuccess:
        raise UserError(f"CUDA error: {cudart.cudaGetErrorName(err)[1].decode()}")
    return values[0] if len(values) == 1 else values


class _Buffer:
    """Device memory and a pinned host mirror for one tensor, reused and grown on demand."""

    def __init__(self, cudart):
        self.cudart, self.nbytes, self.device, self.host = cudart, 0, 0, 0

    def ensure(self, nbytes: int) -> None:
        if nbytes <= self.nbytes:
            return
        self.free()
        self.device = _call(self.cudart, self.cudart.cudaMalloc(nbytes))
        self.host = _call(self.cudart, self.cudart.cudaMallocHost(nbytes))
        self.nbytes = nbytes

    def host_array(self, shape, dtype) -> np.ndarray:
        """A NumPy view of the pinned host memory (valid until the buffer grows)."""
        dtype = np.dtype(dtype)
        raw = (ctypes.c_uint8 * self.nbytes).from_address(self.host)
        return np.frombuffer(raw, np.uint8).view(dtype)[:math.prod(shape)].reshape(shape)

    def free(self) -> None:
        if self.nbytes:
            self.cudart.cudaFree(self.device)
            self.cudart.cudaFreeHost(self.host)
            self.nbytes, self.device, self.host = 0, 0, 0


class TrtEngine(Engine):
    """A deserialised TensorRT engine behind the common Engine interface."""

    backend = "TensorRT"

    @classmethod
    def load(cls, path) -> TrtEngine:
        path = Path(path)
        trt, cudart = require_tensorrt()
        sidecar = path.with_suffix(".json")
        if not sidecar.is_file():
            raise UserError(f"{path.name} has no metadata sidecar {sidecar.name} next to it: "
                            "build engines with `rtstyle build-engine`, which writes both")
        try:
            about = json.loads(sidecar.read_text())
            info = ModelInfo.from_dict(about["meta"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            raise UserError(f"{sidecar} is not an rtstyle engine sidecar: rebuild the engine "
                            "with `rtstyle build-engine`") from None
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is None:
            raise UserError(f"TensorRT {trt.__version__} cannot load {path.name} (built with "
                            f"TensorRT {about.get('tensorrt', '?')} for {about.get('gpu', '?')}): "
                            "engines are specific to the GPU and TensorRT version; rebuild it "
                            "here with `rtstyle build-engine`")
        return cls(trt, cudart, runtime, engine, info, path, about)

    def __init__(self, trt, cudart, runtime, engine, info: ModelInfo, path: Path, sidecar: dict):
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        super().__init__(info, path, inputs)
        self.sidecar, self.cudart = sidecar, cudart
        self.runtime, self.engine = runtime, engine  # the runtime must outlive the engine
        self.context = engine.create_execution_context()
        self.stream = _call(cudart, cudart.cudaStreamCreate())
        self.buffers = {n: _Buffer(cudart) for n in names}
        self.dtypes = {n: np.dtype(trt.nptype(engine.get_tensor_dtype(n))) for n in names}
        self.profile = [tuple(d) for d in engine.get_tensor_profile_shape(IMAGE, 0)]

    def describe(self) -> str:
        return (f"{self.path.name} on TensorRT {self.sidecar.get('tensorrt', '')} "
                f"({self.sidecar.get('precision', '?')}, {self.sidecar.get('gpu', 'GPU')})").strip()

    def _check_profile(self, shape) -> None:
        low, _, high = self.profile
        if all(lo <= s <= hi for s, lo, hi in zip(shape, low, high)):
            return
        n, h, w = shape[:3]
        raise UserError(f"{n} frame(s) of {w}x{h} are outside this engine's profile (batch "
                        f"{low[0]}–{high[0]}, {low[2]}x{low[1]} to {high[2]}x{high[1]}): "
                        "rebuild it with a wider profile (rtstyle build-engine --min-size, "
                        "--max-size, --max-batch) or run the .onnx model")

    def _infer(self, feeds: dict) -> np.ndarray:
        cudart, ctx, stream = self.cudart, self.context, self.stream
        self._check_profile(feeds[IMAGE].shape)
        for name in self.inputs:
            value = np.ascontiguousarray(feeds[name], self.dtypes[name])
            buf = self.buffers[name]
            buf.ensure(value.nbytes)
            np.copyto(buf.host_array(value.shape, value.dtype), value)
            _call(cudart, cudart.cudaMemcpyAsync(
                buf.device, buf.host, value.nbytes,
                cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, stream))
            if not ctx.set_input_shape(name, value.shape):
                raise UserError(f"TensorRT rejects input {name} of shape {value.shape}")
            ctx.set_tensor_address(name, buf.device)
        shape = tuple(ctx.get_tensor_shape(STYLIZED))
        dtype = self.dtypes[STYLIZED]
        nbytes = math.prod(shape) * dtype.itemsize
        out = self.buffers[STYLIZED]
        out.ensure(nbytes)
        ctx.set_tensor_address(STYLIZED, out.device)
        if not ctx.execute_async_v3(stream):
            raise UserError("TensorRT failed to run the engine (see its messages above)")
        _call(cudart, cudart.cudaMemcpyAsync(
            out.host, out.device, nbytes, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream))
        _call(cudart, cudart.cudaStreamSynchronize(stream))
        return out.host_array(shape, dtype).copy()

    def close(self) -> None:
        if getattr(self, "stream", None) is None:
            return
        self.cudart.cudaStreamSynchronize(self.stream)
        for buf in self.buffers.values():
            buf.free()
        self.cudart.cudaStreamDestroy(self.stream)
        self.stream = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: CUDA may already be gone
            pass

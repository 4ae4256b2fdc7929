"""OpenVINO backend for .onnx models on x86 CPUs, without torch.

Why a second CPU backend: on the same graphs OpenVINO's CPU plugin runs our models 1.3–1.5×
faster than ONNX Runtime in float32 and about 2× faster in bfloat16 on CPUs with AVX-512 BF16
or AMX (benchmarks/RESULTS.md, issue 15): it fuses the instance norms, ReLUs and elementwise
tails into its convolutions and keeps one blocked layout throughout, where ONNX Runtime
reorders around every norm.

`--provider openvino` takes OpenVINO's own precision choice (bfloat16 where the CPU has it,
float32 elsewhere; a mean difference of about 0.3 of a level on the bundled models);
`openvino-f32` insists on float32 (the ONNX Runtime output to within one level).

OpenVINO runs fastest on a model compiled for one input shape, and compiling takes about 0.1 s,
so each new (batch, height, width) is compiled once and kept; a video or webcam stream has one.
The model's description is stored as ONNX metadata, which OpenVINO does not read: ONNX Runtime
reads it (the `openvino` extra installs both).

One `ov.Core` serves every engine of the process (`_core`). Each Core loads its own CPU plugin,
which gives the loading thread a signal alternate stack of its own and, when the Core is
released, puts back the stack it found there: two Cores released in the order they were made
left the thread on a freed stack, and the next signal whose handler runs there (every Python
handler: CPython installs them with SA_ONSTACK; Ctrl-C, SIGTERM) killed the process with
SIGSEGV (found with gdb: the signal arrived inside kill(); tested in a subprocess).
"""

from __future__ import annotations

import contextlib
import functools
import signal
from collections import OrderedDict
from pathlib import Path

import numpy as np

from rt_style.contract import IMAGE, STYLIZED
from rt_style.engine import Engine, read_info
from rt_style.errors import UserError

# --provider name → INFERENCE_PRECISION_HINT (None: OpenVINO's default for the CPU)
PRECISIONS = {"openvino": None, "openvino-f32": "f32"}
COMPILED_SHAPES = 4  # a stream has one shape; images of many sizes recompile the oldest


def _signals_blocked():
    """Ctrl-C and SIGTERM blocked in this thread while OpenVINO starts its worker threads (on
    import, Core() and compile; not per frame: inference starts none, tested), which inherit
    the mask: a process-wide signal then goes to a Python thread, whose handler runs it, never
    to a thread of OpenVINO's."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no POSIX signal masks
        return contextlib.nullcontext()
    return _masked({signal.SIGINT, signal.SIGTERM})


@contextlib.contextmanager
def _masked(signals):
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@functools.cache
def _core():
    """The process's one OpenVINO Core, its CPU plugin loaded (module doc: never released
    before exit, so the signal stack the plugin gave its thread stays valid)."""
    ov = _openvino()
    with _signals_blocked():
        core = ov.Core()
        core.get_property("CPU", "INFERENCE_PRECISION_HINT")  # loads the plugin now
    return core


def _openvino():
    try:
        with _signals_blocked():
            import openvino
    except ImportError:
        raise UserError("OpenVINO is not installed: pip install 'rtstyle[openvino]' "
                        "(or use --provider cpu for ONNX Runtime)") from None
    return openvino


class OvEngine(Engine):
    """An .onnx model on OpenVINO's CPU plugin, compiled per input shape."""

    backend = "OpenVINO"

    def __init__(self, path: Path, threads: int | None = None, precision: str | None = None):
        _openvino()  # installed (and importable) still: the one-line error otherwise
        path = Path(path)
        info = read_info(path)
        self.core = _core()
        try:
            self.model = self.core.read_model(str(path))
        except RuntimeError as e:
            raise UserError(f"OpenVINO cannot read {path.name}: {str(e).splitlines()[0]}") \
                from None
        super().__init__(info, path, [i.get_any_name() for i in self.model.inputs])
        self.config = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            self.config["INFERENCE_NUM_THREADS"] = threads
        if precision:
            self.config["INFERENCE_PRECISION_HINT"] = precision
        self._requests: OrderedDict = OrderedDict()
        # what the CPU plugin computes in: the hint given, else its own choice for this CPU
        self.precision = precision or self.core.get_property(
            "CPU", "INFERENCE_PRECISION_HINT").get_type_name()

    @property
    def providers(self) -> list[str]:
        return [f"OpenVINO CPU ({self.precision})"]

    def describe(self) -> str:
        return f"{self.path.name} on OpenVINO (CPU, {self.precision})"

    def close(self) -> None:
        self._requests.clear()

    def _request(self, feeds: dict):
        """The infer request compiled for these inputs' shapes (compiled on first sight)."""
        key = tuple((name, a.shape) for name, a in feeds.items())
        request = self._requests.get(key)
        if request is not None:
            self._requests.move_to_end(key)
            return request
        model = self.model.clone()
        try:
            with _signals_blocked():
                model.reshape({name: list(a.shape) for name, a in feeds.items()})
                request = self.core.compile_model(model, "CPU", self.config)\
                    .create_infer_request()
        except RuntimeError as e:
            raise UserError(f"OpenVINO cannot compile {self.path.name} for "
                            f"{feeds[IMAGE].shape[2]}×{feeds[IMAGE].shape[1]} frames: "
                            f"{str(e).strip().splitlines()[0][:160]}; use --provider cpu") from None
        self._requests[key] = request
        if len(self._requests) > COMPILED_SHAPES:
            self._requests.popitem(last=False)
        return request

    def _infer(self, feeds: dict) -> np.ndarray:
        request = self._request(feeds)
        # share_inputs: the checked arrays are contiguous and outlive the call; the output is
        # copied (share_outputs off), since the request reuses its buffer on the next frame
        return request.infer(feeds, share_inputs=True)[STYLIZED]

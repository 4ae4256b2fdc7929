"""Load an exported rtstyle model and stylize frames, on any backend, without torch.

One interface for every backend: `load_engine` takes a model file (rt_style.registry turns a
bundled model's name into one) and returns an Engine whose description (rt_style.contract's
ModelInfo: α names, defaults, ranges, styles) comes from the model itself; `Engine.run`
stylizes uint8 BGR frames. `.onnx` models run on ONNX Runtime (TensorRT, CUDA or CPU execution
providers) or OpenVINO (rt_style.ov_engine), `.engine`/`.plan` files on native TensorRT
(rt_style.trt_engine). Inputs are checked here, before inference, because the backends' own
errors name graph internals rather than what the caller passed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from rt_style.alpha import check_range
from rt_style.contract import ALPHA, IMAGE, META_KEY, STYLE, STYLIZED, ModelInfo
from rt_style.errors import UserError

PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider",
                       "CPUExecutionProvider")
PROVIDER_NAMES = {"tensorrt": "TensorrtExecutionProvider", "trt": "TensorrtExecutionProvider",
                  "cuda": "CUDAExecutionProvider", "cpu": "CPUExecutionProvider"}
TRT_SUFFIXES = (".engine", ".plan")
OPENVINO = ("openvino", "openvino-f32")  # --provider names served by rt_style.ov_engine


def is_provider(name: str) -> bool:
    """Whether `name` is one of --provider's single names (bench's --vs tells them from models)."""
    return name.lower() in ("auto", *PROVIDER_NAMES, *OPENVINO)


def _ort():
    try:
        import onnxruntime
    except ModuleNotFoundError:
        raise UserError("onnxruntime is not installed: pip install 'rtstyle[cpu]' "
                        "(or 'rtstyle[gpu]' on NVIDIA GPUs)") from None
    return onnxruntime


def notice(message: str) -> None:
    """A one-line note on stderr: something worked, but not the way the user might expect."""
    print(f"note: {message}", file=sys.stderr, flush=True)


def cache_dir() -> Path:
    """Where built engines live: $RTSTYLE_CACHE, else $XDG_CACHE_HOME/rtstyle, ~/.cache/rtstyle."""
    if os.environ.get("RTSTYLE_CACHE"):
        return Path(os.environ["RTSTYLE_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rtstyle"


def _with_options(providers: list) -> list:
    """ONNX Runtime's TensorRT provider rebuilds its engines on every start unless cached."""
    trt_cache = str(cache_dir() / "ort-tensorrt")
    return [(p, {"trt_engine_cache_enable": True, "trt_engine_cache_path": trt_cache,
                 "trt_timing_cache_enable": True, "trt_timing_cache_path": trt_cache})
            if p == "TensorrtExecutionProvider" else p for p in providers]


def openvino_preferred() -> bool:
    """auto's choice on a machine without a GPU provider: OpenVINO where it is installed (about
    2× ONNX Runtime's CPU speed on our models, benchmarks/RESULTS.md issue 15)."""
    if any(p != "CPUExecutionProvider" for p in default_providers()):
        return False
    try:
        return importlib.util.find_spec("openvino") is not None
    except ValueError:  # in sys.modules as None: import blocked
        return False


def default_providers() -> list[str]:
    """The fastest execution providers this onnxruntime build offers, best first."""
    available = set(_ort().get_available_providers())
    return [p for p in PREFERRED_PROVIDERS if p in available]


class Engine:
    """The backend-independent half of every engine: the model's description and input checks.

    A backend sets `inputs` (the model's input names) and implements `_infer(feeds)`, which
    receives checked, contiguous arrays (image uint8 N×H×W×3, alpha float32 N×A, style float32
    N×K for multi-style models) and returns the uint8 N×H×W×3 output.
    """

    backend = "?"

    def __init__(self, info: ModelInfo | dict, path: Path, inputs: list[str]):
        self.info = info if isinstance(info, ModelInfo) else _parse_info(info, path)
        self.path, self.inputs = Path(path), list(inputs)

    @property
    def meta(self) -> dict:
        """The description in its JSON form (as stored in the model)."""
        return self.info.to_dict()

    @property
    def num_alpha(self) -> int:
        return self.info.num_alpha

    @property
    def num_styles(self) -> int:
        return self.info.num_styles

    @property
    def alpha_names(self) -> list[str]:
        return self.info.alpha_names

    @property
    def alpha_defaults(self) -> np.ndarray:
        return np.array(self.info.alpha_defaults, np.float32)

    @property
    def alpha_ranges(self) -> np.ndarray:
        """A×2 (low, high) per α component."""
        return np.array(self.info.alpha_ranges, np.float32).reshape(-1, 2)

    @property
    def style_names(self) -> list[str]:
        return list(self.info.style_names)

    def describe(self) -> str:
        return f"{self.path.name} on {self.backend}"

    def close(self) -> None:
        """Release backend resources early (they are also released when garbage-collected)."""

    def run(self, frames, alpha=None, style=None) -> np.ndarray:
        """Stylize N×H×W×3 (or one H×W×3) uint8 BGR frames; returns the same shape.

        alpha: N×A or A values (one α for every frame); None uses the model's defaults.
        style: for multi-style models, a style index or N×K / K mixture weights.
        """
        frames = np.asarray(frames)
        single = frames.ndim == 3
        batch = self._frames(frames[None] if single else frames)
        n = batch.shape[0]
        feeds = {IMAGE: batch, ALPHA: self._alpha(alpha, n)}
        if STYLE in self.inputs:
            feeds[STYLE] = self._style(style, n)
        out = self._infer(feeds)
        return out[0] if single else out

    def _infer(self, feeds: dict) -> np.ndarray:
        raise NotImplementedError

    # ----------------------------------------------------------------------- input checks
    def _frames(self, frames: np.ndarray) -> np.ndarray:
        if frames.dtype != np.uint8:
            raise UserError(f"frames must be uint8 BGR images, got dtype {frames.dtype}")
        if frames.ndim != 4 or frames.shape[-1] != 3 or 0 in frames.shape:
            raise UserError("frames must be H×W×3 or N×H×W×3 uint8 BGR with H, W ≥ 1, "
                            f"got shape {frames.shape}")
        return np.ascontiguousarray(frames)

    def _alpha(self, alpha, n: int) -> np.ndarray:
        a = _numbers(self.alpha_defaults if alpha is None else alpha, "α")
        if a.shape[1] != self.num_alpha:
            raise UserError(f"α has {a.shape[1]} values but the model takes {self.num_alpha} "
                            f"({', '.join(self.alpha_names)})")
        low, high = self.alpha_ranges.T
        bad = np.flatnonzero(((a < low) | (a > high)).any(axis=1))
        if bad.size:
            check_range(a[bad[0]], self.alpha_names, self.alpha_ranges.tolist())  # raises
        return _rows(a, n, "α")

    def _style(self, style, n: int) -> np.ndarray:
        k = self.num_styles
        if style is None:
            raise UserError(f"this model has {k} styles ({', '.join(self.style_names)}): "
                            "pass a style index or mixture weights")
        if isinstance(style, (int, np.integer)):
            if not 0 <= style < k:
                raise UserError(f"style index {style} is out of range: the model has {k} styles")
            style = np.eye(k)[style]
        s = _numbers(style, "style mixture")
        if s.shape[1] != k:
            raise UserError(f"style mixture has {s.shape[1]} weights but the model has {k} "
                            f"styles ({', '.join(self.style_names)})")
        return _rows(s, n, "style mixture")


class OrtEngine(Engine):
    """ONNX Runtime session over the model contract.

    Plain `session.run`: binding the output to a preallocated array (IO binding) measured no
    faster on CPU (43.2 vs 43.3 ms at 640×480, 0.74 vs 0.75 ms at 64×48), so it is not used.
    """

    backend = "ONNX Runtime"

    def __init__(self, session, info: ModelInfo | dict, path: Path):
        super().__init__(info, path, [i.name for i in session.get_inputs()])
        self.session = session

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def describe(self) -> str:
        return f"{self.path.name} on ONNX Runtime ({self.providers[0]})"

    def _infer(self, feeds: dict) -> np.ndarray:
        return self.session.run([STYLIZED], feeds)[0]


def _numbers(values, what: str) -> np.ndarray:
    """A finite float array of rows (a single row or value becomes 1×K)."""
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be numbers") from None
    if a.ndim == 0:
        a = a.reshape(1, 1)
    elif a.ndim == 1:
        a = a[None]
    elif a.ndim > 2:
        raise UserError(f"{what} must be one row or one row per frame, got shape {a.shape}")
    if not np.isfinite(a).all():
        raise UserError(f"{what} contains NaN or infinite values")
    return a


def _rows(a: np.ndarray, n: int, what: str) -> np.ndarray:
    """One row per frame: a single row is shared by all n frames."""
    if a.shape[0] == 1:
        a = np.broadcast_to(a, (n, a.shape[1]))
    elif a.shape[0] != n:
        raise UserError(f"{what} has {a.shape[0]} rows for {n} frames: give one row per frame "
                        "or a single row for all")
    return np.ascontiguousarray(a, dtype=np.float32)


def _provider_request(providers) -> tuple[list[str], bool]:
    """(ONNX Runtime provider names to try, whether the first one is required).

    None or 'auto': every preferred provider this build has, falling back down the list.
    'cpu' | 'cuda' | 'tensorrt' (or 'trt'), or a comma list of them: the first is required,
    the others (and the CPU provider, for any operator the first lacks) back it up. A list of
    ONNX Runtime provider names: tried in order, falling back like 'auto'.
    """
    if providers is None or providers == "auto":
        return default_providers(), False
    if not isinstance(providers, str):
        return list(providers), False
    names = []
    for part in (p.strip() for p in providers.split(",") if p.strip()):
        name = PROVIDER_NAMES.get(part.lower(), part)
        if name not in PROVIDER_NAMES.values():
            raise UserError(f"unknown provider {part!r}: choose auto, cpu, cuda, tensorrt or "
                            "openvino")
        names.append(name)
    available = _ort().get_available_providers()
    if not names or names[0] not in available:
        raise UserError(f"the {providers.split(',')[0].strip() or '?'} provider is not in this "
                        f"onnxruntime build (it has {', '.join(available)}): pip install "
                        "onnxruntime-gpu on an NVIDIA machine, or use --provider cpu")
    names += ["CPUExecutionProvider"] * ("CPUExecutionProvider" not in names)
    return [n for n in names if n in available], True


def _ort_session(path: Path, providers, threads: int | None):
    """A session on the best provider that loads; a notice when a preferred one fell away."""
    ort = _ort()
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    # ONNX Runtime's worker threads spin between operators by default. With anything else
    # running (the capture, decode or encode threads, another program) they fight it for the
    # cores: at 640×480 on a 2-core CPU, blocking instead ran the fast model 1.6× faster alone
    # and the webcam loop 1.6× faster (benchmarks/RESULTS.md, issue 7).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    candidates, explicit = _provider_request(providers)
    error = None
    # A GPU provider that is compiled in may still fail to load (no driver, missing libraries):
    # either the session raises, or ONNX Runtime drops it with a warning. Drop the failing
    # head of the list and retry; say so in one line.
    for i in range(len(candidates)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ORT's own multi-line provider warnings
                session = ort.InferenceSession(str(path), options,
                                               providers=_with_options(candidates[i:]))
            break
        except Exception as e:  # onnxruntime raises its own exception types, not importable
            error = e
            if "INVALID_PROTOBUF" in str(e) or "Protobuf parsing failed" in str(e):
                raise UserError(f"{path} is not a valid ONNX model") from None
            if explicit:
                break
    else:
        session = None
    if session is None:
        raise UserError(f"cannot load {path} with {', '.join(candidates) or 'no providers'}: "
                        f"{str(error).splitlines()[0] if error else 'nothing to try'}")
    got = session.get_providers()
    if candidates and got[0] != candidates[0]:
        why = f" ({str(error).splitlines()[0][:120]})" if error else ""
        if explicit:
            raise UserError(f"{candidates[0]} could not be loaded{why}; ONNX Runtime would run "
                            f"on {got[0]}: choose that provider explicitly")
        notice(f"{candidates[0]} could not be loaded{why}; running on {got[0]}")
    return session


def _parse_info(meta: dict, path: Path) -> ModelInfo:
    try:
        return ModelInfo.from_dict(meta)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UserError(f"{path} has corrupt rtstyle metadata: export it again") from None


def session_info(session, path: Path) -> ModelInfo:
    """The description an ONNX Runtime session's model carries (a UserError if it has none)."""
    return info_from_metadata(session.get_modelmeta().custom_metadata_map.get(META_KEY), path)


def info_from_metadata(raw: str | None, path: Path) -> ModelInfo:
    """A model's description from its stored metadata text (None: it has none), or a
    UserError saying what is wrong; for readers without a session (training's --init)."""
    if raw is None:
        raise UserError(f"{path} is not an rtstyle model (no '{META_KEY}' metadata): "
                        "export it with `rtstyle export`")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise UserError(f"{path} has corrupt rtstyle metadata: export it again") from None
    return _parse_info(meta, path)


def read_info(path) -> ModelInfo:
    """An .onnx model's description, read without running it (a UserError if it has none)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model not found: {path}")
    return session_info(_ort_session(path, "cpu", 1), path)


def load_engine(path, providers=None, threads: int | None = None) -> Engine:
    """Open a model file (rt_style.registry.resolve finds one by a bundled model's name).

    .onnx: providers=None or 'auto': on an onnxruntime build with GPU providers, TensorRT,
    CUDA, CPU, whichever loads (with a one-line notice when a preferred one fails); on a
    CPU-only build OpenVINO where it is installed, else ONNX Runtime's CPU provider;
    'cpu' | 'cuda' | 'tensorrt' (or a comma list of them, as --provider takes) insists on the
    first; a list of ONNX Runtime
    provider names is tried in order; 'openvino' / 'openvino-f32': OpenVINO's CPU plugin
    (rt_style.ov_engine). threads: inference threads (None: the backend's default, one per
    core). .engine / .plan: native TensorRT.
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model not found: {path}")
    if path.suffix.lower() in TRT_SUFFIXES:
        if providers not in (None, "auto", "tensorrt", "trt"):
            raise UserError(f"{path.name} is a TensorRT engine: it runs on TensorRT only "
                            "(pass the .onnx model to use another provider)")
        from rt_style.trt_engine import TrtEngine

        return TrtEngine.load(path)
    if threads is not None and threads < 1:
        raise UserError(f"threads must be at least 1, got {threads}")
    if isinstance(providers, str) and providers.lower() in OPENVINO:
        from rt_style.ov_engine import PRECISIONS, OvEngine

        return OvEngine(path, threads, PRECISIONS[providers.lower()])
    if providers in (None, "auto") and openvino_preferred():
        from rt_style.ov_engine import OvEngine

        try:
            return OvEngine(path, threads)
        except UserError as e:
            notice(f"OpenVINO could not run {path.name} ({e}); running on ONNX Runtime")
    session = _ort_session(path, providers, threads)
    return OrtEngine(session, session_info(session, path), path)

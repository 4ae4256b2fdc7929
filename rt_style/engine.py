"""Load an exported rtstyle model and stylize frames with ONNX Runtime (no torch).

The model carries its own description (α names, defaults, ranges, styles) in ONNX metadata, so
the runtime needs nothing but the .onnx file. Inputs are checked here, before inference, because
ONNX Runtime's own errors name graph internals rather than what the caller passed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from rt_style.errors import UserError

META_KEY = "rtstyle"  # metadata_props key holding one JSON object (written by export/)
PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider",
                       "CPUExecutionProvider")


def _ort():
    try:
        import onnxruntime
    except ModuleNotFoundError:
        raise UserError("onnxruntime is not installed: pip install 'rtstyle[cpu]' "
                        "(or 'rtstyle[gpu]' on NVIDIA GPUs)") from None
    return onnxruntime


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


def default_providers() -> list[str]:
    """The fastest execution providers this onnxruntime build offers, best first."""
    available = set(_ort().get_available_providers())
    return [p for p in PREFERRED_PROVIDERS if p in available]


class Engine:
    """One ONNX Runtime session over the model contract: uint8 BGR N×H×W×3 in and out."""

    def __init__(self, session, meta: dict, path: Path):
        self.session, self.meta, self.path = session, meta, path
        self.inputs = [i.name for i in session.get_inputs()]
        self.num_alpha = len(meta["alpha"])
        self.num_styles = len(meta["style_names"])

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    @property
    def alpha_names(self) -> list[str]:
        return [a["name"] for a in self.meta["alpha"]]

    @property
    def alpha_defaults(self) -> np.ndarray:
        return np.array([a["default"] for a in self.meta["alpha"]], np.float32)

    def run(self, frames, alpha=None, style=None) -> np.ndarray:
        """Stylize N×H×W×3 (or one H×W×3) uint8 BGR frames; returns the same shape.

        alpha: N×A or A values (one α for every frame); None uses the model's defaults.
        style: for multi-style models, a style index or N×K / K mixture weights.
        """
        frames = np.asarray(frames)
        single = frames.ndim == 3
        batch = self._frames(frames[None] if single else frames)
        n = batch.shape[0]
        feeds = {"image": batch, "alpha": self._alpha(alpha, n)}
        if "style" in self.inputs:
            feeds["style"] = self._style(style, n)
        out = self.session.run(["stylized"], feeds)[0]
        return out[0] if single else out

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
        return _rows(a, n, "α")

    def _style(self, style, n: int) -> np.ndarray:
        k = self.num_styles
        if style is None:
            raise UserError(f"this model has {k} styles ({', '.join(self.meta['style_names'])}): "
                            "pass a style index or mixture weights")
        if isinstance(style, (int, np.integer)):
            if not 0 <= style < k:
                raise UserError(f"style index {style} is out of range: the model has {k} styles")
            style = np.eye(k)[style]
        s = _numbers(style, "style mixture")
        if s.shape[1] != k:
            raise UserError(f"style mixture has {s.shape[1]} weights but the model has {k} "
                            f"styles ({', '.join(self.meta['style_names'])})")
        return _rows(s, n, "style mixture")


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


def load_engine(path, providers=None, threads: int | None = None) -> Engine:
    """Open an exported model. providers=None picks TensorRT, CUDA, CPU, whichever load."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model not found: {path}")
    ort = _ort()
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    candidates = list(providers or default_providers())
    error = None
    # Try the preferred provider list, then drop the first one until a session starts: a GPU
    # provider that is compiled in may still fail to load (no driver, missing libraries).
    for i in range(len(candidates)):
        try:
            session = ort.InferenceSession(str(path), options,
                                           providers=_with_options(candidates[i:]))
            break
        except Exception as e:  # onnxruntime raises its own exception types, not importable
            error = e
            if "INVALID_PROTOBUF" in str(e) or "Protobuf parsing failed" in str(e):
                raise UserError(f"{path} is not a valid ONNX model") from None
    else:
        raise UserError(f"cannot load {path} with {', '.join(candidates) or 'no providers'}: "
                        f"{str(error).splitlines()[0] if error else 'nothing to try'}")
    raw = session.get_modelmeta().custom_metadata_map.get(META_KEY)
    if raw is None:
        raise UserError(f"{path} is not an rtstyle model (no '{META_KEY}' metadata): "
                        "export it with `rtstyle export`")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError:
        raise UserError(f"{path} has corrupt rtstyle metadata: export it again") from None
    return Engine(session, meta, path)

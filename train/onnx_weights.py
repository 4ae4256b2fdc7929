"""An exported model's weights as a checkpoint, so training can start from a shipped model.

The ONNX file keeps every weight under its PyTorch name (prefixed `model.`), with one change
made by the exporter: `export.optimize.subpixel_upsampling` replaces each nearest ×2 → 3×3
convolution by a low-resolution convolution with one 3×3 kernel per output phase. Those four
phase kernels are linear in the original kernel and together determine it, so a least-squares
solve gives it back exactly (to float rounding). Only the default (portable) fp32 export
qualifies: `--cpu-only` fuses and transposes further, fp16 and int8 lose precision.

This is how a bundled model keeps training across machines: the model files are committed,
checkpoints are not (`rtstyle train --init rt_style/models/classics.onnx`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from rt_style.contract import META_KEY, ModelInfo
from rt_style.engine import info_from_metadata
from rt_style.errors import UserError

PREFIX = "model."
SUBPIXEL = "_subpixel"


def _phase_taps(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Per output phase d of a ×2 upsampling, which low-resolution taps (rows: offsets −1, 0,
    +1) each of a 3×3 kernel's full-resolution taps (columns) reads, and how much: nearest
    repeats each pixel; bilinear with half-pixel centres makes pixel 2k 0.25·x[k−1] + 0.75·x[k]
    and 2k + 1 0.75·x[k] + 0.25·x[k+1] (what export.optimize folds; the tests hold them equal)."""
    phases = []
    for d in range(2):
        taps = np.zeros((3, 3))
        for c in range(3):
            k, odd = divmod(d + c - 1, 2)  # full-resolution pixel 2j + d + c − 1 = 2(j + k) + odd
            if kind == "nearest":
                taps[k + 1, c] = 1
            elif odd:
                taps[k + 1, c], taps[k + 2, c] = 0.75, 0.25
            else:
                taps[k, c], taps[k + 1, c] = 0.25, 0.75
        phases.append(taps)
    return tuple(phases)


PHASE_TAPS = {kind: _phase_taps(kind) for kind in ("nearest", "bilinear")}


def _unphase(phases: np.ndarray) -> np.ndarray | None:
    """The 3×3 kernel (Cout×Cin×3×3) whose ×2 phases are `phases` (4·Cout×Cin×3×3), for a
    nearest or a bilinear upsampling, whichever reproduces them; None if neither does."""
    cout, cin = phases.shape[0] // 4, phases.shape[1]
    target = phases.astype(np.float64).reshape(cout, 4, cin, 9).transpose(1, 3, 0, 2)
    target = target.reshape(36, -1)
    scale = max(float(np.abs(target).max()), 1e-12)
    for taps in PHASE_TAPS.values():
        # vec(P_dy W P_dx^T) = (P_dy ⊗ P_dx) vec(W): stack the four phases' maps and solve.
        ops = np.concatenate([np.kron(taps[dy], taps[dx]) for dy in range(2) for dx in range(2)])
        solved, *_ = np.linalg.lstsq(ops, target, rcond=None)
        if np.abs(ops @ solved - target).max() <= 1e-5 * scale:
            return solved.reshape(3, 3, cout, cin).transpose(2, 3, 0, 1).astype(phases.dtype)
    return None


def _weights(proto: onnx.ModelProto) -> dict[str, np.ndarray]:
    """PyTorch name → array for every named weight of the graph."""
    out = {}
    for init in proto.graph.initializer:
        if not init.name.startswith(PREFIX):
            continue  # folded constants the exporter made (shapes, scales), not parameters
        name, value = init.name[len(PREFIX):], numpy_helper.to_array(init)
        if name.endswith(SUBPIXEL):
            name = name[:-len(SUBPIXEL)]
            value = _unphase(value) if value.ndim == 4 else value[::4].copy()
        if value is not None:  # an upsampling no rewrite of ours makes: missing, so refused
            out[name] = value
    return out


def _architectures(info: ModelInfo, weights: dict) -> list[dict]:
    """The network the model was exported from: exports record it (`architecture`); older
    ones name their preset, and the weights decide the rest (conditioner size, input skip)."""
    if "architecture" in info.extra:
        return [dict(info.extra["architecture"])]
    hidden = [w for k, w in weights.items()
              if k.startswith("conditioner.hidden.") and k.endswith(".weight")]
    base = dict(preset=info.preset, num_alpha=len(info.components),
                num_styles=len(info.style_names), width=info.width or 1.0,
                conditioner=dict(width=hidden[0].shape[0] if hidden else 0,
                                 depth=max(len(hidden) - 1, 0), init="default"))
    return [{**base, "input_skip": skip} for skip in (True, False)]


def _fitting(architectures: list[dict], weights: dict):
    """The first network that every weight fits, with them loaded; None if none does."""
    from train.model import StyleNet

    for arch in architectures:
        try:
            model = StyleNet.from_architecture(arch)
            model.load_state_dict({k: torch.from_numpy(np.array(weights[k]))
                                   for k in model.state_dict()})
        except (KeyError, RuntimeError, ValueError, TypeError):
            continue
        return model
    return None


def checkpoint_from_onnx(path) -> dict:
    """A checkpoint (format, step, architecture, meta, model) holding an exported model's
    weights; what `--init` reads."""
    from train.checkpoint import FORMAT

    path = Path(path)
    try:
        proto = onnx.load(str(path))
    except Exception as e:  # protobuf's decode errors have no common public type
        raise UserError(f"{path} is not a readable ONNX model ({e.__class__.__name__})") from None
    info = info_from_metadata(
        next((p.value for p in proto.metadata_props if p.key == META_KEY), None), path)
    if info.precision not in (None, "fp32"):
        raise UserError(f"{path} is a {info.precision} model; warm-start from its fp32 export")
    weights = _weights(proto)
    model = _fitting(_architectures(info, weights), weights)
    if model is None:
        raise UserError(f"{path}: its weights do not fit the network it names (exported with "
                        "--cpu-only, or its preset changed since); warm-start from its "
                        "checkpoint or a default export")
    meta = info.to_dict()
    for key in ("graph_sha256", "opset", "precision", "stride", "margin", "min_side",
                "architecture"):
        meta.pop(key, None)  # properties of the export, not of the training
    return {"format": FORMAT, "step": int(info.steps or 0), "architecture": model.architecture(),
            "meta": meta, "model": model.state_dict()}

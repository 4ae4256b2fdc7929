"""Checkpoint → validated ONNX model, plus optional FP16 and int8 variants.

Every model is checked before it is written: onnx.checker, then ONNX Runtime against PyTorch on
noise frames at several sizes (tiny and odd ones included) with a different α per frame. A model
that differs by more than the tolerance is never written; files appear atomically.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import onnx
import torch

from export import parity
from export.graph import ExportGraph
from export.metadata import describe, embed, read
from export.trt_check import trt_problems
from rt_style.alpha import parse_alpha
from rt_style.atomic import write_bytes
from rt_style.contract import ALPHA, IMAGE, STYLE, STYLIZED, ModelInfo
from rt_style.errors import UserError
from rt_style.outputs import check_writable, same_file
from train.model import min_reflect_side

DEFAULT_OPSET = 18
EXAMPLE = (2, 37, 53)  # batch ≥ 2 and sides > 1: the exporter specialises dimensions of 0 or 1
INT8_PARITY_FRAMES = 8
BENCH_SIZE = (480, 640)  # H×W


@contextmanager
def _quiet_exporter():
    """torch.onnx and onnxscript log progress, notes and handled failures; the CLI reports
    what matters itself."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def trace(module: ExportGraph, opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """Export with torch.export (dynamo), keeping batch, height and width symbolic."""
    n, h, w = EXAMPLE
    model = module.model
    if model.transform.spec.input_scale == 1:
        batch, height, width = (torch.export.Dim(name) for name in ("batch", "height", "width"))
    else:  # the strict solver cannot prove that the half-size frame, enlarged, fits the frame
        # again (nested floor divisions); DYNAMIC keeps such checks as runtime asserts. The
        # parity check at odd sizes shows that no size was specialised.
        batch = height = width = torch.export.Dim.DYNAMIC
    args = [torch.randint(0, 256, (n, h, w, 3), dtype=torch.uint8), torch.rand(n, model.num_alpha)]
    shapes = [{0: batch, 1: height, 2: width}, {0: batch}]
    names = [IMAGE, ALPHA]
    if model.num_styles > 1:
        args.append(torch.rand(n, model.num_styles).softmax(1))
        shapes.append({0: batch})
        names.append(STYLE)
    with _quiet_exporter(), torch.no_grad():
        try:
            program = torch.onnx.export(module.eval(), tuple(args), dynamo=True, verbose=False,
                                        dynamic_shapes=tuple(shapes), input_names=names,
                                        output_names=[STYLIZED], opset_version=opset)
        except Exception as e:  # the exporter raises many types; the first line says which
            raise UserError(f"ONNX export failed at opset {opset}: {e.__class__.__name__}: "
                            f"{str(e).strip().splitlines()[0]}") from None
    proto = program.model_proto
    got = opset_of(proto)
    if got != opset:  # the exporter falls back to its own opset when it cannot convert
        raise UserError(f"cannot export at opset {opset}: the exporter could only produce "
                        f"opset {got}; use --opset {got}")
    return proto


def opset_of(proto: onnx.ModelProto) -> int:
    return next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))


def simplifier():
    """onnxslim's graph simplifier, checked for before the (slow) export starts."""
    try:
        import onnxslim
    except ModuleNotFoundError:
        raise UserError("--simplify needs onnxslim, which is not installed: "
                        "pip install onnxslim") from None
    return onnxslim.slim


def cpu_session(data: bytes):
    """ONNX Runtime on the CPU: the reference backend for validation, the same everywhere."""
    import onnxruntime as ort

    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def variant_path(out: Path, precision: str) -> Path:
    """model.onnx → model.fp16.onnx / model.int8.onnx."""
    return out.with_name(f"{out.stem}.{precision}{out.suffix or '.onnx'}")


@dataclass
class ExportResult:
    path: Path
    info: ModelInfo
    parity: list
    variants: dict = field(default_factory=dict)  # precision → path
    trt_problems: list = field(default_factory=list)


def set_margin(model, margin: int) -> None:
    """The reflected border around each frame, in the frame's pixels (its width is baked into
    the graph). Zero padding inside T reaches up to about 40 px into the picture (`fast`: at 32
    a dark 1-px line was left along its left edge; benchmarks/RESULTS.md); a margin wider than
    that keeps its edge response (a line along the frame's edges) in the part cropped off."""
    stride = model.frame_stride
    if margin < 0 or margin % stride:
        raise UserError(f"--margin {margin}: needs a multiple of the network's stride "
                        f"({stride}), e.g. {max(stride, 40 // stride * stride)}")
    model.transform.margin = margin // model.transform.spec.input_scale


def export_checkpoint(checkpoint, out, *, opset: int = DEFAULT_OPSET, simplify_graph=False,
                      fp16=False, int8_dir=None, calib_count: int = 32, bench_runs: int = 20,
                      sizes=parity.DEFAULT_SIZES, tolerance: int = 1, log=print,
                      optimize_graph: bool = True, alpha_default: str | None = None,
                      cpu_only: bool = False, margin: int | None = None) -> ExportResult:
    """Export, validate and write `out`; then the requested variants next to it.

    optimize_graph: apply export.optimize's exact rewrites (faster on ONNX Runtime's CPU).
    cpu_only: also the rewrites only ONNX Runtime runs (export.optimize.CPU): faster on its CPU
    provider, but TensorRT cannot parse the graph.
    alpha_default: where the sliders start in the shipped model ('v,v,…' or 'name=v,…'), in
    place of the training run's; the network is trained on the whole α cube, so any point is
    a valid start.
    """
    from train.checkpoint import checkpoint_file, load_model

    out = Path(out)
    if cpu_only and (fp16 or int8_dir):
        raise UserError("--cpu-only applies to the FP32 model only: export the FP16 / int8 "
                        "variants without it")
    simplify = simplifier() if simplify_graph else None
    source = checkpoint_file(checkpoint)
    targets = [out] + [variant_path(out, p) for p, on in (("fp16", fp16), ("int8", int8_dir))
                       if on]
    for target in targets:  # all before the (slow) export: a failure then leaves nothing
        if same_file(target, source):
            raise UserError(f"{target} would overwrite the checkpoint {source} it is exported "
                            "from: choose another -o")
        check_writable(target)
    frames = None
    if int8_dir:
        from export import int8

        frames = int8.calibration_frames(int8_dir, calib_count)
    model, trained = load_model(checkpoint)
    if margin is not None:
        set_margin(model, margin)
    if alpha_default is not None:
        start = parse_alpha(alpha_default, trained.alpha_names, trained.alpha_defaults,
                            trained.alpha_ranges, option="--alpha-default")
        trained = trained.with_defaults([round(float(v), 6) for v in start])
    module = ExportGraph(model).eval()
    log(f"exporting {checkpoint} ({trained.preset}, α: {', '.join(trained.alpha_names)}, "
        f"styles: {', '.join(trained.style_names)}) at opset {opset}")
    proto = trace(module, opset)
    if simplify:
        proto = simplify(proto)
    if optimize_graph:
        from export.optimize import CPU, PORTABLE, optimize

        proto, _ = optimize(proto, CPU if cpu_only else PORTABLE)
    info = describe(model, trained, opset=opset_of(proto),
                    min_side=min_reflect_side(model.frame_stride, model.frame_margin))
    proto = embed(proto, info)
    reference = parity.torch_runner(module)
    fp32 = _validated(proto, "fp32", reference, parity.noise_feeds(info, sizes), tolerance)
    log(f"fp32 ONNX Runtime vs PyTorch, {parity.report(fp32.diffs)}")
    write_bytes(out, fp32.data)
    result = ExportResult(out, info, fp32.diffs, trt_problems=trt_problems(proto))
    log(f"wrote {out} (graph sha256 {read(proto)['graph_sha256'][:12]})")
    if fp16:
        from export.fp16 import to_fp16

        proto16 = embed(to_fp16(proto), info, precision="fp16")
        half = _validated(proto16, "fp16", reference, parity.noise_feeds(info, sizes))
        log(f"fp16 ONNX Runtime vs PyTorch, {parity.report(half.diffs)}")
        result.variants["fp16"] = _write_variant(out, "fp16", half.data, log)
    if int8_dir:
        result.variants["int8"] = _int8(proto, info, fp32, frames, int8_dir, bench_runs, out,
                                        log)
    return result


@dataclass
class _Checked:
    data: bytes
    session: object
    diffs: list


def _validated(proto, label: str, reference, feeds, tolerance=None) -> _Checked:
    """onnx.checker, then ONNX Runtime vs `reference`; fail above `tolerance` (None: measure)."""
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as e:
        raise UserError(f"the exported {label} graph is invalid: "
                        f"{str(e).strip().splitlines()[0]}") from None
    data = proto.SerializeToString()
    try:
        session = cpu_session(data)
        diffs = parity.compare(parity.session_runner(session), reference, feeds)
    except Exception as e:  # onnxruntime's exception types are not importable; keep one line
        raise UserError(f"ONNX Runtime cannot run the exported {label} graph: "
                        f"{str(e).strip().splitlines()[0]}") from None
    worst = max(diffs, key=lambda d: d.max)
    if tolerance is not None and worst.max > tolerance:
        h, w = worst.size
        raise UserError(f"export failed validation: ONNX Runtime differs from PyTorch by "
                        f"{worst.max} > {tolerance} (0–255 units) at {h}×{w}; nothing written")
    return _Checked(data, session, diffs)


def _write_variant(out: Path, precision: str, data: bytes, log) -> Path:
    path = variant_path(out, precision)
    write_bytes(path, data)
    log(f"wrote {path}")
    return path


def _int8(proto, info, fp32: _Checked, frames, calib_dir, bench_runs, out, log) -> Path:
    """Quantize on the calibration `frames`, report parity and speed against the FP32 model,
    write model.int8.onnx."""
    from export import int8

    log(f"calibrating int8 on {len(frames)} photos from {calib_dir}")
    proto8 = embed(int8.quantize(proto, int8.calibration_feeds(frames, info)), info,
                   precision="int8")
    fp32_run = parity.session_runner(fp32.session)
    # Held-out α on real photos: noise frames would exceed the calibrated ranges.
    feeds = int8.calibration_feeds(frames[:INT8_PARITY_FRAMES], info, seed=1)
    checked = _validated(proto8, "int8", fp32_run, feeds)
    diffs = checked.diffs
    worst = max(d.max for d in diffs)
    mean = sum(d.mean for d in diffs) / len(diffs)
    log(f"int8 vs fp32 (ONNX Runtime, {len(diffs)} photos): max |Δ| {worst}, mean |Δ| {mean:.3f}")
    bench = parity.noise_feeds(info, [BENCH_SIZE], batch=1)[0]
    t32 = parity.latency_ms(fp32_run, bench, bench_runs)
    t8 = parity.latency_ms(parity.session_runner(checked.session), bench, bench_runs)
    h, w = BENCH_SIZE
    log(f"speed at {w}×{h}, ONNX Runtime CPU: fp32 {t32:.1f} ms, int8 {t8:.1f} ms "
        f"({t32 / t8:.2f}× fp32)")
    return _write_variant(out, "int8", checked.data, log)

"""`rtstyle export` and `rtstyle build-engine`.

Heavy imports (torch, tensorrt) happen inside the commands: building an engine needs no torch,
and `rtstyle --help` needs neither.
"""

from __future__ import annotations

import click

from export.tensorrt import Profile
from rt_style.errors import UserError
from rt_style.scaling import parse_size

DEFAULT = Profile()


def trt_options(f):
    """Options shared by `build-engine` and `export --trt`."""
    def size_option(name, value, what):
        return click.option(f"--{name}", default=f"{value[0]}x{value[1]}", show_default=True,
                            help=f"{what} frame size of the optimisation profile, WxH.")

    options = [
        click.option("--engine-precision", type=click.Choice(["fp16", "fp32"]), default="fp16",
                     show_default=True, help="fp16 keeps instance norm in FP32."),
        size_option("min-size", DEFAULT.min_size, "Smallest"),
        size_option("opt-size", DEFAULT.opt_size, "Tuned-for"),
        size_option("max-size", DEFAULT.max_size, "Largest"),
        click.option("--opt-batch", default=DEFAULT.opt_batch, show_default=True,
                     type=click.IntRange(1), help="Batch size the engine is tuned for."),
        click.option("--max-batch", default=DEFAULT.max_batch, show_default=True,
                     type=click.IntRange(1), help="Largest batch the engine accepts."),
        click.option("--engine", "engine_out", type=click.Path(dir_okay=False),
                     help="Also copy the engine (and its .json sidecar) here."),
        click.option("--cache-dir", type=click.Path(file_okay=False),
                     help="Engine cache folder (default ~/.cache/rtstyle/engines)."),
        click.option("--timing-cache", type=click.Path(dir_okay=False),
                     help="TensorRT timing cache file (default: in the cache folder)."),
        click.option("--workspace", default=4.0, show_default=True, type=click.FloatRange(0.1),
                     help="Builder workspace in GiB."),
        click.option("--force", is_flag=True, help="Rebuild even if a cached engine matches."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _build(onnx_path, o) -> None:
    from export.tensorrt import build_engine

    sizes = (parse_size(o[k], both=True) for k in ("min_size", "opt_size", "max_size"))
    profile = Profile(*sizes, 1, o["opt_batch"], o["max_batch"])
    path = build_engine(onnx_path, fp16=o["engine_precision"] == "fp16", profile=profile,
                        out=o["engine_out"], cache=o["cache_dir"], timing_cache=o["timing_cache"],
                        workspace_gb=o["workspace"], force=o["force"], log=click.echo)
    click.echo(f"engine: {path}")


@click.command("export")
@click.argument("checkpoint", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              metavar="MODEL.onnx", help="Where to write the ONNX model.")
@click.option("--opset", default=18, show_default=True, type=click.IntRange(18),
              help="ONNX opset (torch's exporter writes 18 or later; TensorRT 10 parses ≤ 20).")
@click.option("--fp16", is_flag=True,
              help="Also write MODEL.fp16.onnx: FP16 weights, instance norm in FP32.")
@click.option("--int8", "int8_dir", type=click.Path(), metavar="CALIB_DIR",
              help="Also write MODEL.int8.onnx, statically quantized (QDQ) and calibrated on the "
                   "photos in CALIB_DIR; prints its parity and speed against FP32.")
@click.option("--calib-count", default=32, show_default=True, type=click.IntRange(1),
              help="Photos used for int8 calibration.")
@click.option("--bench-runs", default=20, show_default=True, type=click.IntRange(1),
              help="Timed runs per model in the int8 vs fp32 speed comparison.")
@click.option("--simplify", is_flag=True, help="Simplify the graph with onnxslim (pip install "
                                                "onnxslim).")
@click.option("--tolerance", default=1, show_default=True, type=click.IntRange(0),
              help="Largest accepted ONNX Runtime vs PyTorch difference, in 0–255 units.")
@click.option("--alpha-default", metavar="v,v,…|name=v,…",
              help="Where the sliders start in the exported model (default: the run's "
                   "--alpha-default).")
@click.option("--margin", type=click.IntRange(0), metavar="PX",
              help="Reflected border added around each frame and cropped off after the network "
                   "(default: the run's; the CPU presets train with 16). 40 keeps the network's "
                   "edge response out of the picture (no line along the frame's edges) at 17 % "
                   "more pixels at 640×480; in the frame's pixels, a multiple of the stride.")
@click.option("--cpu-only", is_flag=True,
              help="A graph for ONNX Runtime's CPU provider only: faster there (fused "
                   "instance norm, uint8 data movement, transposed upsampling convs), but "
                   "TensorRT cannot parse it.")
@click.option("--trt", is_flag=True, help="Also build a TensorRT engine (NVIDIA GPU + tensorrt).")
@trt_options
def export_command(checkpoint, output, opset, fp16, int8_dir, calib_count, bench_runs, simplify,
                   tolerance, alpha_default, margin, cpu_only, trt, **trt_opts):
    """Export a checkpoint to ONNX (uint8 BGR frames and α in, uint8 BGR out), validated
    against PyTorch.

    Example: rtstyle export runs/starry -o starry.onnx --int8 photos/
    """
    if trt and cpu_only:
        raise UserError("--trt needs a graph TensorRT can parse: leave out --cpu-only")
    if trt:
        from export.tensorrt import require_tensorrt

        require_tensorrt()  # fail before a long export, not after it
    try:
        from export.onnx_export import export_checkpoint
    except ModuleNotFoundError as e:
        raise UserError(f"`rtstyle export` needs {e.name}, which is not installed: "
                        "pip install 'rtstyle[train,export]' torch==2.13.0") from None
    result = export_checkpoint(checkpoint, output, opset=opset, simplify_graph=simplify,
                               fp16=fp16, int8_dir=int8_dir, calib_count=calib_count,
                               bench_runs=bench_runs, tolerance=tolerance, log=click.echo,
                               alpha_default=alpha_default, cpu_only=cpu_only, margin=margin)
    if cpu_only:
        click.echo("note: a --cpu-only graph runs on ONNX Runtime's CPU provider only; export "
                   "without --cpu-only for TensorRT or GPUs")
    elif result.trt_problems:
        click.echo("note: TensorRT 10 would reject this graph: "
                   + "; ".join(result.trt_problems[:5]))
    else:
        click.echo("TensorRT 10 compatibility check: ok")
    if trt:
        _build(result.path, trt_opts)


@click.command("build-engine")
@click.argument("model", type=click.Path(dir_okay=False))
@trt_options
def build_engine_command(model, **trt_opts):
    """Build a TensorRT engine for MODEL.onnx on this machine's GPU, cached by GPU, TensorRT
    version and model.

    Example: rtstyle build-engine starry.onnx --max-size 1920x1080
    """
    _build(model, trt_opts)

"""Command-line options shared by `rtstyle webcam`, `video` and `image`, and what they resolve to.

Defined once so that --engine, --provider, --alpha, --style and --size mean the same thing in
every command; parsing of α and styles itself lives in rt_style.alpha.
"""

from __future__ import annotations

import click
import numpy as np

from rt_style.alpha import parse_alpha, parse_style_mixture
from rt_style.engine import Engine, load_engine
from rt_style.registry import resolve


def engine_options(f):
    """--engine, --provider, --threads, --style."""
    f = click.option("--style", metavar="NAME[:W],…",
                     help="Style of a multi-style model, or a mixture 'a:0.7,b:0.3' "
                          "(default: its first style).")(f)
    f = click.option("--threads", type=click.IntRange(1), default=None,
                     help="Inference threads (default: the backend's choice, one per core).")(f)
    f = click.option("--provider", metavar="auto|cpu|cuda|tensorrt|openvino",
                     help="Where the model runs (default auto: a GPU provider of ONNX "
                          "Runtime, else OpenVINO where installed, else ONNX Runtime's CPU): an "
                          "ONNX Runtime provider, or openvino (OpenVINO's CPU plugin, bfloat16 "
                          "where the CPU has it; openvino-f32: float32).")(f)
    return click.option("--engine", "engine_name", metavar="MODEL",
                        help="Model: an exported .onnx file or a bundled model's name "
                             "(default: the bundled default).")(f)


def size_options(f):
    """--size, --scale, --keep-scaled-size."""
    f = click.option("--keep-scaled-size", is_flag=True,
                     help="Keep the output at the --scale'd size instead of resizing it back.")(f)
    f = click.option("--scale", type=click.FloatRange(0, min_open=True), default=None,
                     help="Stylize at this factor of the size (smaller: larger brush strokes, "
                          "faster), then resize back.")(f)
    return click.option("--size", metavar="WxH",
                        help="Output size W×H (Wx or xH keeps the aspect ratio; default: the "
                             "input's).")(f)


def keep_colors_option(f):
    """--keep-colors (also spelt --keep-colours): the input's colours, the style's brush work."""
    return click.option("--keep-colors", "--keep-colours", "keep_colors", is_flag=True,
                        help="Keep the input's colours: take only the stylized luminance "
                             "(YCrCb), as AdaIN's preserve-colour option does.")(f)


def open_engine(name: str | None, provider: str | None, threads: int | None) -> Engine:
    """Load the model named by --engine on the --provider asked for (checked by load_engine)."""
    return load_engine(resolve(name), providers=provider or None, threads=threads)


def fixed_alpha(engine: Engine, text: str | None) -> np.ndarray:
    """--alpha against the model's components; the model's defaults when not given."""
    if text is None:
        return engine.alpha_defaults
    return parse_alpha(text, engine.alpha_names, engine.alpha_defaults,
                       engine.alpha_ranges.tolist())


def style_weights(engine: Engine, text: str | None) -> np.ndarray:
    """--style as K mixture weights (one-hot on the first style when not given)."""
    names = engine.style_names
    if text is None:
        return np.eye(len(names), dtype=np.float32)[0]
    return parse_style_mixture(text, names)

"""Flicker per clip (issue 16): warping error of a model's output over the input's own, at the
model's default α and at all-max α, every style, on the shared clips and on a still noisy and a
slowly panned clip made from a photo at run time (evaluation/temporal.py; `rtstyle eval` measures
the same). Prints the markdown table for benchmarks/RESULTS.md; needs only the runtime.

    python benchmarks/temporal.py --model runs/x/x.onnx            # 3 shared clips + 2 made
    python benchmarks/temporal.py --model x.onnx --style vangogh --json x-temporal.json
    python benchmarks/temporal.py --quick                          # bundled model, a first look
    python benchmarks/temporal.py --stabilize 0.7                  # with the steady picture on
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation import temporal  # noqa: E402
from rt_style.engine import load_engine  # noqa: E402
from rt_style.errors import UserError  # noqa: E402
from rt_style.registry import resolve  # noqa: E402
from rt_style.stabilizer import DEFAULT_STRENGTH, parse_strength, stabilized  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def first_photo(folder: Path):
    """(BGR photo, its name): the first readable photo of the folder, else a synthetic one."""
    import cv2

    for p in sorted(folder.glob("*")) if folder.is_dir() else []:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is not None:
            return img, f"`{p.name}`"
    return temporal.synthetic_photo(), "a synthetic image"


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="ONNX model or bundled name (default: the "
                    "bundled default)")
    ap.add_argument("--video", action="append", default=[], metavar="CLIP",
                    help="a clip (repeatable; default: every clip in ../shared/data/video)")
    ap.add_argument("--no-generated", action="store_true", help="skip the still and pan clips")
    ap.add_argument("--photo-dir", type=Path, default=DATA / "content" / "eval",
                    help="the generated clips use its first photo (else a synthetic image)")
    ap.add_argument("--noise", type=float, default=temporal.STILL_NOISE,
                    help="σ of the still clip's noise in 0–255 levels [%(default)s]")
    ap.add_argument("--frames", type=int, default=30, help="frames per clip [30; quick 5]")
    ap.add_argument("--side", type=int, default=360, help="longer side of frames [360; quick 96]")
    ap.add_argument("--style", action="append", default=[], help="measure only this style")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    ap.add_argument("--stabilize", nargs="?", const=DEFAULT_STRENGTH, default=0.0,
                    type=parse_strength, metavar="S",
                    help="with the steady picture on (rtstyle video --stabilize S) [off; "
                         f"{DEFAULT_STRENGTH:g} when given alone]")
    ap.add_argument("--json", type=Path, help="also write every figure here")
    ap.add_argument("--quick", action="store_true", help="5 frames at 96 px: a first look")
    args = ap.parse_args(argv)
    if args.quick:
        args.frames, args.side = min(args.frames, 5), min(args.side, 96)
    if args.frames < 2 or args.side < 16:
        ap.error("--frames must be ≥ 2 and --side ≥ 16")
    return args


def main(argv=None) -> dict:
    args = parse(argv)
    t0 = time.time()
    path = resolve(args.model)
    engine = load_engine(path, providers="cpu", threads=args.threads)
    names = engine.style_names
    unknown = [s for s in args.style if s not in names]
    if unknown:
        raise UserError(f"unknown style {unknown[0]!r}; the model has {', '.join(names)}")
    chosen = args.style or names
    mixes = {s: None if len(names) == 1 else np.eye(len(names), dtype=np.float32)[names.index(s)]
             for s in chosen}
    videos = [Path(v) for v in args.video] or temporal.list_clips(DATA / "video")
    for v in videos:
        if not v.is_file():
            raise UserError(f"video not found: {v}")
    clips = temporal.file_clips(videos, args.frames, args.side)
    if not args.no_generated:
        photo, source = first_photo(args.photo_dir)
        clips += temporal.generated_clips(photo, args.frames, args.side, source, args.noise)
    if not clips:
        raise UserError("no clips: give --video CLIP or leave out --no-generated")
    alphas = {"default": engine.alpha_defaults, "all-max": engine.alpha_ranges[:, 1]}
    result = temporal.measure(clips, stabilized(temporal.engine_stylizer(engine), args.stabilize),
                              alphas, mixes, log)
    result.update(model=str(path), engine=engine.describe(), seconds=time.time() - t0,
                  stabilize=args.stabilize,
                  command="python benchmarks/temporal.py " + " ".join(sys.argv[1:] if argv is None
                                                                       else argv))
    print(f"{path.name}: warping error over the input's own, {args.frames} frames per clip at "
          f"{args.side} px" + (f", --stabilize {args.stabilize:g}" if args.stabilize else "")
          + f" ({result['seconds']:.0f} s)\n")
    print("\n".join(temporal.table(result)))
    print()
    for measure, figure, goal, met in temporal.summary(result):
        print(f"{measure}: {figure} (goal {goal}) {'✓' if met else '✗'}")
    if args.json:
        args.json.write_text(json.dumps(temporal.finite(result), indent=1, allow_nan=False,
                                        default=float))
    return result


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)

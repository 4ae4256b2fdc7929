"""What `--stabilize` costs in frames per second (issue 16: it must cost < 10 %): the bundled
model alone against the model followed by the stabilizer, interleaved in one run (turns of
BLOCK calls, the order reversed every round, one untimed call at the start of each turn), on
consecutive frames of a real clip resized to each size, so that the flow has real motion to
follow. Records wall-clock and process CPU time per frame, and the stabilizer's own share.

    python benchmarks/stabilize_speed.py --sizes 640x480,1280x720 --threads 2
    python benchmarks/stabilize_speed.py --flow-width 320,160 --json stab.json   # cheaper flow
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rt_style.bench import parse_sizes  # noqa: E402
from rt_style.engine import load_engine  # noqa: E402
from rt_style.options import style_weights  # noqa: E402
from rt_style.registry import resolve  # noqa: E402
from rt_style.stabilizer import (  # noqa: E402
    DEFAULT_STRENGTH,
    FLOW_FINEST_SCALE,
    FLOW_PRESETS,
    FLOW_WIDTH,
    Stabilizer,
)
from rt_style.timing import machine  # noqa: E402

CLIP = ROOT.parent / "shared" / "data" / "video" / "sam2_01_dog.mp4"
BLOCK = 5


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clip_frames(path: Path, size, count: int) -> list[np.ndarray]:
    """The first `count` frames of the clip at `size`, played forwards then backwards (so that
    walking through them in a loop never jumps: no cut for the stabilizer to reset on)."""
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(cv2.resize(frame.to_ndarray(format="bgr24"), size,
                                     interpolation=cv2.INTER_AREA))
            if len(frames) == count:
                break
    return frames + frames[-2:0:-1]


class Case:
    def __init__(self, label, stabilizer=None):
        self.label, self.stabilizer = label, stabilizer
        self.wall, self.cpu, self.own = [], [], []
        self.index = 0  # each case walks the clip on its own, frame after frame


def run_case(case, engine, frames, alpha, style, timed: bool) -> None:
    image = frames[case.index % len(frames)]
    case.index += 1
    w0, c0 = time.perf_counter(), time.process_time()
    out = engine.run(image, alpha, style)
    w1 = time.perf_counter()
    if case.stabilizer is not None:
        case.stabilizer(image, out)
    w2, c2 = time.perf_counter(), time.process_time()
    if timed:
        case.wall.append(w2 - w0)
        case.cpu.append(c2 - c0)
        case.own.append(w2 - w1)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="ONNX model or bundled name [bundled default]")
    ap.add_argument("--video", type=Path, default=CLIP, help="clip whose frames are used")
    ap.add_argument("--sizes", default="640x480,1280x720")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads [2]")
    ap.add_argument("--strength", type=float, default=DEFAULT_STRENGTH)
    ap.add_argument("--flow-width", default=str(FLOW_WIDTH),
                    help="comma-separated widths of the flow's copy: one stabilized case each")
    ap.add_argument("--flow-preset", default="ultrafast",
                    help="comma-separated OpenCV DIS presets (ultrafast, fast, medium) [ultrafast]")
    ap.add_argument("--finest-scale", default=str(FLOW_FINEST_SCALE),
                    help="comma-separated finest pyramid levels of the flow (0: full copy, "
                         "2: ultrafast's own) [the stabilizer's]; one case per preset, level "
                         "and width")
    ap.add_argument("--frames", type=int, default=60, help="timed calls per case [60]")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    engine = load_engine(resolve(args.model), providers="cpu", threads=args.threads)
    alpha, style = engine.alpha_defaults, style_weights(engine, None)
    widths = [int(w) for w in args.flow_width.split(",")]
    presets = args.flow_preset.split(",")
    levels = [int(v) for v in args.finest_scale.split(",")]
    unknown = [p for p in presets if p not in FLOW_PRESETS]
    if unknown:
        raise SystemExit(f"unknown --flow-preset {unknown[0]!r}: {', '.join(FLOW_PRESETS)}")
    record = {"command": "python benchmarks/stabilize_speed.py " + " ".join(
        sys.argv[1:] if argv is None else argv), "machine": machine(),
        "engine": engine.describe(), "clip": str(args.video), "strength": args.strength,
        "results": []}
    for size in parse_sizes(args.sizes):
        frames = clip_frames(args.video, size, 30)
        cases = [Case("model")] + [
            Case(f"model + stabilize (DIS {p}, level {lv}, {w} px)",
                 Stabilizer(args.strength, flow_width=w, flow_preset=FLOW_PRESETS[p],
                            finest_scale=lv))
            for p in presets for lv in levels for w in widths]
        turns = -(-(args.warmup + args.frames) // BLOCK)
        for turn in range(turns):
            for case in cases if turn % 2 == 0 else cases[::-1]:
                run_case(case, engine, frames, alpha, style, False)  # untimed lead call
                for i in range(BLOCK):
                    run_case(case, engine, frames, alpha, style, turn * BLOCK + i >= args.warmup)
        base = cases[0]
        for case in cases:
            wall, cpu = np.median(case.wall) * 1e3, np.median(case.cpu) * 1e3
            row = {"size": list(size), "case": case.label, "n": len(case.wall),
                   "median_ms": wall, "fps": 1e3 / wall, "cpu_ms": cpu,
                   "stabilizer_ms": float(np.median(case.own) * 1e3) if case.stabilizer else 0,
                   "fps_ratio": np.median(base.wall) / np.median(case.wall),
                   "cpu_ratio": np.median(case.cpu) / np.median(base.cpu),
                   "cuts": case.stabilizer.cuts if case.stabilizer else 0}
            record["results"].append({k: float(v) if isinstance(v, np.floating) else v
                                      for k, v in row.items()})
        log(f"{size[0]}x{size[1]} done")
    record["load_average_after"] = machine()["load_average"]
    print("| size | case | median ms | fps | fps vs model | CPU ms | CPU vs model | "
          "stabilizer alone, ms |")
    print("|---|---|---|---|---|---|---|---|")
    for r in record["results"]:
        print(f"| {r['size'][0]}×{r['size'][1]} | {r['case']} | {r['median_ms']:.1f} | "
              f"{r['fps']:.1f} | {r['fps_ratio']:.3f} | {r['cpu_ms']:.1f} | "
              f"{r['cpu_ratio']:.3f} | {r['stabilizer_ms']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))
    return record


if __name__ == "__main__":
    main()

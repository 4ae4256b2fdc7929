"""What `--stabilize` does to the picture at several strengths: trails behind moving objects
(seen in side-by-side frames) and the softening of still regions (fine texture, as the mean
Laplacian variance of the frames over the network's own). Writes one PNG per clip, α and frame:
input | network alone | each strength; judge trails on them at 1:1 or zoomed.

    python benchmarks/stabilize_looks.py --strengths 0.7,0.8 -o looks/
    python benchmarks/stabilize_looks.py --video ../shared/data/video/sam2_05_juggle.mp4 --alpha max
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.temporal import read_clip  # noqa: E402
from rt_style.engine import load_engine  # noqa: E402
from rt_style.options import style_weights  # noqa: E402
from rt_style.registry import resolve  # noqa: E402
from rt_style.stabilizer import Stabilizer  # noqa: E402

VIDEO = ROOT.parent / "shared" / "data" / "video"
CLIPS = [VIDEO / "sam2_05_juggle.mp4", VIDEO / "sam2_02_cups.mp4"]
SHOWN = (10, 24, 34, 43)  # frames written side by side
SKIP = 5  # frames before the blend has settled, left out of the texture figure


def texture(frames) -> float:
    return float(np.mean([cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var()
                          for f in frames[SKIP:]]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="ONNX model or bundled name (default: the bundled default)")
    ap.add_argument("--video", action="append", type=Path, help="a clip (repeatable)")
    ap.add_argument("--strengths", default="0.7,0.8", help="comma list [0.7,0.8]")
    ap.add_argument("--style", help="style of a multi-style model (default: the first)")
    ap.add_argument("--alpha", choices=("default", "max", "both"), default="both")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--side", type=int, default=640, help="longer side of frames [640]")
    ap.add_argument("--threads", type=int)
    ap.add_argument("-o", "--out", type=Path, default=Path("stabilize-looks"))
    args = ap.parse_args()
    engine = load_engine(resolve(args.model), threads=args.threads)
    style = style_weights(engine, args.style) if engine.num_styles > 1 else None
    strengths = [float(v) for v in args.strengths.split(",")]
    alphas = {"default": np.float32(engine.info.alpha_defaults),
              "max": np.float32([r[1] for r in engine.info.alpha_ranges])}
    if args.alpha != "both":
        alphas = {args.alpha: alphas[args.alpha]}
    args.out.mkdir(parents=True, exist_ok=True)
    listed = ", ".join(map(str, strengths))
    print(f"| clip | α | fine texture over the network's own at S = {listed} |")
    print("|---|---|---|")
    for clip in args.video or CLIPS:
        frames = read_clip(clip, args.frames, args.side)
        for name, alpha in alphas.items():
            plain = [engine.run(f, alpha, style=style) for f in frames]
            steady = []
            for s in strengths:
                stabilizer = Stabilizer(s)
                steady.append([stabilizer(f, p) for f, p in zip(frames, plain)])
            ratios = [texture(v) / texture(plain) for v in steady]
            print(f"| {clip.stem} | {name} | {' / '.join(f'{r:.2f}' for r in ratios)} |")
            for i in (i for i in SHOWN if i < len(frames)):
                row = np.concatenate([frames[i], plain[i], *(v[i] for v in steady)], 1)
                cv2.imwrite(str(args.out / f"{clip.stem}-{name}-{i:02d}.png"), row)
    print(f"frames (input | network | S = {listed}) in {args.out}")


if __name__ == "__main__":
    main()

"""Which optical flow the steady picture should follow: flicker and cost per flow setting.

The stabilizer blends the previous output carried along the flow, and only where a photometric
check passes; where the flow loses a moving hand or cup, the check fails and that region keeps
the network's own flicker. Here each setting (OpenCV DIS preset, finest pyramid level, width of
the flow's copy) runs on the same network outputs of the real clips at all-max α (the hardest
case), and the warping error over the input's own is measured twice: with the evaluation's own
flow (DIS medium at the clip's size, as `rtstyle eval`), and with Farnebäck's flow, which
shares no code with DIS, so that a setting cannot win by agreeing with the measure. Also the
time of one flow call on a 640×360 frame pair. Needs only the runtime.

    python benchmarks/stabilize_flow.py --model bold --style hokusai_great_wave_c1831
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from evaluation import temporal  # noqa: E402
from rt_style.engine import load_engine  # noqa: E402
from rt_style.errors import UserError  # noqa: E402
from rt_style.registry import resolve  # noqa: E402
from rt_style.stabilizer import DEFAULT_STRENGTH, FLOW_PRESETS, Stabilizer  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# (preset, finest level, width): ultrafast's own level is 2, medium's 1
SETTINGS = [("ultrafast", 2, 320), ("ultrafast", 1, 240), ("ultrafast", 1, 320),
            ("fast", 1, 240), ("medium", 1, 200), ("medium", 1, 240), ("medium", 1, 320)]


def farneback(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(cv2.cvtColor(a, cv2.COLOR_BGR2GRAY),
                                        cv2.cvtColor(b, cv2.COLOR_BGR2GRAY), None,
                                        0.5, 4, 15, 5, 5, 1.1, 0)


def flow_ms(preset: str, level: int, width: int, a: np.ndarray, b: np.ndarray, n=30) -> float:
    s = Stabilizer(DEFAULT_STRENGTH, flow_width=width, flow_preset=FLOW_PRESETS[preset],
                   finest_scale=level)
    ga, gb = s._small(a)[1], s._small(b)[1]
    s.dis.calc(ga, gb, None)
    t0 = time.perf_counter()
    for _ in range(n):
        s.dis.calc(ga, gb, None)
    return (time.perf_counter() - t0) / n * 1e3


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="ONNX model or bundled name [bundled default]")
    ap.add_argument("--style", default=None, help="style of a multi-style model [the first]")
    ap.add_argument("--video", action="append", default=[], help="clip (repeatable) [every "
                    "clip in ../shared/data/video]")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--side", type=int, default=360)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    engine = load_engine(resolve(args.model), providers="cpu", threads=args.threads)
    names = engine.style_names
    style = args.style or names[0]
    if style not in names:
        raise UserError(f"unknown style {style!r}; the model has {', '.join(names)}")
    mix = None if len(names) == 1 else np.eye(len(names), dtype=np.float32)[names.index(style)]
    videos = [Path(v) for v in args.video] or temporal.list_clips(DATA / "video")
    clips = temporal.file_clips(videos, args.frames, args.side)
    stylize = temporal.engine_stylizer(engine)
    per_clip = []
    for clip in clips:
        outputs = stylize(clip.frames, engine.alpha_ranges[:, 1], mix)
        flows = {"DIS medium": temporal.pair_flows(clip.frames),
                 "Farnebäck": temporal.pair_flows(clip.frames, farneback)}
        own = {k: temporal.warping_errors(clip.frames, flows=f)["mean"] for k, f in flows.items()}
        per_clip.append((clip, outputs, flows, own))
    a, b = (cv2.resize(f, (640, 360)) for f in clips[0].frames[10:12])
    rows = []
    for preset, level, width in [(None, 0, 0)] + SETTINGS:
        row = {"setting": "network alone" if preset is None else f"{preset}, level {level}, "
               f"{width} px", "flow_ms": 0.0 if preset is None else
               flow_ms(preset, level, width, a, b)}
        for clip, outputs, flows, own in per_clip:
            shown = outputs
            if preset is not None:
                s = Stabilizer(DEFAULT_STRENGTH, flow_width=width, flow_preset=FLOW_PRESETS[preset],
                               finest_scale=level)
                shown = [s(f, o) for f, o in zip(clip.frames, outputs)]
            for metric, f in flows.items():
                e = temporal.warping_errors(clip.frames, shown, f)["mean"]
                row[(clip.name, metric)] = temporal.ratio(e, own[metric])
        rows.append(row)
    keys = [k for k in rows[0] if isinstance(k, tuple)]
    print(f"{engine.path.name}, {style}, all-max α, steady picture at {DEFAULT_STRENGTH:g}; "
          "warping error over the input's own, measured with DIS medium / Farnebäck flow")
    print("| flow of the steady picture | flow ms (640×360) | "
          + " | ".join(dict.fromkeys(k[0] for k in keys)) + " |")
    print("|---|---|" + "---|" * len(per_clip))
    for r in rows:
        cells = [f"{r[(c.name, 'DIS medium')]:.2f} / {r[(c.name, 'Farnebäck')]:.2f}"
                 for c, *_ in per_clip]
        print(f"| {r['setting']} | {r['flow_ms']:.2f} | " + " | ".join(cells) + " |")
    return rows


if __name__ == "__main__":
    try:
        main()
    except UserError as e:
        sys.exit(f"error: {e}")

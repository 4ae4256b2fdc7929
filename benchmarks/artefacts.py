"""Border line and grid per model (issue 17): evaluation.artefacts on the first frame of each
shared clip at 1280×720 (where users see lines), at the model's default α and all-max, every
style; the same stage `rtstyle eval` runs, without the rest of its report. Needs only the
runtime. Prints one markdown row per model, style and α.

    python benchmarks/artefacts.py classics                      # the bundled model
    python benchmarks/artefacts.py m16.onnx m32.onnx --json a.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation import artefacts, temporal  # noqa: E402
from evaluation.picture_side import goal_text  # noqa: E402
from evaluation.stages import alpha_settings, artefact_inputs, style_mix  # noqa: E402
from rt_style.engine import load_engine  # noqa: E402
from rt_style.registry import resolve  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="ONNX models or bundled names")
    ap.add_argument("--video", type=Path, action="append", default=[],
                    help="a clip (repeatable; default: every clip in ../shared/data/video)")
    ap.add_argument("--json", type=Path, help="also write every figure here")
    args = ap.parse_args(argv)
    inputs = artefact_inputs([], args.video or temporal.list_clips(DATA / "video"))
    goal = {f: goal_text(f, artefacts.GOALS) for f in artefacts.GOALS}
    clips = ", ".join(i.split(".")[0] for i in inputs)
    print(f"| model | style | α | border ({clips}) | worst border ({goal['border']}) |"
          f" worst grid ({goal['grid']}) |\n|---|---|---|---|---|---|")
    results = {}
    for name in args.models:
        engine = load_engine(resolve(name))
        names = engine.style_names
        mixes = {s: style_mix(names, k) for k, s in enumerate(names)}
        results[name] = section = artefacts.measure(inputs, engine.run, alpha_settings(engine),
                                                    mixes)
        for style, r in section.items():
            for label, worst in r["alphas"].items():
                each = " ".join(f"{r['inputs'][i][label]['border']:.1f}" for i in inputs)
                print(f"| {Path(name).name} | {style} | {label} | {each} | "
                      f"{worst['border']:.2f} | {worst['grid']:.2f} |", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Markdown tables of alpha_control.py results: one row per recipe (run folder), loss side,
then picture side (evaluation.picture_side) for every measured slider start."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(runs: str) -> None:
    rows = sorted(Path(runs).glob("*/alpha_control.json"), key=lambda p: p.stat().st_mtime)
    print("| recipe | steps | options | drop relu1_1 / 2_1 / 3_1 / 4_1 | ρ (worst) | strength "
          "(output/input style loss, 1_1 … 4_1) | strength, all α = 1 |")
    print("|---|---|---|---|---|---|---|")
    for p in rows:
        r = json.loads(p.read_text())
        c = r["components"].values()
        drops = " / ".join(f"{x['drop']:+.0%}" for x in c)
        rho_list = " ".join(f"{x['rho']:+.2f}" for x in c)
        rhos = f"{rho_list} ({r['worst_rho']:+.2f})"
        strength, at_max = (" ".join(f"{v:.2f}" for v in r[k].values()) if k in r else "–"
                            for k in ("strength", "strength_at_max"))
        print(f"| {r['name']} | {r['steps']} | {' '.join(r['overrides'])} | {drops} | {rhos} | "
              f"{strength} | {at_max} |")
    looks_table(Path(runs))


def looks_table(runs: Path) -> None:
    files = sorted(runs.glob("*/alpha_control*.json"), key=lambda p: p.stat().st_mtime)
    rows = [(p, json.loads(p.read_text())) for p in files]
    rows = [(p, r) for p, r in rows if "looks" in r]
    if not rows:
        return
    print("\n| recipe | start | live per slider (levels) | distinct | diversity | span | "
          "identity | evenness (worst) |")
    print("|---|---|---|---|---|---|---|---|")
    for _p, r in rows:
        lk = r["looks"]
        cells = [" / ".join(f"{v:.1f}" for v in lk["live"].values())]
        for f, fmt in (("distinct", "{:.2f}"), ("diversity", "{:.2f}"), ("span", "{:.2f}"),
                       ("identity", "{:.1f}"), ("evenness_max", "{:.1f}")):
            cells.append(fmt.format(lk.get(f, float("nan"))))
        goals = ("live_min", "distinct", "diversity", "span", "identity", "evenness_max")
        cells = [c if lk["meets"].get(f, True) else f"**{c}**" for c, f in zip(cells, goals)]
        print(f"| {r['name']} | {r['alpha_defaults'][0]:g} | " + " | ".join(cells) + " |")
    print("\nBold: misses the issue-14 goal (live ≥ 12 on every slider, distinct ≥ 0.6, "
          "diversity ≥ 0.25, span ≤ 0.6, identity ≤ 8, evenness ≤ 4).")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[2] / "runs"
                                                    / "alpha_control"))

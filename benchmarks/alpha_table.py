"""Markdown table of alpha_control.py results: one row per recipe (run folder)."""

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


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(Path(__file__).resolve().parents[2] / "runs"
                                                    / "alpha_control"))

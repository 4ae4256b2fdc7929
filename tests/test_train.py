"""A short training run learns: the loss falls, Λ moves, α changes the output, files appear."""

import copy
import json

import pytest
import torch

from rt_style.contract import SCHEMA, ModelInfo
from tests.conftest import tiny_config
from train import checkpoint as ckpt_io
from train.trainer import Trainer


def fixed_loss(trainer, x, alpha, ema):
    """α-weighted loss normalised by a fixed EMA, so that runs at different steps compare."""
    with torch.no_grad():
        raw, y, _ = trainer.losses(x, alpha, torch.zeros(len(x), dtype=torch.long))
        normed = raw * (ema.sum() / ema)
        return float(trainer.objective(normed, trainer.loss_weights(alpha), y, x, alpha).mean())


@pytest.fixture(scope="module")
def trained(photo_dir, style_images, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = tiny_config(photo_dir, style_images[:1], out, steps=40, sample_every=20,
                      checkpoint_every=20, lr=3e-3)
    trainer = Trainer(cfg)
    x = trainer.data[10_000]  # a batch the run never sees
    alpha = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    with torch.no_grad():
        raw0, _, _ = trainer.losses(x, alpha, torch.zeros(2, dtype=torch.long))
    ema = raw0.mean(0)
    before = fixed_loss(trainer, x, alpha, ema)
    cond_before = copy.deepcopy(trainer.model.conditioner.state_dict())
    result = trainer.fit()
    after = fixed_loss(trainer, x, alpha, ema)
    return dict(trainer=trainer, out=out, x=x, before=before, after=after, result=result,
                cond_before=cond_before)


def test_loss_falls(trained):
    assert trained["after"] < 0.7 * trained["before"], (trained["before"], trained["after"])


def test_files_written(trained):
    out = trained["out"]
    assert (out / "checkpoints" / "last.pt").is_file()
    assert sorted(p.name for p in (out / "samples").glob("*.png")) == [
        "step_0000020.png", "step_0000040.png"]
    assert (out / "config.toml").is_file()
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 41))
    assert not list(out.rglob(".*.part*"))  # no temporary left beside any file
    meta = ckpt_io.load(out)["meta"]  # the checkpoint describes its model in the one layout
    assert ModelInfo.from_dict(meta).to_dict() == meta and meta["format"] == SCHEMA


def test_conditioner_learns_and_alpha_changes_output(trained):
    trainer = trained["trainer"]
    moved = [not torch.equal(v, trained["cond_before"][k])
             for k, v in trainer.model.conditioner.state_dict().items()]
    assert all(moved)
    model, info = ckpt_io.load_model(trained["out"])
    x = trained["x"][:1]
    with torch.no_grad():
        y0 = model(x, torch.zeros(1, 4))
        y1 = model(x, torch.ones(1, 4))
    assert float((y0 - y1).abs().mean()) * 255 > 1.0
    assert info.alpha_names == ["style:relu1_1", "style:relu2_1", "style:relu3_1",
                                "style:relu4_1"]
    assert info.steps == 40


def test_skips_unreadable_files(trained):
    data = trained["trainer"].data
    assert data.skipped_unreadable == 1
    assert len(data.paths) == 6  # recursive, jpg and png


def test_multi_style_run(photo_dir, style_images, tmp_path):
    cfg = tiny_config(photo_dir, style_images, tmp_path, steps=3)
    result = Trainer(cfg).fit()
    model, info = ckpt_io.load_model(tmp_path)
    assert info.style_names == ["style0", "style1"]
    assert model.num_styles == 2 and result["step"] == 3


def test_channels_last_on_cpu_matches(photo_dir, style_images, tmp_path):
    """channels-last is a memory layout: the first steps give the same losses (to rounding)."""
    a = Trainer(tiny_config(photo_dir, style_images[:1], tmp_path / "a", steps=2)).fit()
    b = Trainer(tiny_config(photo_dir, style_images[:1], tmp_path / "b", steps=2,
                            channels_last="on")).fit()
    assert abs(a["loss"] - b["loss"]) <= 1e-3 * abs(a["loss"])


def test_init_adds_styles_to_a_trained_model(trained, photo_dir, style_images, tmp_path):
    """--init warm-starts a two-style run from a one-style one: shared weights are copied and
    the new style inputs start at zero, so every style begins as the old model."""
    cfg = tiny_config(photo_dir, style_images, tmp_path, steps=1, init=str(trained["out"]))
    trainer = Trainer(cfg)
    old, _ = ckpt_io.load_model(trained["out"])
    x = trained["x"][:1]
    alpha = torch.full((1, 4), 0.5)
    with torch.no_grad():
        want = old(x, alpha)
        for k in range(2):
            got = trainer.model(x, alpha, torch.nn.functional.one_hot(torch.tensor([k]), 2).float())
            assert torch.allclose(got, want, atol=1e-6)
    assert trainer.step == 0


def test_init_counts_the_steps_behind_the_warm_start(trained, photo_dir, style_images, tmp_path):
    from rt_style.registry import steps_text

    behind = ckpt_io.load(trained["out"])["step"]
    cfg = tiny_config(photo_dir, style_images[:1], tmp_path, steps=1, init=str(trained["out"]))
    Trainer(cfg).fit()
    _, info = ckpt_io.load_model(tmp_path)
    assert (info.steps, info.init_steps) == (1, behind)
    assert Trainer(cfg.updated({"steps": 2}), resume=str(tmp_path)).init_steps == behind
    assert steps_text(info) == (f"{behind + 1} training steps at {cfg.crop_size} px "
                                f"({behind} of them before a warm start)")


def test_init_rejects_another_preset(trained, photo_dir, style_images, tmp_path):
    from rt_style.errors import UserError

    cfg = tiny_config(photo_dir, style_images[:1], tmp_path, preset="paper",
                      init=str(trained["out"]))
    with pytest.raises(UserError, match="different kind of network"):
        Trainer(cfg)


def test_weighted_loss_norm_ignores_the_photo_corner(photo_dir, style_images, tmp_path):
    """Under loss_norm=weighted an α = 0 example moves no scale; a run with it trains."""
    cfg = tiny_config(photo_dir, style_images[:1], tmp_path, steps=2, loss_norm="weighted")
    trainer = Trainer(cfg)
    alpha = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 1.0]])
    raw = torch.tensor([[0.0, 90.0, 80.0, 70.0, 60.0], [4.0, 10.0, 20.0, 30.0, 40.0]])
    scales, valid = trainer.batch_scales(raw, trainer.loss_weights(alpha))
    assert scales[[0, 1, 3, 4]].tolist() == [4.0, 10.0, 30.0, 40.0]
    assert valid.tolist() == [True, True, False, True, True]
    plain = Trainer(tiny_config(photo_dir, style_images[:1], tmp_path / "p", steps=2,
                                loss_norm="plain"))
    assert plain.batch_scales(raw, plain.loss_weights(alpha))[0].tolist() == raw.mean(0).tolist()
    trainer.fit()
    assert torch.isfinite(trainer.normalizer.ema).all() and (trainer.normalizer.ema > 0).all()


def test_fixed_loss_norm_measures_each_style_once(photo_dir, style_images, tmp_path):
    """loss_norm=fixed: per-style sizes measured before step 1 divide the raw losses, and a
    resumed run keeps them rather than measuring again."""
    cfg = tiny_config(photo_dir, style_images, tmp_path, steps=2, loss_norm="fixed",
                      normalize_weights=False, identity_weight=0.0, anchor_weight=0.0)
    trainer = Trainer(cfg)
    scales = trainer.ref_scales.clone()
    assert scales.shape == (2, 5) and bool((scales > 0).all())
    assert not torch.allclose(scales[0], scales[1])  # two paintings, two sets of sizes
    trainer.fit()
    assert torch.equal(trainer.ref_scales, scales)
    resumed = Trainer(cfg.updated({"steps": 3}), resume=str(tmp_path / "checkpoints" / "last.pt"))
    assert torch.equal(resumed.ref_scales, scales)
    resumed.ref_scales.fill_(1.0)  # the loss is then the plain α-weighted raw sum
    x = resumed.data[7]
    alpha, styles = resumed.batch_conditioning(resumed.step, len(x))
    with torch.no_grad():
        raw, _, _ = resumed.losses(x, alpha, styles)
    want = float((raw * resumed.loss_weights(alpha)).sum(1).mean())
    got = resumed.train_step(x)["loss"]
    assert abs(got - want) <= 1e-4 * abs(want)


def test_random_crops_cover_small_paintings():
    from train.data import random_crops

    gen = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 20, 30)
    crops = random_crops(image, 5, 8, gen)
    assert crops.shape == (5, 3, 8, 8)
    assert any(torch.equal(crops[0], image[0, :, t:t + 8, u:u + 8])
               for t in range(13) for u in range(23))
    assert random_crops(image, 2, 40, gen).shape == (2, 3, 40, 40)  # upscaled first



def test_objective_balances_examples_and_asks_for_the_photo_at_zero(photo_dir, style_images,
                                                                     tmp_path):
    def objective(**kw):
        cfg = tiny_config(photo_dir, style_images[:1], tmp_path / "o", steps=1, **kw)
        t = Trainer(cfg)
        alpha = torch.tensor([[0.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5], [1.0, 0.0, 0.0, 0.0]])
        g = torch.Generator().manual_seed(1)
        norm = torch.rand(3, 5, generator=g)
        x = torch.rand(3, 3, 8, 8, generator=g)
        y = (x + 0.1).clamp(0, 1)
        return t.objective(norm, t.loss_weights(alpha), y, x, alpha), norm, t

    base = dict(alpha_curve="exp", identity_weight=0.0)
    a, norm, _ = objective(normalize_weights=True, content_weight=1.0, style_top=10.0, **base)
    b, _, _ = objective(normalize_weights=True, content_weight=2.0, style_top=20.0, **base)
    assert torch.allclose(a, b)  # only the balance matters
    c, _, _ = objective(normalize_weights=False, content_weight=2.0, style_top=20.0, **base)
    assert torch.allclose(c, 2 * objective(normalize_weights=False, content_weight=1.0,
                                           style_top=10.0, **base)[0])
    assert torch.allclose(a[0], norm[0, 0])  # α = 0: content alone
    d, _, t = objective(normalize_weights=True, identity_weight=10.0, alpha_curve="exp")
    pixel = 0.1 ** 2
    assert float(d[0] - a[0]) == pytest.approx(10.0 * pixel, rel=0.2)  # the photo is asked for
    assert float(d[2] - a[2]) == pytest.approx(0.0, abs=1e-6)  # not at a slider's top


def test_photo_anchor_pulls_each_layer_to_the_photo_by_how_little_style_it_asks(
        photo_dir, style_images, tmp_path):
    cfg = tiny_config(photo_dir, style_images[:1], tmp_path, steps=1, anchor_weight=1.0,
                      identity_weight=0.0)
    t = Trainer(cfg)
    alpha = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 0.5, 0.5, 0.0]])
    a = t.anchor_weights(alpha)
    assert torch.allclose(a[0], torch.full((4,), cfg.style_top))  # no style: keep the photo
    assert a[1, 0] == 0 and a[1, 3] == cfg.style_top  # a slider at its top lets go of its layer
    assert torch.allclose(a[1, 1:3], t.loss_weights(alpha)[1, 2:4])  # half way at 0.5
    x = t.data[3]
    with torch.no_grad():
        raw, y, anchor = t.losses(x, alpha, torch.zeros(len(x), dtype=torch.long))
    assert anchor.shape == (2, 4) and bool((anchor >= 0).all())
    norm = torch.ones_like(raw)
    with_anchor = t.objective(norm, t.loss_weights(alpha), y, x, alpha, anchor)
    without = t.objective(norm, t.loss_weights(alpha), y, x, alpha)
    assert not torch.allclose(with_anchor, without)
    assert "anchor" in t.train_step(x)
    assert t.info.anchor_weight == 1.0
    off = Trainer(cfg.updated({"anchor_weight": 0.0, "out": str(tmp_path / "off")}))
    assert off.losses(x, alpha, torch.zeros(len(x), dtype=torch.long))[2] is None


def test_old_configs_resume_with_the_old_loss():
    from train.config import LEGACY, TrainConfig

    cfg = TrainConfig.from_saved({"content": "c", "styles": ["s.jpg"], "content_weight": 0.5})
    assert {k: getattr(cfg, k) for k in LEGACY} == LEGACY
    assert cfg.content_weight == 0.5
    assert TrainConfig.from_saved({"input_skip": True}).input_skip


def test_sliders_start_where_the_preset_says_and_the_run_records_it():
    """fast-sep paints less than fast at the same α, so it starts higher; the saved config
    carries the number, so a later edit of the preset never moves an old run's start."""
    from train.config import TrainConfig
    from train.model import PRESETS

    base = TrainConfig(content="c", styles=["s.jpg"])
    assert base.alpha_default == [] and base.preset == "fast-sep"
    for preset, start in (("fast-sep", 0.75), ("fast", 0.65)):
        assert PRESETS[preset].alpha_default == start
        cfg = base.updated({"preset": preset}).validate()
        assert cfg.alpha_default == [start] and cfg.alpha_defaults() == [start] * 4
        assert TrainConfig.from_saved(cfg.to_dict()).alpha_defaults() == [start] * 4
    assert base.updated({"alpha_default": "0.5"}).validate().alpha_defaults() == [0.5] * 4
    assert TrainConfig.from_saved({"preset": "fast-sep"}).alpha_defaults() == [0.65] * 4

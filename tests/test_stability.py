"""The trained-in stability term (train/stability.py): what it measures, and that training with
it is deterministic and resumes exactly."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tests.conftest import tiny_config
from train import stability
from train.config import TrainConfig
from train.trainer import Trainer


def photos(n=3, h=40, w=48, seed=0) -> torch.Tensor:
    """Smooth random images in [0, 1], away from 0 and 1 so that noise is not clipped."""
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(n, 3, h // 8, w // 8, generator=g)
    return 0.2 + 0.6 * torch.nn.functional.interpolate(small, (h, w), mode="bicubic",
                                                         align_corners=False).clamp(0, 1)


def identity(x, alpha, style=None):
    return x


def anchored(x, alpha, style=None):
    """A texture fixed to the frame, not the scene: what makes strokes 'swim' over video."""
    h, w = x.shape[-2:]
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return (x + 0.2 * torch.sin(xx / 1.5 + yy / 2.0)).clamp(0, 1)


def term(net, x, motion):
    return stability.stability_loss(net, x, net(x, None), None, torch.zeros(len(x), dtype=int),
                                    1, motion)


def test_zero_for_an_equivariant_map_positive_for_an_anchored_texture():
    x = photos()
    still = stability.draw(0, 7, 0, len(x), max_noise=0.0)
    assert term(identity, x, still).abs().max() < 1e-10
    assert term(anchored, x, still).min() > 3e-4


def test_whole_pixel_shifts_do_not_punish_texture_that_follows_the_scene():
    """A fine texture tied to the scene (a pointwise function of the photo) moves exactly with a
    whole-pixel shift, so `shift` asks nothing of it; a sub-pixel affine warp of the output blurs
    it, so `affine` punishes it as if it flickered. A frame-anchored texture fails both."""
    x = photos(4, 64, 64)
    textured = lambda x, a, s=None: (x + 0.15 * torch.sin(60 * x)).clamp(0, 1)  # noqa: E731
    shift = stability.draw(0, 9, 0, len(x), max_noise=0.0, motion="shift")
    affine = stability.draw(0, 9, 0, len(x), max_noise=0.0, motion="affine")
    assert (shift.theta_for(x.shape)[:, :, 2] * 32).sub(
        (shift.theta_for(x.shape)[:, :, 2] * 32).round()).abs().max() < 1e-5  # whole pixels
    assert (shift.theta_for(x.shape)[:, :, :2] == torch.eye(2)).all()  # no rotation or scale
    assert term(textured, x, shift).abs().max() < 1e-10
    assert term(textured, x, affine).min() > 1e-4
    assert term(anchored, x, shift).max() > 3e-4


def test_noise_is_what_the_identity_passes_on():
    """With noise, the identity's loss is the noise power of each example: the term asks for a
    network that does not turn noise into changes of its output."""
    x = photos(4)
    motion = stability.draw(0, 3, 0, len(x), max_rotation=0, max_shift=0, max_scale=0,
                            max_noise=0.05)
    got = term(identity, x, motion)
    want = motion.sigma ** 2
    assert torch.allclose(got, want, rtol=0.05), (got, want)
    blur = lambda x, a, s=None: torch.nn.functional.avg_pool2d(x, 3, 1, 1,  # noqa: E731
                                                               count_include_pad=False)
    assert (term(blur, x, motion) < 0.3 * got).all()  # a denoising map passes on less


def test_draw_is_a_pure_function_of_seed_step_rank():
    a, b = stability.draw(0, 5, 0, 4), stability.draw(0, 5, 0, 4)
    assert torch.equal(a.theta, b.theta) and torch.equal(a.sigma, b.sigma)
    assert a.noise_seed == b.noise_seed
    x = torch.zeros(4, 3, 8, 8)
    assert torch.equal(a.noise(x), b.noise(x))
    for other in (stability.draw(0, 6, 0, 4), stability.draw(0, 5, 1, 4),
                  stability.draw(1, 5, 0, 4)):
        assert not torch.equal(a.theta, other.theta) and a.noise_seed != other.noise_seed
    # small motions: near the identity map, and most pixels keep a source
    eye = torch.tensor([[1.0, 0, 0], [0, 1, 0]])
    assert (a.theta - eye).abs().max() < 0.1
    assert 0.75 < float(stability.valid_mask(a.theta, (4, 3, 64, 64)).mean()) < 1.0
    assert (a.sigma >= 0).all() and (a.sigma <= stability.MAX_NOISE).all()


def test_translation_moves_the_picture():
    """theta's shift moves the content by the expected pixels: the warp is a motion, not a blur."""
    x = photos(1, 32, 32)
    shift_px = 2
    theta = torch.tensor([[[1.0, 0, 2 * shift_px / 32], [0, 1, 0]]])
    moved = stability.warp(x, theta)
    assert torch.allclose(moved[..., :, :-shift_px], x[..., :, shift_px:], atol=1e-5)


def metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_training_with_it_runs_and_resumes_exactly(photo_dir, style_images, tmp_path):
    styles = style_images  # two styles: the one-hot mixture reaches the second pass too
    cfg = dict(stability_weight=5.0, steps=3, lr=0.01, width=0.5)
    Trainer(tiny_config(photo_dir, styles, tmp_path / "plain", **{**cfg, "steps": 1,
                        "stability_weight": 0.0}), log=lambda _: None).fit()
    Trainer(tiny_config(photo_dir, styles, tmp_path / "ref", **cfg), log=lambda _: None).fit()
    ref = metrics(tmp_path / "ref")
    assert [r["step"] for r in ref] == [1, 2, 3]
    assert all(r["stability"] > 0 and math.isfinite(r["stability"]) for r in ref)
    base = metrics(tmp_path / "plain")
    assert "stability" not in base[0]
    # same batch, α and weights at step 1: the loss differs by exactly the weighted term
    assert ref[0]["loss"] == pytest.approx(base[0]["loss"] + 5.0 * ref[0]["stability"],
                                           rel=1e-5)

    out = tmp_path / "resumed"
    Trainer(tiny_config(photo_dir, styles, out, **{**cfg, "steps": 1}), log=lambda _: None).fit()
    Trainer(tiny_config(photo_dir, styles, out, **cfg), resume=str(out / "checkpoints" / "last.pt"),
            log=lambda _: None).fit()
    got = metrics(out)
    assert [r["step"] for r in got] == [1, 2, 3]
    for a, b in zip(got, ref):
        assert (a["loss"], a["stability"]) == (b["loss"], b["stability"]), a["step"]


def test_config_field_and_legacy_value(photo_dir, style_images, tmp_path):
    assert TrainConfig().stability_weight == 15.0 and TrainConfig().stability_motion == "shift"
    saved = tiny_config(photo_dir, style_images[:1], tmp_path).to_dict()
    del saved["stability_weight"], saved["stability_motion"]  # saved before the options existed
    old = TrainConfig.from_saved(saved)
    assert old.stability_weight == 0.0 and old.stability_motion == "affine"
    from rt_style.errors import UserError

    with pytest.raises(UserError, match="stability_weight must be ≥ 0"):
        tiny_config(photo_dir, style_images[:1], tmp_path, stability_weight=-1.0).validate()
    with pytest.raises(UserError, match="stability_motion must be shift or affine"):
        tiny_config(photo_dir, style_images[:1], tmp_path, stability_motion="zoom").validate()

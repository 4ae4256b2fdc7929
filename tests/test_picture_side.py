"""Picture-side figures (evaluation.picture_side) on toy models whose answers are known."""

import numpy as np
import pytest
import torch

from evaluation.picture_side import meets, picture_side, summary_line
from rt_style.contract import Component, ModelInfo

META = ModelInfo(components=[Component("style", "a", 0.5), Component("style", "b", 0.5)],
                 style_names=["s"], style_layers=["relu1_1"])


def images(n=2, size=16):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, size, size, generator=g) * 0.5 + 0.25


def tinted(colours):
    """y = x + Σ_k α_k·(c_k − x)/2 (clamped): each slider pulls towards its own colour."""
    c = torch.tensor(colours, dtype=torch.float32)  # A×3

    def model(x, alpha, style=None):
        pull = (alpha[:, :, None] * (c[None] - x.mean((2, 3))[:, None])).sum(1) / 2
        return (x + pull[:, :, None, None]).clamp(0, 1)
    return model


def test_identity_live_and_evenness_of_a_linear_model():
    x = images()
    r = picture_side(tinted([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), x, META, random=4)
    assert r["identity"] == pytest.approx(0.0, abs=0.5)  # α = 0 returns the photo (rounding)
    assert r["live_min"] > 12
    assert r["evenness_max"] < 1.3  # a linear slider moves by equal steps
    assert r["meets"]["identity"] and r["meets"]["evenness_max"]
    assert "span" not in r  # needs VGG


def test_sliders_that_do_the_same_thing_are_not_distinct():
    x = images()
    same = picture_side(tinted([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), x, META, random=4)
    different = picture_side(tinted([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), x, META, random=4)
    assert same["distinct"] == pytest.approx(0.0, abs=0.02)
    assert different["distinct"] > 1.0
    assert not same["meets"]["distinct"] and different["meets"]["distinct"]


def test_a_model_that_ignores_alpha_has_no_diversity_and_dead_sliders():
    def fixed(x, alpha, style=None):
        return (1 - x).clamp(0, 1)
    r = picture_side(fixed, images(), META, random=4)
    assert r["diversity"] == 0.0 and r["live_min"] == 0.0
    assert r["identity"] > 30  # α = 0 is far from the photo
    assert "!" in summary_line(r)


def test_span_compares_the_top_with_the_defaults():
    from train.losses import style_grams_for
    from train.vgg import VGG19

    vgg = VGG19(["relu1_1"])
    x = images(size=32)
    grams = style_grams_for(vgg, [torch.zeros(1, 3, 32, 32) + torch.tensor(
        [0.9, 0.1, 0.1])[None, :, None, None]], ["relu1_1"])
    r = picture_side(tinted([[0.9, 0.1, 0.1], [0.9, 0.1, 0.1]]), x, META, vgg=vgg,
                     style_grams=grams, random=2)
    # pulling further towards the painting's colour at the top: lower style loss than defaults
    assert r["style_ratio_max"] < r["style_ratio_default"] < 1.0
    assert r["span"] == pytest.approx(r["style_ratio_max"] / r["style_ratio_default"])


def test_goals():
    assert meets("live_min", 12.0) and not meets("live_min", 11.9)
    assert meets("span", 0.6) and not meets("span", 0.61)
    assert np.isfinite(picture_side(tinted([[1, 0, 0], [0, 1, 0]]), images(), META,
                                    random=2)["distinct"])

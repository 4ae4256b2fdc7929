"""EMA normalisation and per-example α weighting, against hand computations."""

import numpy as np
import torch

from train.alpha_weights import sample_alpha
from train.losses import (
    LossNormalizer,
    content_loss,
    gram,
    reference_scales,
    reference_weights,
    style_loss,
    weighted_total,
)


def test_gram_is_normalised_by_chw():
    f = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    g = gram(f)
    x = f[1].reshape(3, 20)
    assert torch.allclose(g[1], x @ x.T / (3 * 4 * 5))


def test_per_example_losses():
    f = torch.zeros(2, 2, 2, 2)
    t = torch.zeros(2, 2, 2, 2)
    t[1] = 2.0
    assert content_loss(f, t).tolist() == [0.0, 4.0]
    g = torch.ones(2, 2, 2)
    assert style_loss(f, g).tolist() == [1.0, 1.0]


def test_ema_normalisation_matches_hand_computation():
    norm = LossNormalizer(3, decay=0.9)
    b1 = torch.tensor([2.0, 10.0, 100.0])
    norm.update(b1)  # the first update sets the average
    assert torch.equal(norm.ema, b1)
    b2 = torch.tensor([4.0, 10.0, 0.0])
    norm.update(b2)
    ema = np.array([0.9 * 2 + 0.1 * 4, 10.0, 0.9 * 100])
    assert np.allclose(norm.ema.numpy(), ema)
    raw = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    expected = raw.numpy() * ema.sum() / ema
    assert np.allclose(norm(raw).numpy(), expected, rtol=1e-6)


def test_layer_without_weight_keeps_its_average():
    norm = LossNormalizer(3, decay=0.5)
    norm.update(torch.tensor([2.0, 7.0, 4.0]), torch.tensor([True, False, True]))
    assert norm.ema.tolist() == [2.0, 0.0, 4.0] and not bool(norm.initialized)
    norm.update(torch.tensor([4.0, 9.0, 8.0]), torch.tensor([True, True, False]))
    # layer 1 starts at its first valid batch; layer 2 keeps its average
    assert norm.ema.tolist() == [3.0, 9.0, 4.0]


def test_reference_weights_count_each_layer_where_it_is_asked_for():
    w = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0],   # α = 0: the photo
                      [1.0, 1.0, 0.0, 0.5, 0.5]])
    ref = reference_weights(w, num_content=1)
    assert ref.tolist() == [[0.0, 0.0, 0.0, 0.0, 0.0], [0.5, 1.0, 0.0, 0.5, 0.5]]
    same = torch.full((3, 5), 0.5)
    assert torch.equal(reference_weights(same, 1), same)  # α-free: the plain batch mean


def test_reference_scales_measure_photo_and_painting():
    """Style size: the photos' own style loss; content size: painting crops against photos."""
    def features(x, layers=None):  # a stand-in loss network: the pixels are every layer
        return {n: x for n in (layers or ["c", "s"])}

    photos = torch.zeros(2, 1, 2, 2)
    painting = torch.full((2, 1, 2, 2), 3.0)
    target = {"s": torch.full((1, 1, 1), 2.0)}
    sizes = reference_scales(features, photos, painting, target, ["c"], ["s"])
    assert sizes.tolist() == [9.0, 4.0]  # (3 − 0)², (gram 0 − 2)²


def test_per_example_alpha_weighting():
    normed = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    w = torch.tensor([[1.0, 0.0, 0.5], [1.0, 1.0, 0.0]])
    # example 0: 1 + 0 + 1.5 = 2.5; example 1: 4 + 5 + 0 = 9; mean = 5.75
    assert float(weighted_total(normed, w)) == 5.75


def test_alpha_sampling_modes():
    rng = np.random.default_rng(0)
    u = sample_alpha(rng, 1000, 4, "uniform")
    assert u.shape == (1000, 4) and 0 <= u.min() and u.max() <= 1 and abs(u.mean() - 0.5) < 0.03
    e = sample_alpha(rng, 4000, 4, "extremes")
    zeros = (e == 0).all(1).mean()
    ones = (e == 1).all(1).mean()
    onehot = (((e == 0) | (e == 1)).all(1) & (e.sum(1) == 1)).mean()
    assert all(abs(p - 0.25) < 0.03 for p in (zeros, ones, onehot))
    b = sample_alpha(rng, 8, 4, "batch")
    assert (b == b[0]).all()


def test_exp_alpha_curve():
    from train.alpha_weights import style_weight

    a = torch.tensor([0.0, 0.5, 1.0])
    assert torch.equal(style_weight(a, "linear"), a)
    w = style_weight(a, "exp", 100.0)
    assert torch.allclose(w, torch.tensor([0.0, 9.0 / 99.0, 1.0]))

"""Every preset builds, keeps the frame size, stays in [0, 1] and starts Λ near the identity."""

import pytest
import torch

from train.model import PRESETS, StyleNet


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("size", [(1, 1), (7, 13), (37, 50)])
def test_preset_shapes(preset, size):
    torch.manual_seed(0)
    m = StyleNet(preset, num_alpha=4, num_styles=1, width=0.25 if preset == "paper" else 1.0)
    x = torch.rand(2, 3, *size)
    y = m(x, torch.rand(2, 4))
    assert y.shape == x.shape
    assert 0.0 <= float(y.min()) and float(y.max()) <= 1.0


def test_width_multiplier_scales_channels():
    small, big = StyleNet("fast", width=0.5), StyleNet("fast", width=2.0)
    assert sum(small.transform.cin_channels) < sum(big.transform.cin_channels)


def test_default_init_conditioner_is_identity():
    m = StyleNet("fast", num_alpha=4)
    gammas, betas, _ = m.conditioner(torch.rand(3, 4))
    assert all(torch.equal(g, torch.ones_like(g)) for g in gammas)
    assert all(torch.equal(b, torch.zeros_like(b)) for b in betas)


def test_paper_conditioner_matches_table_1():
    m = StyleNet("paper", num_alpha=3)
    linears = [x for x in m.conditioner.modules() if isinstance(x, torch.nn.Linear)]
    assert [lin.out_features for lin in linears[:-1]] == [1000] * 11
    assert linears[-1].out_features == 2 * sum(m.transform.cin_channels)
    w = torch.cat([lin.weight.flatten() for lin in linears])
    assert abs(float(w.std()) - 0.01) < 0.001


def test_paper_transform_matches_table_2():
    t = StyleNet("paper").transform
    convs = [layer.conv for layer in t.layers]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs[:3]] == [
        (3, 32, 9, 1), (32, 64, 3, 2), (64, 128, 3, 2)]
    assert len(convs) == 3 + 14 + 2 + 1
    assert (convs[-1].in_channels, convs[-1].out_channels, convs[-1].kernel_size[0]) == (32, 3, 9)


def test_multi_style_conditioning_and_architecture_round_trip():
    m = StyleNet("fast", num_alpha=4, num_styles=3)
    assert m.conditioner.hidden[0].in_features == 7
    m2 = StyleNet.from_architecture(m.architecture())
    m2.load_state_dict(m.state_dict())
    x, a, s = torch.rand(1, 3, 16, 16), torch.rand(1, 4), torch.tensor([[0.2, 0.3, 0.5]])
    assert torch.equal(m(x, a, s), m2(x, a, s))
    with pytest.raises(ValueError):
        m(x, a)


def test_input_skip_gives_the_photo_back_when_the_last_layer_is_silent():
    m = StyleNet("fast", num_alpha=4, input_skip=True)
    total = sum(m.transform.cin_channels)
    with torch.no_grad():  # last CIN layer: γ = 1 + (−1) = 0, β = 0; skip gains 1
        m.conditioner.out.bias[total - 3:total] = -1.0
    x = torch.rand(2, 3, 20, 24) * 0.9 + 0.05
    y = m(x, torch.rand(2, 4))
    assert torch.allclose(y, x, atol=1e-5)
    plain = StyleNet("fast", num_alpha=4)
    assert plain.conditioner.out.out_features == 2 * total
    assert m.conditioner.out.out_features == 2 * total + 3


def test_architecture_records_the_input_skip():
    m = StyleNet("fast", num_alpha=4, input_skip=True)
    assert StyleNet.from_architecture(m.architecture()).input_skip
    old = {k: v for k, v in StyleNet("fast").architecture().items() if k != "input_skip"}
    assert not StyleNet.from_architecture(old).input_skip  # saved before the option existed

"""Every preset builds, keeps the frame size, stays in [0, 1] and starts Λ near the identity."""

import dataclasses

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


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_architecture_round_trip(preset):
    """Each preset is rebuilt from what a checkpoint stores, layer for layer."""
    torch.manual_seed(0)
    m = StyleNet(preset, num_alpha=4, width=0.25 if preset == "paper" else 1.0, input_skip=True)
    with torch.no_grad():
        for p in m.conditioner.out.parameters():  # leave the identity start: γ, β matter
            p.normal_(0.0, 0.05)
    arch = m.architecture()
    assert arch["transform"]["stem"] == [list(s) for s in PRESETS[preset].transform.stem]
    m2 = StyleNet.from_architecture(arch)
    m2.load_state_dict(m.state_dict())
    x, a = torch.rand(1, 3, 21, 30), torch.rand(1, 4)
    with torch.no_grad():
        assert torch.equal(m(x, a), m2(x, a))


def test_checkpoint_keeps_its_layers_when_the_preset_is_edited(tmp_path, monkeypatch):
    m = StyleNet("fast", num_alpha=4, input_skip=True)
    path = tmp_path / "ck.pt"
    torch.save({"architecture": m.architecture(), "model": m.state_dict()}, path)
    edited = dataclasses.replace(PRESETS["fast"].transform, body_blocks=2,
                                 up=((8, 3, 2),))
    monkeypatch.setitem(PRESETS, "fast", dataclasses.replace(PRESETS["fast"], transform=edited))
    ck = torch.load(path, weights_only=True)  # plain data: loads without unpickling classes
    m2 = StyleNet.from_architecture(ck["architecture"])
    m2.load_state_dict(ck["model"])  # strict: every layer of its own plan is there
    assert m2.transform.spec == m.transform.spec != edited
    x, a = torch.rand(1, 3, 20, 24), torch.rand(1, 4)
    with torch.no_grad():
        assert torch.equal(m(x, a), m2(x, a))
    assert len(StyleNet("fast").transform.layers) < len(m2.transform.layers)  # really edited


def test_smooth_preset_upsamples_bilinearly_and_reflects_in_the_body():
    t = StyleNet("mobile-smooth").transform
    body = t.layers[t.body_start:t.body_end]
    assert {layer.pad for layer in body if layer.conv.kernel_size[0] == 3} == {1}
    assert all(layer.pad == 0 for layer in t.layers[:t.body_start])  # zero padding elsewhere
    assert {layer.upsample_mode for layer in t.layers if layer.upsample > 1} == {"bilinear"}
    with pytest.raises(ValueError, match="unknown upsampling"):
        StyleNet(transform=dataclasses.replace(t.spec, upsample="cubic"),
                 conditioner=PRESETS["fast"].conditioner)


def test_checkpoints_from_before_a_transform_field_existed_resume():
    m = StyleNet("mobile", num_alpha=4, input_skip=True)
    arch = m.architecture()
    for later in ("upsample", "body_reflect"):  # fields added after such checkpoints were saved
        del arch["transform"][later]
    assert StyleNet.complete_architecture(arch) == m.architecture()


def test_old_checkpoints_without_a_stored_plan_use_the_preset():
    m = StyleNet("fast", num_alpha=4)
    old = {k: v for k, v in m.architecture().items() if k not in ("transform", "input_skip")}
    m2 = StyleNet.from_architecture(old)
    m2.load_state_dict(m.state_dict())
    assert m2.architecture() == m.architecture()
    assert StyleNet.complete_architecture(old) == m.architecture()
    with pytest.raises(ValueError, match="no longer exists"):
        StyleNet.from_architecture({**old, "preset": "gone"})


def test_stored_plan_with_unknown_fields_is_refused():
    arch = StyleNet("fast").architecture()
    arch["transform"]["from_the_future"] = 1
    with pytest.raises(ValueError, match="unknown transform fields"):
        StyleNet.from_architecture(arch)


def test_skip_after_the_crop_equals_the_skip_on_the_padded_frame():
    """StyleNet adds the input skip after cropping the margin: the same as T's own forward on
    the padded frame, cropped."""
    from train.model import _pad_for_network

    torch.manual_seed(0)
    m = StyleNet("fast", input_skip=True).eval()
    with torch.no_grad():
        for p in m.conditioner.out.parameters():
            p.normal_(0.0, 0.05)
        x, a = torch.rand(2, 3, 3, 41), torch.rand(2, 4)
        g, b, skip = m.conditioner(a)
        full = m.transform(_pad_for_network(x, m.transform.stride, 16), g, b, skip)
        assert torch.allclose(m(x, a), full[..., 16:19, 16:57], atol=1e-6)


def test_mac_counter_counts_every_conv_at_its_resolution():
    """benchmarks/macs.py on fast at 640×480: the 16 px margin makes the frame 672×512."""
    import importlib.util

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("macs", ROOT / "benchmarks" / "macs.py")
    macs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(macs)
    half, quarter, full = 336 * 256, 168 * 128, 672 * 512
    want = {"1/2": half * 16 * 3 * 9 + half * 16 * 32 * 9,  # stem conv, upsampling conv
            "1/4": quarter * 32 * 16 * 9 + 10 * quarter * 32 * 32 * 9,  # stem conv, body
            "1/1": full * 3 * 16 * 9}  # output conv
    got = macs.conv_macs(StyleNet("fast"), 640, 480)
    assert got["by_scale"] == {k: want[k] for k in ("1/1", "1/2", "1/4")}
    assert got["total"] == sum(want.values())
    depthwise = macs.conv_macs(StyleNet("mobile"), 640, 480)["total"]
    assert depthwise < got["total"] / 3
    # the fixed blurs of fast-sep-blur count too: 3 channels at full size, 16 at half
    blurred = macs.conv_macs(StyleNet("fast-sep-blur"), 640, 480)["by_scale"]
    plain = macs.conv_macs(StyleNet("fast-sep"), 640, 480)["by_scale"]
    assert blurred["1/1"] - plain["1/1"] == full * 3 * 9
    assert blurred["1/2"] - plain["1/2"] == half * 16 * 9


def test_half_size_preset_adds_its_change_to_the_whole_frame(monkeypatch):
    """fast-half: T works on the frame at half size; where it changes nothing the frame comes
    back exactly, fine detail included, and a uniform change lands uniformly on every pixel,
    at odd sizes too."""
    m = StyleNet("fast-half", num_alpha=4, input_skip=True)
    assert (m.frame_stride, m.frame_margin) == (8, 32)
    x = 0.25 + 0.5 * torch.rand(2, 3, 37, 50)  # away from 0 and 1, where the skip clamps
    x[..., ::2, :] += 0.1  # detail at the finest scale, which half size cannot hold
    a = torch.rand(2, 4)
    monkeypatch.setattr(m.transform, "logits", lambda small, g, b: torch.zeros_like(small))
    assert torch.allclose(m(x, a), x, atol=1e-5)
    delta = torch.tensor([0.2, -0.1, 0.05])

    def shifted(small, g, b):  # logits whose sigmoid is small + delta
        return torch.logit(small + delta[:, None, None]) - torch.logit(small)

    monkeypatch.setattr(m.transform, "logits", shifted)
    assert torch.allclose(m(x, a), (x + delta[:, None, None]).clamp(0, 1), atol=1e-5)


def test_new_training_defaults_to_the_cheaper_network():
    """Issue 15: `fast-sep` (separable body and decoder conv, 0.64 GMAC per 640×480 frame
    against fast's 2.66) is what `rtstyle train` builds unless told otherwise."""
    from train.config import TrainConfig

    assert TrainConfig().preset == "fast-sep"
    spec = PRESETS["fast-sep"].transform
    assert spec.separable and spec.separable_up is None  # body and decoder
    assert PRESETS["fast-sep-body"].transform.separable_up is False  # a dense decoder conv


@pytest.mark.parametrize("reflect", [False, True], ids=["zero-padded", "reflected"])
def test_blurred_stem_does_not_alias_the_finest_pattern(reflect):
    """fast-sep-blur low-passes before each strided stem conv: a one-pixel checkerboard (the
    frequency a stride-2 conv folds onto a flat field) reaches the conv as flat grey, so the
    conv's output is the same whichever way the checkerboard is shifted. Without the blur a
    one-pixel shift of the pattern flips the sampled map."""
    from train.model import ConvCIN

    torch.manual_seed(0)
    board = ((torch.arange(32)[:, None] + torch.arange(32)[None, :]) % 2).float()
    gamma, beta = torch.ones(1, 16), torch.zeros(1, 16)
    for blur in (True, False):
        layer = ConvCIN(3, 16, 3, stride=2, reflect=reflect, blur=blur)
        seen = []  # the strided conv's output, before the norm makes any flat map zero
        layer.conv.register_forward_hook(
            lambda _m, _i, out, seen=seen: seen.append(out[..., 2:-2, 2:-2]))
        for pattern in (board, 1 - board):  # 1 − board: the checkerboard moved by one pixel
            layer(pattern.expand(1, 3, 32, 32), gamma, beta)
        assert seen[0].shape[-2:] == (12, 12)  # the blur keeps the conv's own padding
        assert torch.allclose(seen[0], seen[1], atol=1e-5) == blur, blur

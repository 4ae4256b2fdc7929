"""The VGG-19 loss network: original weights, truncated depth, and the BGR/0–255/mean convention."""

import torch

from train.vgg import LAYERS, MEAN_BGR, VGG19


def test_feature_shapes_and_truncation():
    vgg = VGG19(["relu1_1", "relu2_2", "relu3_1", "relu4_1"])
    assert len(vgg.convs) == LAYERS.index("relu4_1") + 1  # nothing deeper is built
    f = vgg(torch.rand(2, 3, 64, 48))
    assert {k: tuple(v.shape) for k, v in f.items()} == {
        "relu1_1": (2, 64, 64, 48), "relu2_2": (2, 128, 32, 24),
        "relu3_1": (2, 256, 16, 12), "relu4_1": (2, 512, 8, 6)}
    assert not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training


def test_input_convention_is_bgr_0_255_mean_subtracted():
    vgg = VGG19(["relu1_1"])
    rgb = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    x = vgg.preprocess(rgb)
    expected = torch.tensor([0.9 * 255 - MEAN_BGR[0], 0.5 * 255 - MEAN_BGR[1],
                             0.2 * 255 - MEAN_BGR[2]])
    assert torch.allclose(x[0, :, 0, 0], expected, atol=1e-4)
    # forward(RGB) is exactly the features of the hand-made BGR, mean-subtracted input
    manual = rgb[:, [2, 1, 0]] * 255 - torch.tensor(MEAN_BGR).view(1, 3, 1, 1)
    assert torch.allclose(vgg(rgb)["relu1_1"], vgg.features(manual)["relu1_1"])


def test_weights_are_the_original_imagenet_ones():
    """The mean pixel is a zero input: relu1_1 there equals relu(bias) of the shipped weights."""
    vgg = VGG19(["relu1_1"])
    mean_rgb = torch.tensor(MEAN_BGR[::-1]).view(1, 3, 1, 1).expand(1, 3, 8, 8) / 255
    f = vgg(mean_rgb)["relu1_1"][0, :, 4, 4]
    assert torch.allclose(f, torch.relu(vgg.convs[0].bias), atol=1e-3)
    # Caffe VGG's first layer responds strongly to colour edges: a real, non-trivial kernel
    assert float(vgg.convs[0].weight.abs().mean()) > 0.05

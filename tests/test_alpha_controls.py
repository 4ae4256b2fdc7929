"""α parsing, keyframes and the random walk (rt_style.alpha): no torch needed."""

import numpy as np
import pytest

from rt_style.alpha import Keyframes, RandomWalk, parse_alpha, parse_style_mixture
from rt_style.errors import UserError

NAMES = ["style:relu1_1", "style:relu2_1", "style:relu3_1", "style:relu4_1"]
DEFAULTS = [0.5] * 4


def test_parse_alpha_forms():
    assert parse_alpha("0,0.25,0.5,1", NAMES, DEFAULTS).tolist() == [0, 0.25, 0.5, 1]
    assert parse_alpha("relu4_1=1, style:relu1_1=0", NAMES, DEFAULTS).tolist() == [0, .5, .5, 1]
    assert parse_alpha("0.25", NAMES, DEFAULTS).tolist() == [0.25] * 4  # one value sets all


@pytest.mark.parametrize("text, msg", [("0.1,0.2", "has 2 values"), ("relu9_9=1", "unknown α"),
                                       ("0,0,0,2", "outside its range"), ("a,b,c,d", "not a num"),
                                       ("nan,0,0,0", "not finite"), ("relu1_1=1,0.5", "cannot")])
def test_parse_alpha_errors(text, msg):
    with pytest.raises(UserError, match=msg):
        parse_alpha(text, NAMES, DEFAULTS)


def test_style_mixture():
    names = ["starry", "scream", "wave"]
    assert parse_style_mixture("scream", names).tolist() == [0, 1, 0]
    assert np.allclose(parse_style_mixture("starry:3,wa:1", names), [0.75, 0, 0.25])
    with pytest.raises(UserError, match="unknown style"):
        parse_style_mixture("monet", names)


def test_keyframes_interpolate_and_hold():
    k = Keyframes.parse("2:1,1,1,1; 0:0,0,0,0", NAMES, DEFAULTS)
    assert k.at(-1).tolist() == [0] * 4 and k.at(1).tolist() == [0.5] * 4
    assert k.at(10).tolist() == [1] * 4
    with pytest.raises(UserError, match="needs a time"):
        Keyframes.parse("0,0,0,0", NAMES, DEFAULTS)


def test_random_walk_is_smooth_reproducible_and_in_range():
    a, b = RandomWalk(4, seed=3), RandomWalk(4, seed=3)
    ts = np.arange(0, 60, 1 / 30)
    path = np.array([a.at(t) for t in ts])
    assert np.array_equal(path, np.array([b.at(t) for t in ts]))
    assert path.min() >= 0 and path.max() <= 1
    assert np.abs(np.diff(path, axis=0)).max() < 0.05  # smooth at 30 fps
    assert path.std(0).min() > 0.1  # and it really wanders
    assert not np.array_equal(path, np.array([RandomWalk(4, seed=4).at(t) for t in ts]))

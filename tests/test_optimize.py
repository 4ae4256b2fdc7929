"""export.optimize's issue-15 rewrites: each gives the same function as the graph without it
(float outputs to 1e-4, uint8 outputs exactly or to a rare one-level rounding flip), leaves
other patterns alone, and the CPU-only ones are the ones TensorRT's check rejects."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from export.optimize import CPU, optimize
from export.trt_check import trt_problems

F, U8, I64 = TensorProto.FLOAT, TensorProto.UINT8, TensorProto.INT64


def _model(nodes, inputs, outputs, weights=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs,
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in weights])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _session(model):
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _same(model, rewritten, feeds_list, atol=1e-4):
    a, b = _session(model), _session(rewritten)
    for feeds in feeds_list:
        want, got = a.run(None, feeds)[0], b.run(None, feeds)[0]
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=0, atol=atol)


def _ops(model):
    return [n.op_type for n in model.graph.node]


# ------------------------------------------------------------------------------ fused CIN
def _cin_model(c=5, gamma_batch="n", scale=1.0):
    """x N×C×H×W, γ and β N×C from inputs (as Λ computes them), CIN as the exporter writes it."""
    nodes = [helper.make_node("Unsqueeze", ["g", "axes"], ["g4"]),
             helper.make_node("Unsqueeze", ["b", "axes"], ["b4"]),
             helper.make_node("InstanceNormalization", ["x", "ones", "zeros"], ["norm"],
                              epsilon=1e-5),
             helper.make_node("Mul", ["norm", "g4"], ["scaled"]),
             helper.make_node("Add", ["scaled", "b4"], ["y"])]
    inputs = [helper.make_tensor_value_info("x", F, ["n", c, "h", "w"]),
              helper.make_tensor_value_info("g", F, [gamma_batch, c]),
              helper.make_tensor_value_info("b", F, [gamma_batch, c])]
    weights = [("axes", np.array([2, 3], np.int64)), ("ones", np.full(c, scale, np.float32)),
               ("zeros", np.zeros(c, np.float32))]
    return _model(nodes, inputs, [helper.make_tensor_value_info("y", F, ["n", c, "h", "w"])],
                  weights)


def test_fused_cin_is_exact_with_a_different_gamma_per_example():
    model = _cin_model()
    fused, counts = optimize(model, ("cin",))
    assert counts == {"cin": 1}
    assert _ops(fused).count("InstanceNormalization") == 1
    assert "Mul" not in _ops(fused) and "Add" not in _ops(fused)
    onnx.checker.check_model(fused, full_check=True)
    rng = np.random.default_rng(0)
    feeds = [{"x": rng.normal(2, 3, (n, 5, h, w)).astype(np.float32),
              "g": rng.normal(1, 0.5, (n, 5)).astype(np.float32),
              "b": rng.normal(0, 1, (n, 5)).astype(np.float32)}
             for n, h, w in [(1, 1, 1), (2, 7, 13), (3, 16, 9)]]
    _same(model, fused, feeds)
    assert any("must be a weight" in p and "--cpu-only" in p for p in trt_problems(fused))
    assert trt_problems(model) == []


@pytest.mark.parametrize("kw", [dict(gamma_batch=1), dict(scale=2.0)])
def test_fused_cin_leaves_other_norms_alone(kw):
    """γ shared by the batch (flattening would give C values, not N·C), or an instance norm
    with its own affine scale: not the exporter's CIN, not rewritten."""
    _, counts = optimize(_cin_model(**kw), ("cin",))
    assert counts == {"cin": 0}


# ------------------------------------------------------------------------------ the contract
def _contract_model(clip_high=255.0):
    """uint8 NHWC BGR in → float NCHW RGB → a crop per axis → sigmoid × 255, Round, Clip →
    uint8 NHWC BGR out: the exporter's pre/post-processing around an identity network."""
    nodes = [helper.make_node("Cast", ["image"], ["f"], to=F),
             helper.make_node("Transpose", ["f"], ["nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("Gather", ["nchw", "bgr"], ["rgb"], axis=1),
             helper.make_node("Div", ["rgb", "k255"], ["x"]),
             helper.make_node("Pad", ["x", "pads"], ["padded"], mode="reflect"),
             helper.make_node("Shape", ["image"], ["shape"]),
             helper.make_node("Gather", ["shape", "one"], ["h"], axis=0),
             helper.make_node("Gather", ["shape", "two"], ["w"], axis=0),
             helper.make_node("Add", ["h", "two_i"], ["h_end"]),
             helper.make_node("Add", ["w", "two_i"], ["w_end"]),
             helper.make_node("Slice", ["padded", "two_i", "h_end", "two", "step"], ["crop_h"]),
             helper.make_node("Slice", ["crop_h", "two_i", "w_end", "three", "step"], ["crop"]),
             helper.make_node("Sub", ["crop", "half"], ["z"]),
             helper.make_node("Mul", ["z", "gain"], ["logit"]),
             helper.make_node("Sigmoid", ["logit"], ["s"]),
             helper.make_node("Mul", ["s", "k255"], ["s255"]),
             helper.make_node("Round", ["s255"], ["r"]),
             helper.make_node("Clip", ["r", "zero", "high"], ["clipped"]),
             helper.make_node("Gather", ["clipped", "bgr"], ["bgr_out"], axis=1),
             helper.make_node("Transpose", ["bgr_out"], ["nhwc"], perm=[0, 2, 3, 1]),
             helper.make_node("Cast", ["nhwc"], ["stylized"], to=U8)]
    weights = [("bgr", np.array([2, 1, 0], np.int64)), ("k255", np.float32(255)),
               ("pads", np.array([0, 0, 2, 2, 0, 0, 2, 2], np.int64)),
               ("one", np.array([1], np.int64)), ("two", np.array([2], np.int64)),
               ("three", np.array([3], np.int64)), ("two_i", np.array([2], np.int64)),
               ("step", np.array([1], np.int64)), ("half", np.float32(0.5)),
               ("gain", np.float32(9.0)), ("zero", np.float32(0)),
               ("high", np.float32(clip_high))]
    return _model(nodes, [helper.make_tensor_value_info("image", U8, ["n", "h", "w", 3])],
                  [helper.make_tensor_value_info("stylized", U8, ["n", "h", "w", 3])], weights)


def _frames(sizes=((1, 3, 4), (2, 7, 13), (1, 16, 9))):
    rng = np.random.default_rng(0)
    return [{"image": rng.integers(0, 256, (n, h, w, 3), dtype=np.uint8)} for n, h, w in sizes]


def test_contract_rewrites_are_exact():
    """One crop Slice instead of two, no Clip after Round(sigmoid × 255), and (CPU) the
    Transposes and channel-swap Gathers on uint8: the same bytes out."""
    model = _contract_model()
    portable, counts = optimize(model, ("crop", "clip"))
    assert counts == {"crop": 1, "clip": 1}
    assert _ops(portable).count("Slice") == 1 and "Clip" not in _ops(portable)
    assert trt_problems(portable) == []
    _same(model, portable, _frames(), atol=0)
    cpu, counts = optimize(model, ("crop", "clip", "uint8"))
    assert counts["uint8"] == 4
    onnx.checker.check_model(cpu, full_check=True)
    types = {v.name: v.type.tensor_type.elem_type
             for v in onnx.shape_inference.infer_shapes(cpu).graph.value_info}
    moves = [n for n in cpu.graph.node if n.op_type in ("Transpose", "Gather")
             and n.input[0] not in ("shape",)]
    assert len(moves) == 4 and all(types.get(n.output[0], U8) == U8 for n in moves)
    _same(model, cpu, _frames(), atol=0)
    assert any("uint8 tensor" in p and "--cpu-only" in p for p in trt_problems(cpu))


def test_clip_that_can_bite_is_kept():
    _, counts = optimize(_contract_model(clip_high=200.0), ("clip",))
    assert counts == {"clip": 0}


# ------------------------------------------------------------------------------ upsampling
def _upsampling_model(cin, cout, group):
    rng = np.random.default_rng(cin + cout + group)
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["up"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
             helper.make_node("Conv", ["up", "w", "b"], ["y"], kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1], group=group)]
    weights = [("scales", np.array([1, 1, 2, 2], np.float32)),
               ("w", rng.normal(size=(cout, cin // group, 3, 3)).astype(np.float32)),
               ("b", rng.normal(size=cout).astype(np.float32))]
    return _model(nodes, [helper.make_tensor_value_info("x", F, ["n", cin, "h", "w"])],
                  [helper.make_tensor_value_info("y", F, ["n", cout, "h2", "w2"])], weights)


@pytest.mark.parametrize("cin,cout,group", [(8, 3, 1), (5, 16, 1), (6, 6, 6)])
def test_transposed_upsampling_is_the_same_function(cin, cout, group):
    """ConvTranspose(4×4, stride 2, pad 1) computes exactly nearest ×2 → 3×3 conv (so it
    cannot add a grid): against the original and the sub-pixel form, at odd and 1-pixel sizes."""
    model = _upsampling_model(cin, cout, group)
    rng = np.random.default_rng(1)
    feeds = [{"x": rng.normal(size=(n, cin, h, w)).astype(np.float32)}
             for n, h, w in [(1, 1, 1), (2, 3, 5), (1, 17, 8)]]
    passes = ("transposed",) if group == 1 else ("transposed_dw",)
    transposed, counts = optimize(model, passes)
    assert counts == {passes[0]: 1}
    assert "ConvTranspose" in _ops(transposed) and "Resize" not in _ops(transposed)
    onnx.checker.check_model(transposed, full_check=True)
    _same(model, transposed, feeds)
    if group == 1:
        subpixel, _ = optimize(model, ("subpixel",))
        _same(subpixel, transposed, feeds)
    _, counts = optimize(model, CPU)  # only dense convs with ≥ 4 outputs (measured faster)
    assert counts["transposed_inner"] == (group == 1 and cout >= 4)
    assert counts["subpixel"] == (group == 1 and cout < 4)


# ------------------------------------------------------------------------------ norm before D2S
def _d2s_cin_model(c=3, mode="CRD", scale=1.0, per_channel=True):
    """x N×4C×H×W (a sub-pixel conv's output) → DepthToSpace(2) → the exporter's CIN; with
    per_channel off, γ is a full-size map (not foldable into the phase view)."""
    nodes = [helper.make_node("DepthToSpace", ["x"], ["full"], blocksize=2, mode=mode),
             helper.make_node("InstanceNormalization", ["full", "ones", "zeros"], ["norm"],
                              epsilon=1e-5),
             helper.make_node("Unsqueeze", ["b", "axes"], ["b4"]),
             helper.make_node("Mul", ["norm", "g4"], ["scaled"]),
             helper.make_node("Add", ["scaled", "b4"], ["y"])]
    g = helper.make_tensor_value_info("g", F, ["n", c]) if per_channel else \
        helper.make_tensor_value_info("g4", F, ["n", c, "h2", "w2"])
    if per_channel:
        nodes.insert(2, helper.make_node("Unsqueeze", ["g", "axes"], ["g4"]))
    inputs = [helper.make_tensor_value_info("x", F, ["n", 4 * c, "h", "w"]), g,
              helper.make_tensor_value_info("b", F, ["n", c])]
    weights = [("axes", np.array([2, 3], np.int64)), ("ones", np.full(c, scale, np.float32)),
               ("zeros", np.zeros(c, np.float32))]
    return _model(nodes, inputs, [helper.make_tensor_value_info("y", F, ["n", c, "h2", "w2"])],
                  weights)


@pytest.mark.parametrize("per_channel", [True, False])
def test_norm_before_depth_to_space_is_the_same_function(per_channel):
    """The norm (and a per-channel γ, β) on the N×C×4H×W view of the sub-pixel output, then
    DepthToSpace: the same statistics, so the same output, with a different γ per example, at
    odd and 1-pixel sizes; TensorRT parses it (it is in PORTABLE)."""
    model = _d2s_cin_model(per_channel=per_channel)
    moved, counts = optimize(model, ("phasenorm",))
    assert counts == {"phasenorm": 1}
    onnx.checker.check_model(moved, full_check=True)
    ops = _ops(moved)
    after = "Add" if per_channel else "InstanceNormalization"  # γ as a full map stays after
    assert ops.index("DepthToSpace") == ops.index(after) + 2  # its Reshape back, then D2S
    rng = np.random.default_rng(0)
    feeds = []
    for n, h, w in [(1, 1, 1), (2, 3, 5), (3, 17, 8)]:
        feed = {"x": rng.normal(2, 3, (n, 12, h, w)).astype(np.float32),
                "b": rng.normal(0, 1, (n, 3)).astype(np.float32)}
        feed["g" if per_channel else "g4"] = rng.normal(
            1, 0.5, (n, 3) if per_channel else (n, 3, 2 * h, 2 * w)).astype(np.float32)
        feeds.append(feed)
    _same(model, moved, feeds)
    assert trt_problems(moved) == []


@pytest.mark.parametrize("kw", [dict(mode="DCR"), dict(scale=2.0)])
def test_norm_before_depth_to_space_leaves_other_patterns_alone(kw):
    """DCR order puts a channel's phases C apart (the view would mix channels); a norm with its
    own affine scale is not the exporter's CIN."""
    _, counts = optimize(_d2s_cin_model(**kw), ("phasenorm",))
    assert counts == {"phasenorm": 0}


# ------------------------------------------------------------------------------ a real model
def test_cpu_only_export_matches_the_default_one(tiny_onnx, tmp_path):
    """`export --cpu-only` on a real run (fast preset, input skip): validated against PyTorch
    like any export, and its uint8 output equals the default export's but for rare one-level
    flips where float rounding lands on .5; only the default export is TensorRT-compatible."""
    from export.metadata import read
    from export.onnx_export import cpu_session, export_checkpoint
    from export.parity import compare, noise_feeds, session_runner
    from rt_style.contract import ModelInfo

    result = export_checkpoint(tiny_onnx.parent, tmp_path / "cpu.onnx", sizes=[(7, 13)],
                               log=lambda _: None, cpu_only=True)
    cpu, default = onnx.load(result.path), onnx.load(tiny_onnx)
    ops = _ops(cpu)
    assert ops.count("ConvTranspose") == 1 and ops.count("DepthToSpace") == 1  # 16 and 3 out
    assert "Mul" not in [n.op_type for n in cpu.graph.node
                         if any("instance_norm" in i for i in n.input)]
    assert _ops(default).count("DepthToSpace") == 2 and "ConvTranspose" not in _ops(default)
    diffs = compare(session_runner(cpu_session(cpu.SerializeToString())),
                    session_runner(cpu_session(default.SerializeToString())),
                    noise_feeds(ModelInfo.from_dict(read(default)),
                                [(1, 1), (7, 13), (48, 64), (61, 37)]))
    assert max(d.max for d in diffs) <= 1
    assert sum(d.mean for d in diffs) / len(diffs) < 1e-3
    assert result.trt_problems and trt_problems(default) == []

"""Graph rewrites that make the exported model faster on ONNX Runtime's CPU provider, exactly
(the same function; float rounding aside), with no retraining. Measured in benchmarks/RESULTS.md.

- `gathers_outward`: the contract's BGR↔RGB channel swap is a Gather on the last axis of an
  N×H×W×3 tensor, which ONNX Runtime copies element by element (14 % of the fast preset's time
  at 640×480). Moved to the other side of the adjacent NHWC↔NCHW Transpose it becomes a Gather
  on axis 1, three contiguous plane copies.
- `subpixel_upsampling`: nearest ×2 upsampling followed by a 3×3 convolution is the same as a
  3×3 convolution at the low resolution with 4× the output channels (one per output phase),
  then DepthToSpace. The same useful arithmetic, but no Resize and a 4× smaller (and, for the
  3-channel output layer, far less padded) convolution input. The bilinear ×2 of
  `train.model.bilinear_up2` (a fixed depthwise ConvTranspose) followed by an unpadded 3×3
  convolution folds the same way, exactly, with 0.25/0.75 phase taps (ONNX Runtime's linear
  Resize took ⅔ of a `mobile-smooth` frame).
- `norms_before_depth_to_space` (`phasenorm`): the CIN after a sub-pixel conv's DepthToSpace
  runs on a view of its low-resolution output that holds each channel's four phases (the same
  statistics), then the DepthToSpace. OpenVINO normalises the 3-channel full-resolution output
  with one thread per channel: 1.5 ms of a 640×480 frame, against 0.1 on the view; neutral on
  ONNX Runtime.
- `one_crop`: the crop back to the frame is a Slice per axis, each a full-resolution copy; one
  Slice over both axes copies once.
- `drop_clip`: the output's Clip to 0–255 after Round(sigmoid × 255) cannot change a value.

Those are `PORTABLE` (the exporter's default): the graph stays in the form TensorRT parses.
`CPU` (`rtstyle export --cpu-only`, `python -m export.optimize IN OUT --cpu`) adds rewrites
that only ONNX Runtime runs, measured faster on its CPU provider (issue 15: 1.07–1.17× in
wall time, 1.10–1.22× in CPU time; trt_check names what TensorRT would reject):

- `fused_cin`: conditional instance norm is InstanceNormalization (no affine) → Mul γ → Add β,
  three passes over the activations; as InstanceNormalization on a 1×(N·C)×H×W view with γ, β
  flattened to its scale and bias it is one (the reshapes are views), per-example γ, β kept.
  TensorRT needs instance-norm scales that are weights.
- `uint8_moves`: data movement (the NHWC↔NCHW Transpose, the channel-swap Gather) on the
  uint8 side of the graph's input and output Casts, a quarter of the bytes. TensorRT takes
  uint8 only at the graph's edges.
- `transposed_upsampling` (before `subpixel`; dense convs with ≥ 4 outputs): nearest ×2 → 3×3
  conv as ConvTranspose(4×4, stride 2, pad 1), the same function with only the 4 non-zero
  taps per phase and no DepthToSpace.

The exporter validates the rewritten graph against PyTorch like any other.
"""

from __future__ import annotations

import functools

import numpy as np
import onnx
from onnx import helper, numpy_helper

# Phase d of a nearest ×2 upsampling seen by 3 taps at offsets −1, 0, +1 (full resolution):
# which low-resolution taps (rows) each full-resolution tap (column) lands on.
_PHASE = (np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]], np.float64),
          np.array([[0, 0, 0], [1, 1, 0], [0, 0, 1]], np.float64))
# The same for bilinear ×2 with half-pixel centres: full-resolution pixel 2j is
# 0.25·x[j−1] + 0.75·x[j], pixel 2j + 1 is 0.75·x[j] + 0.25·x[j+1].
_BILINEAR_PHASE = (np.array([[.75, .25, 0], [.25, .75, .75], [0, 0, .25]], np.float64),
                   np.array([[.25, 0, 0], [.75, .75, .25], [0, .25, .75]], np.float64))


class _Graph:
    """A GraphProto's nodes as a Python list to edit (protobuf's repeated fields copy on insert,
    so node references do not survive reordering them in place), with producer/consumer
    lookups and constant access; `commit` writes the nodes back."""

    def __init__(self, graph):
        self.graph = graph
        self.nodes = []
        for n in graph.node:
            copy = onnx.NodeProto()
            copy.CopyFrom(n)
            self.nodes.append(copy)
        self.inits = {t.name: t for t in graph.initializer}
        self.outputs = {o.name for o in graph.output}

    def consumers(self, name: str) -> list:
        return [n for n in self.nodes if name in n.input]

    def producer(self, name: str):
        return next((n for n in self.nodes if name in n.output), None)

    def only_consumer(self, name: str):
        users = self.consumers(name)
        return users[0] if len(users) == 1 and name not in self.outputs else None

    def index(self, node) -> int:
        return next(i for i, n in enumerate(self.nodes) if n is node)

    def move_before(self, first, second) -> None:
        """Put `first` immediately before `second` (keeps the graph topologically sorted)."""
        del self.nodes[self.index(first)]
        self.nodes.insert(self.index(second), first)

    def commit(self, changes: int = 0, prune: bool = False) -> int:
        """Write the nodes back; with `prune`, drop the initializers no node reads any more once
        something changed. Returns `changes` (what a rewrite reports)."""
        del self.graph.node[:]
        self.graph.node.extend(self.nodes)
        if prune and changes:
            _drop_unused(self.graph)
        return changes

    def constant(self, name: str):
        t = self.inits.get(name)
        return None if t is None else numpy_helper.to_array(t)

    def add_weight(self, array: np.ndarray, name: str) -> str:
        while name in self.inits:
            name += "_"
        t = numpy_helper.from_array(array, name)
        self.graph.initializer.append(t)
        self.inits[name] = t
        return name


def _attrs(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _set_attr(node, name: str, value) -> None:
    for a in node.attribute:
        if a.name == name:
            node.attribute.remove(a)
            break
    node.attribute.append(helper.make_attribute(name, value))


def _drop_unused(graph) -> None:
    """Remove initializers no node reads any more."""
    used = {i for n in graph.node for i in n.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def _tensor_types(proto: onnx.ModelProto) -> dict:
    """name → (element type, dims) for every tensor whose type is known or inferable; a dim is
    its value, its symbol or None."""
    inferred = onnx.shape_inference.infer_shapes(proto).graph
    found = {}
    for v in list(inferred.input) + list(inferred.output) + list(inferred.value_info):
        t = v.type.tensor_type
        dims = ([d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                 for d in t.shape.dim] if t.HasField("shape") else None)
        found[v.name] = (t.elem_type, dims)
    for t in inferred.initializer:
        found[t.name] = (t.data_type, list(t.dims))
    return found


def _forget_shapes(graph, names) -> None:
    """Drop value_info of tensors whose shape a rewrite changed (shape inference redoes it)."""
    keep = [v for v in graph.value_info if v.name not in names]
    del graph.value_info[:]
    graph.value_info.extend(keep)


def gathers_outward(proto: onnx.ModelProto) -> int:
    """Swap Gather(axis a, constant indices) with an adjacent Transpose when that moves the
    gather to an outer axis. Returns how many were moved."""
    graph = proto.graph
    g = _Graph(graph)
    moved = 0
    for node in list(g.nodes):
        if node.op_type != "Gather" or g.constant(node.input[1]) is None:
            continue
        if g.constant(node.input[1]).ndim != 1:
            continue
        axis = _attrs(node).get("axis", 0)
        after = g.only_consumer(node.output[0])
        before = g.producer(node.input[0])
        if after is not None and after.op_type == "Transpose":
            # Gather(x, a) → Transpose(p)  ≡  Transpose(p) → Gather(p.index(a))
            perm = list(_attrs(after)["perm"])
            new_axis = perm.index(axis % len(perm))
            if new_axis >= axis % len(perm):
                continue
            x, mid, y = node.input[0], node.output[0], after.output[0]
            after.input[0], after.output[0] = x, mid
            node.input[0], node.output[0] = mid, y
            _set_attr(node, "axis", new_axis)
            g.move_before(after, node)
        elif (before is not None and before.op_type == "Transpose"
              and g.only_consumer(before.output[0]) is node):
            # Transpose(p) → Gather(a)  ≡  Gather(p[a]) → Transpose(p)
            perm = list(_attrs(before)["perm"])
            new_axis = perm[axis % len(perm)]
            if new_axis >= axis % len(perm):
                continue
            x, mid, y = before.input[0], before.output[0], node.output[0]
            node.input[0], node.output[0] = x, mid
            before.input[0], before.output[0] = mid, y
            _set_attr(node, "axis", new_axis)
            g.move_before(node, before)
        else:
            continue
        _forget_shapes(graph, {node.output[0], node.input[0]})
        moved += 1
    return g.commit(moved)


def _upsampling_conv(g, resize):
    """The Conv(3×3, pad 1, stride 1) that is the only reader of `resize` if that is a nearest
    ×2 upsampling (asymmetric, floor: what torch's nearest interpolation exports), else None."""
    if resize.op_type != "Resize" or len(resize.input) < 3:
        return None
    conv = g.only_consumer(resize.output[0])
    scales = g.constant(resize.input[2])
    r, c = _attrs(resize), _attrs(conv) if conv is not None else {}
    if (conv is None or conv.op_type != "Conv" or scales is None
            or list(scales) != [1, 1, 2, 2] or r.get("mode") != b"nearest"
            or r.get("coordinate_transformation_mode") != b"asymmetric"
            or r.get("nearest_mode", b"round_prefer_floor") != b"floor"
            or list(c.get("kernel_shape", [])) != [3, 3]
            or list(c.get("pads", [0] * 4)) != [1, 1, 1, 1]
            or list(c.get("strides", [1, 1])) != [1, 1]
            or list(c.get("dilations", [1, 1])) != [1, 1] or c.get("auto_pad", b"NOTSET")
            not in (b"NOTSET", "NOTSET")):
        return None
    return conv


def _upsampling(g: _Graph, node):
    """(phase taps, the pads its conv must have) if `node` is a foldable ×2 upsampling."""
    a = _attrs(node)
    if node.op_type == "Resize" and len(node.input) >= 3:
        scales = g.constant(node.input[2])
        if (scales is not None and list(scales) == [1, 1, 2, 2]
                and a.get("mode", b"nearest") == b"nearest"
                and a.get("coordinate_transformation_mode") == b"asymmetric"
                and a.get("nearest_mode", b"round_prefer_floor") == b"floor"):
            return _PHASE, [1, 1, 1, 1]
    if node.op_type == "ConvTranspose" and len(node.input) == 2:
        w = g.constant(node.input[1])
        taps = np.array([0.25, 0.75, 0.75, 0.25])
        if (w is not None and w.ndim == 4 and w.shape[1:] == (1, 4, 4)
                and a.get("group", 1) == w.shape[0] and list(a.get("strides", [])) == [2, 2]
                and not any(a.get("pads", [])) and not any(a.get("output_padding", []))
                and list(a.get("dilations", [1, 1])) == [1, 1] and "output_shape" not in a
                and np.allclose(w, np.outer(taps, taps), atol=1e-7)):
            return _BILINEAR_PHASE, [0, 0, 0, 0]
    return None, None


def subpixel_upsampling(proto: onnx.ModelProto) -> int:
    """Replace Resize(nearest ×2, asymmetric, floor) → Conv(3×3, pad 1, stride 1, group 1), or
    bilinear_up2's ConvTranspose → Conv(3×3, pad 0, …), by Conv(3×3, 4·Cout outputs, pad 1) at
    the low resolution → DepthToSpace(2, CRD). (Depthwise convs stay: their sub-pixel form,
    4 outputs per group, measured 0.90× on mobile-sep.)"""
    graph = proto.graph
    g = _Graph(graph)
    replaced = 0
    for up in list(g.nodes):
        phase, pads = _upsampling(g, up)
        if phase is None:
            continue
        conv = g.only_consumer(up.output[0])
        c = _attrs(conv) if conv is not None else {}
        if (conv is None or conv.op_type != "Conv"
                or list(c.get("kernel_shape", [])) != [3, 3]
                or list(c.get("pads", [0] * 4)) != pads
                or list(c.get("strides", [1, 1])) != [1, 1]
                or list(c.get("dilations", [1, 1])) != [1, 1] or c.get("auto_pad", b"NOTSET")
                not in (b"NOTSET", "NOTSET")):
            continue
        c = _attrs(conv)
        weight = g.constant(conv.input[1])
        if weight is None or weight.ndim != 4 or c.get("group", 1) != 1:
            continue
        cout, cin = weight.shape[:2]
        phases = np.zeros((cout, 2, 2, cin, 3, 3))
        for dy in range(2):
            for dx in range(2):
                phases[:, dy, dx] = np.einsum("ij,ocjk,lk->ocil", phase[dy],
                                              weight.astype(np.float64), phase[dx])
        inputs = [up.input[0], g.add_weight(
            phases.reshape(4 * cout, cin, 3, 3).astype(weight.dtype), conv.input[1] + "_subpixel")]
        if len(conv.input) > 2 and conv.input[2]:
            bias = g.constant(conv.input[2])
            if bias is None:
                continue
            inputs.append(g.add_weight(np.repeat(bias, 4).astype(bias.dtype),
                                       conv.input[2] + "_subpixel"))
        low = conv.output[0] + "_subpixel"
        new_conv = helper.make_node("Conv", inputs, [low], name=conv.name + "_subpixel",
                                    kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        d2s = helper.make_node("DepthToSpace", [low], [conv.output[0]],
                               name=conv.name + "_depth_to_space", blocksize=2, mode="CRD")
        at = g.index(conv)
        g.nodes[at:at + 1] = [new_conv, d2s]
        del g.nodes[g.index(up)]
        _forget_shapes(graph, {up.output[0]})
        replaced += 1
    return g.commit(replaced, prune=True)


def _per_channel(dims, c: int) -> bool:
    """A known N×C×1×1 (or 1×C×1×1) shape: one value per channel and example."""
    return dims is not None and len(dims) == 4 and dims[1] == c and dims[2] == dims[3] == 1


def norms_before_depth_to_space(proto: onnx.ModelProto) -> int:
    """DepthToSpace(b, CRD) → InstanceNormalization(scale 1, bias 0) [→ Mul γ → Add β, per
    channel] becomes Reshape(N×C×b²H×W) → the norm [→ Mul → Add] → Reshape back →
    DepthToSpace. The same function: CRD keeps each output channel's b² phases in one block,
    so the view holds exactly that channel's pixels, reordered. OpenVINO normalised the
    3-channel full-resolution output in 1.5 ms and the view in 0.1 (issue 15)."""
    graph = proto.graph
    types = _tensor_types(proto)
    g = _Graph(graph)
    moved = 0
    for d2s in list(g.nodes):
        a = _attrs(d2s)
        if d2s.op_type != "DepthToSpace" or a.get("mode", b"DCR") != b"CRD":
            continue
        norm = g.only_consumer(d2s.output[0])
        if norm is None or norm.op_type != "InstanceNormalization" or len(norm.input) != 3 \
                or norm.input[0] != d2s.output[0]:
            continue
        scale, bias = g.constant(norm.input[1]), g.constant(norm.input[2])
        if scale is None or bias is None or scale.ndim != 1 or np.any(scale != 1) \
                or np.any(bias != 0):
            continue
        c, b = scale.size, a["blocksize"]
        chain = [norm]
        for op in ("Mul", "Add"):  # the CIN's γ and β come along when they are per channel
            nxt = g.only_consumer(chain[-1].output[0])
            if nxt is None or nxt.op_type != op:
                break
            other = [i for i in nxt.input if i != chain[-1].output[0]]
            if len(other) != 1 or not _per_channel((types.get(other[0]) or (None, None))[1], c):
                break
            chain.append(nxt)
        last, out = chain[-1], chain[-1].output[0]
        name = d2s.name or out
        view = g.add_weight(np.array([0, c, -1, 0], np.int64), f"{name}_phases")
        back = g.add_weight(np.array([0, b * b * c, -1, 0], np.int64), f"{name}_back")
        norm.input[0] = out + "_phases_in"
        last.output[0] = out + "_phases_out"
        g.nodes[g.index(d2s)] = helper.make_node("Reshape", [d2s.input[0], view],
                                                 [norm.input[0]], name=name + "_phases")
        tail = [helper.make_node("Reshape", [last.output[0], back], [out + "_phases_back"],
                                 name=name + "_back"),
                helper.make_node("DepthToSpace", [out + "_phases_back"], [out], name=name,
                                 blocksize=b, mode="CRD")]
        at = g.index(last) + 1
        g.nodes[at:at] = tail
        _forget_shapes(graph, {d2s.output[0]} | {n.output[0] for n in chain})
        moved += 1
    return g.commit(moved, prune=True)


def _same_dim(a, b) -> bool:
    return a is not None and a == b


def fused_cin(proto: onnx.ModelProto) -> int:
    """InstanceNormalization(x, 1, 0) → Mul(γ) → Add(β), γ and β N×C×1×1, becomes
    Reshape(x, 1×(N·C)×H×W) → InstanceNormalization(scale γ, bias β flattened to N·C) →
    Reshape back. CPU only: TensorRT needs instance-norm scales that are weights."""
    graph = proto.graph
    types = _tensor_types(proto)
    g = _Graph(graph)
    fused = 0
    for norm in list(g.nodes):
        if norm.op_type != "InstanceNormalization" or len(norm.input) != 3:
            continue
        scale, bias = g.constant(norm.input[1]), g.constant(norm.input[2])
        if scale is None or bias is None or scale.ndim != 1 or np.any(scale != 1) \
                or np.any(bias != 0):
            continue
        mul = g.only_consumer(norm.output[0])
        add = g.only_consumer(mul.output[0]) if mul is not None and mul.op_type == "Mul" else None
        if add is None or add.op_type != "Add" or mul.input[0] == mul.input[1]:
            continue
        gamma = mul.input[1] if mul.input[0] == norm.output[0] else mul.input[0]
        beta = add.input[1] if add.input[0] == mul.output[0] else add.input[0]
        c = scale.size
        x = (types.get(norm.input[0]) or (None, None))[1]
        if x is None or len(x) != 4 or x[1] != c:
            continue
        per_example = [x[0], c, 1, 1]
        if not all(len(d or ()) == 4 and _same_dim(d[0], x[0]) and list(d[1:]) == per_example[1:]
                   for d in ((types.get(t) or (None, None))[1] for t in (gamma, beta))):
            continue
        name = norm.name or norm.output[0]
        view, flat, back = (g.add_weight(np.array(v, np.int64), f"{name}_{what}") for v, what in
                            (([1, -1, 0, 0], "view"), ([-1], "flat"), ([-1, c, 0, 0], "back")))
        out = add.output[0]
        nodes = [helper.make_node("Reshape", [norm.input[0], view], [out + "_view"],
                                  name=name + "_view"),
                 helper.make_node("Reshape", [gamma, flat], [out + "_scale"],
                                  name=name + "_scale"),
                 helper.make_node("Reshape", [beta, flat], [out + "_bias"], name=name + "_bias"),
                 helper.make_node("InstanceNormalization",
                                  [out + "_view", out + "_scale", out + "_bias"],
                                  [out + "_fused"], name=name + "_fused",
                                  epsilon=_attrs(norm).get("epsilon", 1e-5)),
                 helper.make_node("Reshape", [out + "_fused", back], [out], name=name + "_back")]
        at = g.index(add)  # γ and β are computed by then
        g.nodes[at:at + 1] = nodes
        del g.nodes[g.index(mul)]
        del g.nodes[g.index(norm)]
        _forget_shapes(graph, {norm.output[0], mul.output[0]})
        fused += 1
    return g.commit(fused, prune=True)


def one_crop(proto: onnx.ModelProto) -> int:
    """Slice → Slice on other axes (constant axes and steps) becomes one Slice."""
    graph = proto.graph
    types = _tensor_types(proto)
    g = _Graph(graph)
    merged = 0
    for second in list(g.nodes):
        first = g.producer(second.input[0]) if second.op_type == "Slice" else None
        if first is None or first.op_type != "Slice" or g.only_consumer(first.output[0]) \
                is not second or len(first.input) < 4 or len(second.input) < 4:
            continue
        axes = [g.constant(n.input[3]) for n in (first, second)]
        steps = [g.constant(n.input[4]) if len(n.input) > 4 and n.input[4]
                 else np.ones_like(a) for n, a in zip((first, second), axes)]
        if any(a is None or a.ndim != 1 or (a < 0).any() for a in axes) \
                or any(s is None for s in steps) or set(axes[0]) & set(axes[1]):
            continue
        bounds = [first.input[1], second.input[1], first.input[2], second.input[2]]
        if len({(types.get(b) or (None,))[0] for b in bounds}) != 1 or \
                (types.get(bounds[0]) or (None,))[0] is None:
            continue
        out = second.output[0]
        starts = helper.make_node("Concat", bounds[:2], [out + "_starts"], axis=0,
                                  name=out + "_starts")
        ends = helper.make_node("Concat", bounds[2:], [out + "_ends"], axis=0,
                                name=out + "_ends")
        axes_name = g.add_weight(np.concatenate(axes).astype(np.int64), out + "_axes")
        steps_name = g.add_weight(np.concatenate(steps).astype(np.int64), out + "_steps")
        crop = helper.make_node("Slice", [first.input[0], out + "_starts", out + "_ends",
                                          axes_name, steps_name], [out], name=out + "_crop")
        g.nodes[g.index(second):g.index(second) + 1] = [starts, ends, crop]
        del g.nodes[g.index(first)]
        _forget_shapes(graph, {first.output[0]})
        merged += 1
    return g.commit(merged, prune=True)


def _scalar(g, name):
    value = g.constant(name) if name else None
    return None if value is None or value.size != 1 else float(value.reshape(()))


def drop_clip(proto: onnx.ModelProto) -> int:
    """Remove Clip(lo ≤ 0, hi ≥ c) after Round(Sigmoid(z) × c), c a whole number: the rounded
    value is already in 0 … c."""
    graph = proto.graph
    g = _Graph(graph)
    dropped = 0
    for clip in list(g.nodes):
        if clip.op_type != "Clip" or len(clip.input) < 3:
            continue
        rnd = g.producer(clip.input[0])
        mul = g.producer(rnd.input[0]) if rnd is not None and rnd.op_type == "Round" else None
        if mul is None or mul.op_type != "Mul":
            continue
        c = next((v for v in (_scalar(g, i) for i in mul.input) if v is not None), None)
        sig = [g.producer(i) for i in mul.input if g.constant(i) is None]
        lo, hi = _scalar(g, clip.input[1]), _scalar(g, clip.input[2])
        if c is None or c <= 0 or c != round(c) or len(sig) != 1 or sig[0] is None \
                or sig[0].op_type != "Sigmoid" or lo is None or hi is None or lo > 0 or hi < c:
            continue
        out = clip.output[0]
        if out in g.outputs and g.only_consumer(rnd.output[0]) is clip:
            rnd.output[0] = out
        elif out in g.outputs:
            continue
        else:
            for n in g.consumers(out):
                n.input[:] = [rnd.output[0] if i == out else i for i in n.input]
        del g.nodes[g.index(clip)]
        dropped += 1
    return g.commit(dropped, prune=True)


_MOVES = {"Transpose", "Gather", "DepthToSpace", "SpaceToDepth"}  # data movement only


def _moves_data(g, node) -> bool:
    """A node that only moves input 0's elements about (a Gather with constant indices)."""
    return node.op_type in _MOVES and (node.op_type != "Gather" or
                                       g.constant(node.input[1]) is not None)


def uint8_moves(proto: onnx.ModelProto) -> int:
    """Data movement next to a Cast moves to its narrower side: Cast(uint8 → float) →
    Transpose becomes Transpose → Cast, Transpose → Cast(float → uint8) becomes Cast →
    Transpose. Exact (a cast is elementwise). CPU only: TensorRT takes uint8 only at the edges."""
    graph = proto.graph
    types = _tensor_types(proto)
    g = _Graph(graph)
    size = {t: np.dtype(helper.tensor_dtype_to_np_dtype(t)).itemsize
            for t in (onnx.TensorProto.UINT8, onnx.TensorProto.INT8, onnx.TensorProto.FLOAT16,
                      onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE)}
    moved, changed = 0, True
    while changed:
        changed = False
        for cast in [n for n in g.nodes if n.op_type == "Cast"]:
            src_type, dst_type = _cast_source(cast, types), _attrs(cast).get("to")
            src, dst = size.get(src_type), size.get(dst_type)
            if src is None or dst is None or src == dst:
                continue
            if src < dst:  # widening: pull the following move before the cast
                move = g.only_consumer(cast.output[0])
                if move is None or not _moves_data(g, move) or move.input[0] != cast.output[0]:
                    continue
                x, mid, y = cast.input[0], cast.output[0], move.output[0]
                move.input[0], move.output[0] = x, mid
                cast.input[0], cast.output[0] = mid, y
                g.move_before(move, cast)
            else:  # narrowing: push the preceding move after the cast
                move = g.producer(cast.input[0])
                if move is None or not _moves_data(g, move) or \
                        g.only_consumer(move.output[0]) is not cast:
                    continue
                x, mid, y = move.input[0], move.output[0], cast.output[0]
                cast.input[0], cast.output[0] = x, mid
                move.input[0], move.output[0] = mid, y
                g.move_before(cast, move)
            types[mid] = (dst_type if src > dst else src_type, None)
            _forget_shapes(graph, {mid})
            moved += 1
            changed = True
    return g.commit(moved)


def _cast_source(cast, types):
    """The element type a Cast reads."""
    known = types.get(cast.input[0])
    return known[0] if known else None


# ConvTranspose(4×4, stride 2, pad 1) taps k = 0…3 as sums of the full-resolution 3×3 taps
# t = 0…2 that a nearest ×2 upsampling folds onto one low-resolution pixel.
_TRANSPOSED = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], np.float64)


def transposed_upsampling(proto: onnx.ModelProto, grouped: bool = False,
                          min_outputs: int = 1) -> int:
    """Replace Resize(nearest ×2) → Conv(3×3, pad 1) by ConvTranspose(4×4, stride 2, pad 1):
    the same function with only the multiply-adds that are not zero (subpixel's 3×3 per phase
    computes 9 taps where 4 differ from zero), and no DepthToSpace. Faster on ONNX Runtime's
    CPU for dense convs (benchmarks/RESULTS.md, issue 15), so in CPU before `subpixel`.
    grouped: depthwise convs too (slower there: not in CPU). min_outputs: leave convs with
    fewer output channels alone (CPU: 4, the 3-channel output layer gained nothing)."""
    graph = proto.graph
    g = _Graph(graph)
    replaced = 0
    for resize in list(g.nodes):
        conv = _upsampling_conv(g, resize)
        weight = None if conv is None else g.constant(conv.input[1])
        group = _attrs(conv).get("group", 1) if conv is not None else 1
        if weight is None or weight.ndim != 4 or (group != 1 and not grouped) \
                or weight.shape[0] < min_outputs:
            continue
        cout, cin_g = weight.shape[:2]
        cout_g = cout // group
        taps = np.einsum("ai,ocij,bj->ocab", _TRANSPOSED, weight.astype(np.float64), _TRANSPOSED)
        # Conv weight [Cout, Cin/g, ...] → ConvTranspose weight [Cin, Cout/g, ...]
        wt = taps.reshape(group, cout_g, cin_g, 4, 4).transpose(0, 2, 1, 3, 4)
        inputs = [resize.input[0], g.add_weight(
            wt.reshape(group * cin_g, cout_g, 4, 4).astype(weight.dtype),
            conv.input[1] + "_transposed")]
        if len(conv.input) > 2 and conv.input[2]:
            if g.constant(conv.input[2]) is None:
                continue
            inputs.append(conv.input[2])
        new = helper.make_node("ConvTranspose", inputs, [conv.output[0]],
                               name=conv.name + "_transposed", kernel_shape=[4, 4],
                               strides=[2, 2], pads=[1, 1, 1, 1], group=group)
        g.nodes[g.index(conv)] = new
        del g.nodes[g.index(resize)]
        _forget_shapes(graph, {resize.output[0]})
        replaced += 1
    return g.commit(replaced, prune=True)


PASSES = {"gathers": gathers_outward, "subpixel": subpixel_upsampling,
          "phasenorm": norms_before_depth_to_space, "crop": one_crop,
          "clip": drop_clip, "cin": fused_cin, "uint8": uint8_moves,
          "transposed": transposed_upsampling,
          "transposed_dw": functools.partial(transposed_upsampling, grouped=True),
          "transposed_inner": functools.partial(transposed_upsampling, min_outputs=4)}
PORTABLE = ("gathers", "subpixel", "phasenorm", "crop", "clip")  # what TensorRT parses too
# ONNX Runtime only. transposed_inner before subpixel: dense upsampling convs with ≥ 4 outputs
# become ConvTranspose (faster there than sub-pixel conv + DepthToSpace); the 3-channel output
# layer measured no faster that way (0.97–1.03×), so subpixel still takes it.
CPU = ("gathers", "transposed_inner", "subpixel", "phasenorm", "crop", "clip", "cin", "uint8")


def optimize(proto: onnx.ModelProto, passes=PORTABLE) -> tuple[onnx.ModelProto, dict]:
    """A rewritten copy of `proto` and how many rewrites each pass made (in `passes` order)."""
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    counts = {name: PASSES[name](out) for name in passes}
    return out, counts


def optimize_file(src, dst, passes=PORTABLE, tolerance: int = 1, log=print) -> dict:
    """Rewrite an exported model (no torch needed), checked against the original in ONNX
    Runtime on noise frames at several sizes; metadata kept, graph hash renewed."""
    from pathlib import Path

    from export import parity
    from export.metadata import embed, read
    from export.onnx_export import cpu_session
    from rt_style.atomic import write_bytes
    from rt_style.contract import ModelInfo
    from rt_style.errors import UserError

    proto = onnx.load(str(src))
    meta = read(proto)
    if meta is None:
        raise UserError(f"{src} is not an rtstyle model")
    info = ModelInfo.from_dict(meta)
    fast, counts = optimize(proto, passes)
    fast = embed(fast, info)
    onnx.checker.check_model(fast, full_check=True)
    data = fast.SerializeToString()
    diffs = parity.compare(parity.session_runner(cpu_session(data)),
                            parity.session_runner(cpu_session(proto.SerializeToString())),
                            parity.noise_feeds(info))
    worst = max(d.max for d in diffs)
    if worst > tolerance:
        raise UserError(f"the rewritten graph differs by {worst} > {tolerance}; nothing written")
    write_bytes(Path(dst), data)
    log(f"wrote {dst}: {counts}, vs the original {parity.report(diffs)}")
    return counts


if __name__ == "__main__":
    import sys

    args = [a for a in sys.argv[1:] if a != "--cpu"]
    if len(args) != 2:
        sys.exit("usage: python -m export.optimize IN.onnx OUT.onnx [--cpu]\n"
                 "  --cpu: also the rewrites only ONNX Runtime's CPU provider runs")
    optimize_file(args[0], args[1], CPU if "--cpu" in sys.argv else PORTABLE)

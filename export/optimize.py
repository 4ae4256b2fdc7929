"""Graph rewrites that make the exported model faster on ONNX Runtime's CPU provider, exactly
(the same function; float rounding aside), with no retraining. Measured in benchmarks/RESULTS.md.

- `gathers_outward`: the contract's BGR↔RGB channel swap is a Gather on the last axis of an
  N×H×W×3 tensor, which ONNX Runtime copies element by element (14 % of the fast preset's time
  at 640×480). Moved to the other side of the adjacent NHWC↔NCHW Transpose it becomes a Gather
  on axis 1, three contiguous plane copies.
- `subpixel_upsampling`: nearest ×2 upsampling followed by a 3×3 convolution is the same as a
  3×3 convolution at the low resolution with 4× the output channels (one per output phase),
  then DepthToSpace. The same useful arithmetic, but no Resize and a 4× smaller (and, for the
  3-channel output layer, far less padded) convolution input.

The exporter validates the rewritten graph against PyTorch like any other.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

# Phase d of a nearest ×2 upsampling seen by 3 taps at offsets −1, 0, +1 (full resolution):
# which low-resolution taps (rows) each full-resolution tap (column) lands on.
_PHASE = (np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]], np.float64),
          np.array([[0, 0, 0], [1, 1, 0], [0, 0, 1]], np.float64))


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

    def commit(self) -> None:
        del self.graph.node[:]
        self.graph.node.extend(self.nodes)

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
    g.commit()
    return moved


def subpixel_upsampling(proto: onnx.ModelProto) -> int:
    """Replace Resize(nearest ×2, asymmetric, floor) → Conv(3×3, pad 1, stride 1, group 1)
    by Conv(3×3, 4·Cout outputs) at the low resolution → DepthToSpace(2, CRD)."""
    graph = proto.graph
    g = _Graph(graph)
    replaced = 0
    for resize in list(g.nodes):
        if resize.op_type != "Resize" or len(resize.input) < 3:
            continue
        conv = g.only_consumer(resize.output[0])
        scales = g.constant(resize.input[2])
        r, c = _attrs(resize), _attrs(conv) if conv is not None else {}
        if (conv is None or conv.op_type != "Conv" or scales is None
                or list(scales) != [1, 1, 2, 2] or r.get("mode") != b"nearest"
                or r.get("coordinate_transformation_mode") != b"asymmetric"
                or r.get("nearest_mode", b"round_prefer_floor") != b"floor"
                or list(c.get("kernel_shape", [])) != [3, 3]
                or list(c.get("pads", [0] * 4)) != [1, 1, 1, 1] or c.get("group", 1) != 1
                or list(c.get("strides", [1, 1])) != [1, 1]
                or list(c.get("dilations", [1, 1])) != [1, 1] or c.get("auto_pad", b"NOTSET")
                not in (b"NOTSET", "NOTSET")):
            continue
        weight = g.constant(conv.input[1])
        if weight is None or weight.ndim != 4:
            continue
        cout, cin = weight.shape[:2]
        phases = np.zeros((cout, 2, 2, cin, 3, 3))
        for dy in range(2):
            for dx in range(2):
                phases[:, dy, dx] = np.einsum("ij,ocjk,lk->ocil", _PHASE[dy],
                                              weight.astype(np.float64), _PHASE[dx])
        inputs = [resize.input[0], g.add_weight(
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
        del g.nodes[g.index(resize)]
        _forget_shapes(graph, {resize.output[0]})
        replaced += 1
    g.commit()
    if replaced:
        used = {i for n in graph.node for i in n.input}
        keep = [t for t in graph.initializer if t.name in used]
        del graph.initializer[:]
        graph.initializer.extend(keep)
    return replaced


PASSES = {"gathers": gathers_outward, "subpixel": subpixel_upsampling}


def optimize(proto: onnx.ModelProto, passes=tuple(PASSES)) -> tuple[onnx.ModelProto, dict]:
    """A rewritten copy of `proto` and how many rewrites each pass made."""
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    counts = {name: PASSES[name](out) for name in passes}
    return out, counts


def optimize_file(src, dst, passes=tuple(PASSES), tolerance: int = 1, log=print) -> dict:
    """Rewrite an exported model (no torch needed), checked against the original in ONNX
    Runtime on noise frames at several sizes; metadata kept, graph hash renewed."""
    from pathlib import Path

    from export import parity
    from export.atomic import write_bytes
    from export.metadata import embed, read
    from export.onnx_export import cpu_session
    from rt_style.errors import UserError

    proto = onnx.load(str(src))
    info = read(proto)
    if info is None:
        raise UserError(f"{src} is not an rtstyle model")
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

    if len(sys.argv) != 3:
        sys.exit("usage: python -m export.optimize IN.onnx OUT.onnx")
    optimize_file(sys.argv[1], sys.argv[2])

"""A CPU-side check that a graph uses only what TensorRT 10's ONNX parser accepts.

Engines are built on the user's GPU, often long after export; a graph TensorRT cannot parse
should be caught where it is made. The rules follow the onnx-tensorrt operator matrix for
TensorRT 10: an explicit list of allowed ops, and the attribute and input forms the parser
needs (instance-norm scale/bias as weights, constant axes, supported pad and resize modes,
symmetric quantization, uint8 only at the graph's edges).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

OPSETS = range(9, 21)  # TensorRT 10.0 parses opsets 9 to 20

ALLOWED_OPS = frozenset("""
    Abs Add AveragePool Cast Ceil Clip Concat Constant ConstantOfShape Conv ConvTranspose
    DepthToSpace DequantizeLinear Div Equal Erf Exp Expand Flatten Floor Gather GatherElements
    GatherND Gemm GlobalAveragePool Greater GreaterOrEqual HardSigmoid HardSwish Identity
    InstanceNormalization LeakyRelu Less LessOrEqual Log MatMul Max Min Mod Mul Neg Not Pad Pow
    QuantizeLinear Range Reciprocal ReduceMax ReduceMean ReduceMin ReduceSum Relu Reshape Resize
    Round Shape Sigmoid Sign Slice Softplus SpaceToDepth Split Sqrt Squeeze Sub Sum Tanh Tile
    Transpose Unsqueeze Where
""".split())

TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.INT32,
         TensorProto.INT64, TensorProto.INT8, TensorProto.UINT8, TensorProto.BOOL}

# the two forms export.optimize.CPU (`rtstyle export --cpu-only`) writes on purpose
CPU_ONLY = "; a --cpu-only export: export without it for TensorRT"
WEIGHT_INPUTS = {"InstanceNormalization": (1, 2)}  # must be initializers or Constant nodes
CONSTANT_INPUTS = {"Conv": (1,), "ConvTranspose": (1,), "Squeeze": (1,), "Unsqueeze": (1,),
                   "Slice": (3,)}  # must be computable from weights alone
ATTRIBUTES = {
    ("Pad", "mode"): {"constant", "reflect", "edge"},
    ("Resize", "mode"): {"nearest", "linear"},
    ("Resize", "coordinate_transformation_mode"): {
        "half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"},
    ("Resize", "nearest_mode"): {"floor", "ceil", "round_prefer_floor", "round_prefer_ceil"},
}


def _attribute(node, name):
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return None


def _weights_and_constants(graph) -> tuple[set, set]:
    """Weights (initializers, Constant outputs), and every tensor computed from weights alone."""
    weights = {t.name for t in graph.initializer}
    weights |= {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    constants = set(weights)
    for node in graph.node:  # nodes are topologically sorted in a valid model
        if all(i in constants for i in node.input if i):
            constants.update(node.output)
    return weights, constants


def _zero_points_nonzero(node, graph) -> bool:
    if len(node.input) < 3 or not node.input[2]:
        return False
    for t in graph.initializer:
        if t.name == node.input[2]:
            return bool(np.any(numpy_helper.to_array(t)))
    return True  # a zero point that is not a weight cannot be checked: treat it as unsupported


def trt_problems(proto: onnx.ModelProto) -> list[str]:
    """Everything in `proto` that TensorRT 10 would reject; an empty list means it should parse."""
    problems = []
    for op in proto.opset_import:
        if op.domain in ("", "ai.onnx") and op.version not in OPSETS:
            problems.append(f"opset {op.version} is outside TensorRT 10's {OPSETS[0]}–{OPSETS[-1]}")
        elif op.domain not in ("", "ai.onnx"):
            problems.append(f"operators from domain {op.domain!r} (only standard ONNX ops parse)")
    graph = onnx.shape_inference.infer_shapes(proto).graph
    weights, constants = _weights_and_constants(graph)
    edges = {v.name for v in list(graph.input) + list(graph.output)}
    for v in list(graph.input) + list(graph.output) + list(graph.value_info):
        t = v.type.tensor_type.elem_type
        if t not in TYPES:
            problems.append(f"tensor {v.name} has type {TensorProto.DataType.Name(t)}")
        elif t == TensorProto.UINT8 and v.name not in edges:
            problems.append(f"uint8 tensor {v.name} inside the graph (only inputs/outputs"
                            f"{CPU_ONLY})")
    for node in graph.node:
        where = f"{node.op_type} node {node.name or node.output[0]}"
        if node.op_type not in ALLOWED_OPS:
            problems.append(f"{where}: op not supported")
            continue
        for i in WEIGHT_INPUTS.get(node.op_type, ()):
            if i < len(node.input) and node.input[i] not in weights:
                problems.append(f"{where}: input {i} must be a weight (initializer or "
                                f"Constant{CPU_ONLY})")
        for i in CONSTANT_INPUTS.get(node.op_type, ()):
            if i < len(node.input) and node.input[i] and node.input[i] not in constants:
                problems.append(f"{where}: input {i} must be constant")
        for (op, name), allowed in ATTRIBUTES.items():
            value = _attribute(node, name) if op == node.op_type else None
            if value is not None and value not in allowed:
                problems.append(f"{where}: {name}={value!r} is not supported")
        if node.op_type == "Cast" and _attribute(node, "to") not in TYPES:
            problems.append(f"{where}: cast to an unsupported type")
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and \
                _zero_points_nonzero(node, graph):
            problems.append(f"{where}: zero point must be 0 (symmetric quantization)")
    return problems

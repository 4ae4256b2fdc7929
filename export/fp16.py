"""FP16 weights and activations, instance norm kept in FP32.

Instance norm divides by a per-channel standard deviation computed over the whole frame; in
FP16 its sums overflow or lose the small variances, so those nodes stay FP32 (with casts around
them), exactly as the TensorRT build pins them.
"""

from __future__ import annotations

import onnx
import onnx_ir as ir
from onnxscript.optimizer import fold_constants

from rt_style.errors import UserError

KEEP_FP32 = ["InstanceNormalization"]


def to_fp16(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Convert with the converter bundled in onnxruntime, else onnxconverter-common's."""
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError:
        try:
            from onnxconverter_common.float16 import convert_float_to_float16
        except ImportError:
            raise UserError("--fp16 needs onnxruntime (with its transformers tools) or "
                            "onnxconverter-common: pip install onnxconverter-common") from None
    copy = onnx.ModelProto()
    copy.CopyFrom(proto)  # the converter edits its argument in place
    half = convert_float_to_float16(copy, keep_io_types=True, op_block_list=KEEP_FP32)
    # The converter appends its input casts after their users and leaves stale value_info
    # types, which onnx.checker rejects; and it feeds the FP32 nodes' FP16 weights through
    # Casts, where TensorRT wants instance norm's scale and bias as plain weights. So: drop the
    # types, sort the nodes, and fold the casts of weights back into FP32 weights.
    del half.graph.value_info[:]
    model = ir.from_proto(half)
    model.graph.sort()
    fold_constants(model)
    return ir.to_proto(model)

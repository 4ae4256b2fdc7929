"""Export: checkpoint → ONNX model (α as an input tensor) → TensorRT engine.

`onnx_export` traces the StyleNet inside its uint8 frame wrapper (`graph`) with torch.export,
embeds the model's description (`metadata`, rt_style.contract's ModelInfo), validates against
PyTorch (`parity`) and writes atomically (rt_style.atomic); `fp16` and `int8` derive
lower-precision variants; `trt_check` verifies the graph on the CPU against what TensorRT 10
parses and `tensorrt` builds and caches engines on the GPU.
"""

"""Export: checkpoint → ONNX model (α as an input tensor) → TensorRT engine.

`onnx_export` traces the model contract (`contract`) with torch.export, embeds the metadata
(`metadata`), validates against PyTorch (`parity`) and writes atomically (`atomic`); `fp16` and
`int8` derive lower-precision variants; `trt_check` verifies the graph on the CPU against what
TensorRT 10 parses and `tensorrt` builds and caches engines on the GPU.
"""

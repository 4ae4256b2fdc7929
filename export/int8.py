"""Static int8 quantization with ONNX Runtime, calibrated on a folder of photos.

QDQ format with symmetric int8 scales (zero points 0), per-channel weights: the form both ONNX
Runtime and TensorRT execute as int8. Only convolutions are quantized; Λ, instance norm and the
contract's pre/post-processing stay in float, since they are cheap and sensitive.
"""

from __future__ import annotations

import logging
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
from PIL import ImageOps

from export.parity import conditioning
from rt_style.contract import IMAGE, ModelInfo
from rt_style.errors import UserError

CALIB_SIZE = (320, 240)  # W×H calibration photos are cropped and resized to


def calibration_frames(folder, limit: int, size=CALIB_SIZE) -> list[np.ndarray]:
    """Up to `limit` photos from `folder` as uint8 BGR H×W×3 frames."""
    from train.data import UNREADABLE, find_images, load_rgb

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"calibration folder not found: {folder}")
    frames = []
    for path in find_images(folder):
        if len(frames) >= limit:
            break
        try:
            frames.append(np.asarray(ImageOps.fit(load_rgb(path), size))[..., ::-1].copy())
        except UNREADABLE:
            continue  # unreadable files do not stop a calibration run
    if not frames:
        raise UserError(f"no readable images in calibration folder {folder}")
    return frames


def calibration_feeds(frames: list[np.ndarray], info: ModelInfo, seed: int = 0) -> list[dict]:
    """One feed per photo, each with its own random α (and style mixture)."""
    rng = np.random.default_rng(seed)
    return [{IMAGE: f[None], **conditioning(rng, 1, info)} for f in frames]


@contextmanager
def _quiet():
    """The quantizer logs advice (pre-processing, opset) through the root logger."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def quantize(proto: onnx.ModelProto, feeds: list[dict]) -> onnx.ModelProto:
    """QDQ int8 model calibrated (min/max) on `feeds`."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    with tempfile.TemporaryDirectory() as tmp, _quiet():
        out = Path(tmp) / "int8.onnx"
        quantize_static(proto, out, Reader(), quant_format=QuantFormat.QDQ,
                        op_types_to_quantize=["Conv"], per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
        return onnx.load(out)

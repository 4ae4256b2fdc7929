"""CUDA training path: mixed precision and channels-last. Skips on machines without a GPU."""

import math

import pytest
import torch

from tests.conftest import tiny_config
from train.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA GPU on this machine: the AMP/channels-last path "
                                       "is exercised only where one is present")


@pytest.mark.gpu
def test_cuda_amp_channels_last_step(photo_dir, style_images, tmp_path):
    cfg = tiny_config(photo_dir, style_images, tmp_path, steps=4, device="cuda", amp=True,
                      channels_last="auto")
    trainer = Trainer(cfg)
    assert trainer.amp_dtype in (torch.bfloat16, torch.float16) and trainer.channels_last
    result = trainer.fit()
    assert math.isfinite(result["loss"])
    assert next(trainer.model.parameters()).is_cuda

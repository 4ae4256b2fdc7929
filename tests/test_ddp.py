"""`torchrun --nproc_per_node=2 rtstyle train …` runs DistributedDataParallel on CPU (gloo)."""

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_two_process_gloo_run_stays_in_sync(photo_dir, style_images, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "rt_style.cli", "train", "-c", str(photo_dir), "-s", str(style_images[0]),
           "-o", str(tmp_path), "--steps", "6", "--crop-size", "32", "--batch-size", "2",
           "--style-size", "48", "--workers", "0", "--checkpoint-every", "3", "--log-every", "1",
           "--no-tensorboard", "--stability-weight", "1"]  # its second pass of T too
    env = dict(os.environ, TQDM_DISABLE="1", OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 ranks in sync: parameter hash" in r.stderr
    # only rank 0 writes: one metrics line per step, one checkpoint
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 6 and all('"stability"' in line for line in lines)
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["last.pt"]

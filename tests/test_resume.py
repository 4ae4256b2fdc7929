"""Killed with SIGKILL and resumed, a run produces exactly the losses of an uninterrupted one."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import ROOT, run_cli


def train_args(photo_dir, style, out, steps):
    return ["train", "-c", photo_dir, "-s", style, "-o", out, "--steps", steps, "--crop-size", 48,
            "--batch-size", 2, "--style-size", 48, "--workers", 0, "--checkpoint-every", 5,
            "--sample-every", 1000, "--log-every", 1, "--no-tensorboard"]


def losses(out):
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows}


def start(args, **popen):
    env = dict(os.environ, TQDM_DISABLE="1")
    return subprocess.Popen([sys.executable, "-m", "rt_style.cli", *map(str, args)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)


def wait_for_step(proc, out, step, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if (out / "metrics.jsonl").exists() and max(losses(out), default=0) >= step:
            return
        if proc.poll() is not None:
            pytest.fail(f"run ended early: {proc.stderr.read()}")
        time.sleep(0.02)
    pytest.fail("run too slow")


def test_sigkill_then_resume_matches_uninterrupted(photo_dir, style_images, tmp_path):
    steps = 40
    ref = tmp_path / "ref"
    r = run_cli(*train_args(photo_dir, style_images[0], ref, steps))
    assert r.returncode == 0, r.stderr
    expected = losses(ref)

    run = tmp_path / "killed"
    proc = start(train_args(photo_dir, style_images[0], run, steps))
    wait_for_step(proc, run, 12)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ckpt_step = torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"]
    assert 10 <= ckpt_step < steps and ckpt_step % 5 == 0

    r = run_cli(*train_args(photo_dir, style_images[0], run, steps), "--resume")
    assert r.returncode == 0, r.stderr
    got = losses(run)
    assert sorted(got) == list(range(1, steps + 1))  # lines after the checkpoint were replaced
    for s in range(1, steps + 1):
        assert got[s] == expected[s], f"step {s}: {got[s]} != {expected[s]}"


def test_ctrl_c_saves_a_checkpoint_at_the_current_step(photo_dir, style_images, tmp_path):
    proc = start(train_args(photo_dir, style_images[0], tmp_path, 10_000))
    wait_for_step(proc, tmp_path, 3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    ck = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert ck["step"] == max(losses(tmp_path))
    assert "continue with --resume" in err


def test_sigterm_to_the_process_group_still_saves_a_checkpoint(photo_dir, style_images,
                                                               tmp_path):
    """`kill -- -PGID` (or a service manager) also hits the data loader's worker processes."""
    args = train_args(photo_dir, style_images[0], tmp_path, 10_000)
    args[args.index("--workers") + 1] = 1
    proc = start(args, start_new_session=True)
    wait_for_step(proc, tmp_path, 3)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "killed by signal" not in err
    ck = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert ck["step"] == max(losses(tmp_path))


def test_resume_refuses_to_change_the_network(photo_dir, style_images, tmp_path):
    r = run_cli(*train_args(photo_dir, style_images[0], tmp_path, 2))
    assert r.returncode == 0, r.stderr
    r = run_cli(*train_args(photo_dir, style_images[0], tmp_path, 4), "--resume",
                "--preset", "paper")
    assert r.returncode == 2 and "cannot change preset" in r.stderr
    r = run_cli(*train_args(photo_dir, style_images[0], tmp_path, 4), "--resume")
    assert r.returncode == 0, r.stderr
    assert max(losses(tmp_path)) == 4


def test_resume_takes_a_new_learning_rate(photo_dir, style_images, tmp_path):
    """Lowering --lr for the end of a long run: the saved optimiser state must not keep the old."""
    r = run_cli(*train_args(photo_dir, style_images[0], tmp_path, 2), "--lr", "1e-3")
    assert r.returncode == 0, r.stderr
    r = run_cli(*train_args(photo_dir, style_images[0], tmp_path, 3), "--resume", "--lr", "2e-4",
                "--lr-conditioner", "5e-5")
    assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    assert ck["step"] == 3 and ck["config"]["lr"] == 2e-4
    assert [g["lr"] for g in ck["optimizer"]["param_groups"]] == [2e-4, 5e-5]

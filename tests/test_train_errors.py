"""Bad training input: one line on stderr saying what is wrong, exit code 2, no traceback."""

import os

import pytest

from tests.conftest import run_cli


def check_error(r, *fragments):
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    err = r.stderr.strip()
    assert "Traceback" not in r.stderr
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ")
    for f in fragments:
        assert f in err, err


@pytest.fixture
def base(photo_dir, style_images, tmp_path):
    return ["train", "-c", photo_dir, "-s", style_images[0], "-o", tmp_path / "run",
            "--steps", 1, "--crop-size", 32, "--workers", 0, "--no-tensorboard"]


def replace(args, flag, value):
    args = list(args)
    args[args.index(flag) + 1] = value
    return args


def test_missing_content_folder(base, tmp_path):
    check_error(run_cli(*replace(base, "-c", tmp_path / "nope")), "content folder not found")


def test_empty_content_folder(base, tmp_path):
    (tmp_path / "empty").mkdir()
    check_error(run_cli(*replace(base, "-c", tmp_path / "empty")), "no images")


def test_unreadable_style_image(base, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\x00" * 100)
    check_error(run_cli(*replace(base, "-s", bad)), "cannot read style image")
    check_error(run_cli(*replace(base, "-s", tmp_path / "missing.jpg")), "style image not found")


def test_unknown_preset_and_layer(base):
    check_error(run_cli(*base, "--preset", "huge"), "unknown preset 'huge'", "fast")
    check_error(run_cli(*base, "--style-layers", "relu1_1,relu9_9"), "unknown VGG layer relu9_9")


def test_crop_larger_than_every_image(base):
    check_error(run_cli(*replace(base, "--crop-size", 4000)), "larger than every image",
                "--crop-size")


def test_alpha_of_wrong_length_in_config(base, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("alpha_default = [0.5, 0.5, 0.5]\n")
    check_error(run_cli(*base, "--config", cfg), "alpha_default has 3 values", "4 α components")


def test_bad_config_file(base, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("steps = [\n")
    check_error(run_cli(*base, "--config", cfg), "not valid TOML")
    cfg.write_text("stepz = 3\n")
    check_error(run_cli(*base, "--config", cfg), "unknown option 'stepz'")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; needs a normal user")
def test_unwritable_output_folder_permissions(base, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    check_error(run_cli(*replace(base, "-o", ro / "run")), "cannot write to output folder")


def test_unwritable_output_folder(base, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    check_error(run_cli(*replace(base, "-o", blocker / "run")), "cannot write to output folder")


def test_resume_without_checkpoint(base, tmp_path):
    check_error(run_cli(*base, "--resume"), "checkpoint not found")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    check_error(run_cli(*base, "--resume", bad), "corrupt or not a checkpoint")


def test_config_file_is_used_and_saved(base, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[train]\nalpha_default = [0.1, 0.2, 0.3, 0.4]\nsteps = 50\n")
    r = run_cli(*base, "--config", cfg)  # --steps 1 on the command line wins
    assert r.returncode == 0, r.stderr
    saved = (tmp_path / "run" / "config.toml").read_text()
    assert "steps = 1\n" in saved and "alpha_default = [\n    0.1," in saved


def test_paths_are_stored_absolute_and_resume_works_from_elsewhere(photo_dir, style_images,
                                                                   tmp_path, monkeypatch):
    """A run started with relative paths resumes from another folder (config.toml and the
    checkpoint name the files absolutely)."""
    import shutil
    import tomllib

    from rt_style.cli import main

    work = tmp_path / "work"
    shutil.copytree(photo_dir, work / "photos")
    shutil.copy(style_images[0], work / "style.png")
    monkeypatch.chdir(work)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    common = ["--crop-size", "32", "--batch-size", "2", "--style-size", "32", "--workers", "0",
              "--no-tensorboard", "--sample-every", "1000"]
    with pytest.raises(SystemExit) as e:
        main(["train", "-c", "photos", "-s", "style.png", "-o", "run", "--steps", "1", *common])
    assert e.value.code == 0
    saved = tomllib.loads((work / "run" / "config.toml").read_text())
    assert saved["content"] == str(work / "photos") and saved["out"] == str(work / "run")
    assert saved["styles"] == [str(work / "style.png")]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(SystemExit) as e:
        main(["train", "--resume", str(work / "run" / "checkpoints" / "last.pt"), "--steps", "2",
              "-s", str(work / "style.png")])
    assert e.value.code == 0
    assert list(elsewhere.iterdir()) == []
    import torch

    ckpt = torch.load(work / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert ckpt["step"] == 2


def test_temporaries_of_killed_runs_are_removed(tmp_path):
    from tests.conftest import dead_pid
    from train.checkpoint import save_atomic

    gone = dead_pid()
    stale = tmp_path / f".last.{gone}-abcd1234.part.pt"
    running = tmp_path / f".last.{os.getpid()}-abcd1234.part.pt"  # a run still writing
    other = tmp_path / f".other.{gone}-abcd1234.part.pt"  # not this file's
    for f in (stale, running, other):
        f.write_bytes(b"half a checkpoint")
    save_atomic({"x": 1}, tmp_path / "last.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["last.pt", running.name, other.name])

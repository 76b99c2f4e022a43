"""helpers.board.bench: latency/FPS measurement and the `bench` command (timings are not asserted, only
relations that must hold whatever the machine's speed)."""
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers.board import bench, registry
from helpers.errors import HelpersError
from helpers.board.runtime import Backend, TensorInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fake_board"))
import fake_models  # noqa: E402

sys.path.pop(0)
KEY = "mobilenetv4_conv_small"


class SleepBackend(Backend):
    """Sleeps instead of computing: sleeping releases the GIL, like onnxruntime and the BPU runtimes."""

    name = "sleep"

    def __init__(self, seconds=0.01):
        super().__init__(Path("sleep.onnx"))
        self.seconds = seconds
        self.inputs = [TensorInfo("data", (1, 3, 8, 8), "nv12", "NCHW")]
        self.calls = 0

    def run(self, feed):
        self.calls += 1
        time.sleep(self.seconds)
        return [np.zeros((1, 10), np.float32)]


class FailingBackend(SleepBackend):
    def run(self, feed):
        raise RuntimeError("BPU fell over")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return fake_models.tiny_nv12_model(tmp_path_factory.mktemp("bench") / "tiny.onnx", key=KEY)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "helpers", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("text,expected", [("1,2,4", (1, 2, 4)), (" 4 , 1 ", (4, 1)), ("2,2", (2,)), ([1, 8], (1, 8))])
def test_parse_threads(text, expected):
    assert bench.parse_threads(text) == expected


@pytest.mark.parametrize("text", ["", "0", "1,a", "-1", "1,100", "1.5"])
def test_parse_threads_rejects(text):
    with pytest.raises(HelpersError):
        bench.parse_threads(text)


@pytest.mark.parametrize("value", ["x", 0, -1, 1e9])
def test_check_seconds_rejects(value):
    with pytest.raises(HelpersError, match="--seconds"):
        bench.check_seconds(value)


def test_threads_really_overlap():
    """4 workers on a GIL-releasing runtime finish ~4x the frames of 1 (would be ~1x if serialised)."""
    one = bench.measure([SleepBackend()], np.zeros(96, np.uint8), 0.4, warmup=0)
    four = bench.measure([SleepBackend() for _ in range(4)], np.zeros(96, np.uint8), 0.4, warmup=0)
    assert four.threads == 4 and one.threads == 1
    assert four.fps > 2.5 * one.fps
    assert 9.5 <= one.latency_median_ms < 60  # per call: the sleep, not the wall time of the whole loop
    assert one.latency_p90_ms >= one.latency_median_ms


def test_row_relations(tiny):
    r = bench.benchmark(tiny, threads=(1, 2), seconds=0.3, warmup=1)
    assert [row.threads for row in r.rows] == [1, 2] and r.backend == "onnxruntime"
    for row in r.rows:
        assert row.frames > 0
        assert row.fps == pytest.approx(row.frames / row.wall_s)
        assert row.latency_p90_ms >= row.latency_median_ms > 0
        # each worker's calls fit in the wall time
        assert row.latency_mean_ms * row.frames / row.threads <= row.wall_s * 1000 * 1.05
    assert r.single.threads == 1 and r.multi.threads == 2
    assert r.key == KEY and r.name == registry.get(KEY).display


def test_benchmark_takes_a_classifier_and_a_feed(tiny):
    from helpers.board.classifier import Classifier

    clf = Classifier(tiny)
    feed = clf.prepare(np.full((50, 60, 3), 128, np.uint8)).feed
    r = bench.benchmark(clf, threads=(1,), seconds=0.2, feed=feed, warmup=0)
    assert r.backend == clf.backend and r.key == KEY
    with pytest.raises(HelpersError, match="W\\*H\\*3/2"):
        bench.benchmark(tiny, threads=(1,), seconds=0.2, feed=np.zeros(10, np.uint8))


def test_worker_failure_is_one_helpers_error():
    with pytest.raises(HelpersError, match="BPU fell over") as e:
        bench.measure([FailingBackend(), FailingBackend()], np.zeros(96, np.uint8), 0.2, warmup=0)
    assert "\n" not in str(e.value)


def test_intra_op_threads_split_the_cpus(monkeypatch):
    monkeypatch.setattr(bench.os, "cpu_count", lambda: 8)
    assert bench._intra_threads("onnxruntime", 1) is None
    assert bench._intra_threads("onnxruntime", 2) == 4
    assert bench._intra_threads("onnxruntime", 16) == 1
    assert bench._intra_threads("hobot_dnn", 4) is None


def test_make_feed_matches_the_input():
    nv = bench.make_feed(TensorInfo("data", (1, 3, 6, 4), "nv12", "NCHW"))
    assert nv.dtype == np.uint8 and nv.shape == (6 * 4 * 3 // 2,)
    f = bench.make_feed(TensorInfo("data", (1, 3, 6, 4), "float32", "NCHW"))
    assert f.dtype == np.float32 and f.shape == (1, 3, 6, 4)


def test_zoo_table_has_our_row_and_the_labelled_published_one(tiny):
    r = bench.benchmark(tiny, threads=(1, 2), seconds=0.2, warmup=0)
    pub = registry.get(KEY).published_for("x5")
    md = r.markdown(pub)
    lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert "Latency (single-threaded)" in lines[0] and "Frame rate (FPS)" in lines[0]
    assert f"{r.single.latency_median_ms:.2f} ms" in lines[2] and f"{r.multi.fps:.1f}" in lines[2]
    assert "published" in lines[3] and f"{pub.fps:.2f}" in lines[3]
    assert pub.source in md and "CPU figure" in md


def test_cli_bench(tiny):
    r = run_cli("bench", tiny, "--threads", "1,2", "--seconds", "0.3", "--board", "x5")
    assert r.returncode == 0, r.stderr
    assert "latency median" in r.stdout and "FPS" in r.stdout and "hrt_model_exec perf" in r.stdout
    assert "end to end: decode -> prepare -> run -> top-5" in r.stdout and "1 prepare thread" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["missing.onnx"], "model file not found"),
    (["TINY", "--threads", "0"], "--threads"),
    (["TINY", "--workers", "x"], "--workers"),
    (["TINY", "--seconds", "soon"], "--seconds"),
    (["TINY", "--backend", "hobot_dnn"], "backend 'hobot_dnn'"),
])
def test_cli_bench_errors_are_one_line(tiny, args, needle):
    r = run_cli("bench", *[str(tiny) if a == "TINY" else a for a in args])
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith("error: ") and r.stderr.strip().count("\n") == 0 and needle in r.stderr


def test_benchmark_end_to_end_rows(tiny, tmp_path):
    """With images: a serial row then one per thread count, every image decoded, shown beside the runtime rows."""
    from PIL import Image

    from helpers.board.image import sample_images

    png = tmp_path / "frame.png"
    Image.fromarray(np.full((48, 64, 3), 90, np.uint8)).save(png)
    r = bench.benchmark(tiny, threads=(1, 2), seconds=0.05, images=[png, sample_images()[0]])
    assert [s.workers for s in r.stream] == [0, 1, 2] and all(s.frames >= 2 for s in r.stream)
    text = r.details()
    assert "end to end: decode -> prepare -> run -> top-5" in text and "serial" in text and "2 prepare threads" in text
    assert "End to end" in r.markdown() and "FPS serially" in r.markdown()
    assert bench.benchmark(tiny, threads=(1,), seconds=0.05).stream == []


def test_benchmark_end_to_end_bad_image(tiny, tmp_path):
    (tmp_path / "x.jpg").write_text("not a picture")
    with pytest.raises(HelpersError, match="not an image"):
        bench.benchmark(tiny, threads=(1,), seconds=0.05, images=[tmp_path / "x.jpg"])


def test_cli_bench_end_to_end_switches(tiny):
    r = run_cli("bench", tiny, "--threads", "1", "--seconds", "0.1", "--no-end-to-end")
    assert r.returncode == 0, r.stderr
    assert "end to end" not in r.stdout


# ------------------------------------------------------------------ workers that the GIL cannot serialise

FAKE_DIR = Path(__file__).resolve().parents[1] / "fake_board"


@pytest.fixture
def gil(monkeypatch, tmp_path):
    """The GIL-holding fake runtime (tests/fake_board/gil_runtime.py), importable by spawned workers too."""
    monkeypatch.syspath_prepend(str(FAKE_DIR))
    import gil_runtime

    path = tmp_path / "fake.bin"
    path.write_bytes(b"fake")
    return gil_runtime, path


def test_processes_scale_a_gil_holding_runtime(gil):
    """4 worker processes on a runtime that holds the GIL for 5 ms per call: at least 2.4x one worker."""
    mod, path = gil
    r = bench.benchmark(path, threads=(1, 4), seconds=0.6, opener=mod.open_gil, mode="processes", warmup=1)
    one, four = r.rows
    assert (one.mode, four.mode, four.threads) == ("processes", "processes", 4) and r.mode == "processes"
    assert one.latency_median_ms >= mod.CALL_SECONDS * 1e3 * 0.95  # each call really blocked ~5 ms
    assert four.fps >= 2.4 * one.fps, (one.fps, four.fps)


def test_threads_do_not_scale_a_gil_holding_runtime(gil):
    """The same fake in 4 threads: they take turns (this is what the issue measured: 111 vs 114 FPS)."""
    mod, path = gil
    r = bench.benchmark(path, threads=(1, 4), seconds=0.4, opener=mod.open_gil, mode="threads", warmup=1)
    one, four = r.rows
    assert four.mode == "threads" and four.fps < 1.6 * one.fps, (one.fps, four.fps)


def test_auto_mode_threads_only_where_the_gil_is_released():
    assert bench.choose_mode("onnxruntime") == "threads"
    for name in ("hobot_dnn", "bpu_infer_lib", "hbm_runtime", "gil_fake"):
        assert bench.choose_mode(name) == "processes"
    assert bench.choose_mode("onnxruntime", "processes") == "processes"
    with pytest.raises(HelpersError, match="--mode"):
        bench.choose_mode("onnxruntime", "fibres")


def test_gil_free_share_tells_the_two_kinds_apart(gil, tiny):
    mod, path = gil
    holding = bench.gil_free_share(mod.GilBackend(path), np.zeros(96, np.uint8), seconds=0.2)
    releasing = bench.gil_free_share(SleepBackend(0.005), np.zeros(96, np.uint8), seconds=0.2)
    assert holding == 0.0 and releasing > 0.5, (holding, releasing)
    ort = bench.gil_free_share(bench.open_model(tiny), bench.make_feed(bench.open_model(tiny).input), seconds=0.2)
    assert ort > 0.5, ort  # onnxruntime releases the GIL in session.run: threads are fine there


def test_a_worker_process_failure_is_one_line(gil):
    mod, path = gil
    with pytest.raises(HelpersError, match="BPU fell over") as e:
        bench.benchmark(path, threads=(2,), seconds=0.2, opener=mod.open_failing, mode="processes")
    assert "\n" not in str(e.value) and "worker" in str(e.value)


def test_processes_on_onnxruntime_and_the_end_to_end_in_processes(tiny):
    from helpers.board.image import sample_images

    r = bench.benchmark(tiny, threads=(1, 2), seconds=0.3, mode="processes", images=[sample_images()[0]])
    assert [row.mode for row in r.rows] == ["processes", "processes"] and all(row.frames > 0 for row in r.rows)
    assert [s.label for s in r.stream] == ["serial", "1 process", "2 processes"]
    assert all(s.frames >= 1 for s in r.stream)
    assert "N processes, each with its own runtime instance" in r.details()


def test_cli_workers_flag_and_the_old_threads_flag(tiny):
    r = run_cli("bench", tiny, "--workers", "1,2", "--seconds", "0.2", "--no-end-to-end")
    assert r.returncode == 0, r.stderr
    assert "workers are threads" in r.stdout and "vs 1" in r.stdout
    old = run_cli("bench", tiny, "--threads", "1", "--seconds", "0.2", "--no-end-to-end", "--mode", "processes")
    assert old.returncode == 0, old.stderr
    assert "workers are processes" in old.stdout
    both = run_cli("bench", tiny, "--threads", "1", "--workers", "2")
    assert both.returncode == 2 and "not both" in both.stderr and both.stderr.count("\n") == 1


def test_vendor_row_beside_ours(tiny):
    from helpers.board.hrt import HrtPerf

    r = bench.benchmark(tiny, threads=(1,), seconds=0.1, warmup=0)
    r.vendor = HrtPerf(4, 1000, 1.25, 3012.5, "hrt_model_exec perf --model_file m.bin --thread_num 4 --frame_count 1000")
    lines = [ln for ln in r.markdown().splitlines() if ln.startswith("| ")]
    assert "(hrt_model_exec perf)" in lines[3] and "3012.5" in lines[3] and "1.25 ms" in lines[3]
    assert "run now on this board" in r.markdown()


def test_ctrl_c_stops_every_worker(tmp_path):
    """SIGINT to the parent during a process run: KeyboardInterrupt there, and no worker left alive."""
    import signal

    script = tmp_path / "run.py"
    script.write_text(
        "import multiprocessing, sys, numpy as np\n"
        f"sys.path.insert(0, {str(FAKE_DIR)!r})\n"
        "import gil_runtime\n"
        "from helpers.board.bench import RuntimeJob\n"
        "from helpers.board.workers import run_processes\n"
        "if __name__ == '__main__':\n"
        "    job = RuntimeJob('x.bin', 'auto', np.zeros(4, np.uint8), 0, None, gil_runtime.open_gil)\n"
        "    try:\n"
        "        print('started', flush=True)\n"
        "        run_processes(job, 3, 60.0)\n"
        "    except KeyboardInterrupt:\n"
        "        print('interrupted; alive:', len(multiprocessing.active_children()), flush=True)\n")
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=tmp_path, env={**__import__("os").environ,
                                             "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert p.stdout.readline().strip() == "started"
    time.sleep(3)  # the workers are running
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert "interrupted; alive: 0" in out, out + err


def test_a_stuck_worker_is_bounded(gil):
    """A worker that never finishes setting up: one line within the setup bound, every worker stopped."""
    import multiprocessing

    from helpers.board.bench import RuntimeJob
    from helpers.board.workers import run_processes

    mod, path = gil
    job = RuntimeJob(str(path), "auto", np.zeros(4, np.uint8), 0, None, mod.open_hanging)
    t0 = time.monotonic()
    with pytest.raises(HelpersError, match="worker") as e:
        run_processes(job, 2, 0.2, setup_timeout=2.0)
    assert time.monotonic() - t0 < 30 and "\n" not in str(e.value)
    assert multiprocessing.active_children() == []

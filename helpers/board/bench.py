"""Latency and throughput of a model file on its runtime, the two figures the RDK Model Zoo tables report.

Board-safe (numpy and the standard library; the runtime is whatever :func:`helpers.board.runtime.open_model`
picks for the file: onnxruntime for ``.onnx``, hobot_dnn / bpu_infer_lib for ``.bin``, hbm_runtime for ``.hbm``).

* **single-worker latency**: one worker calls the runtime back to back on a prepared input; we report
  the median and the 90th percentile of the per-call wall time.
* **multi-worker latency and FPS**: ``N`` workers, each with its own runtime instance (one onnxruntime
  session / one loaded model per worker, as ``hrt_model_exec perf --thread_num N`` does), call it
  concurrently for ``seconds``; FPS = frames completed / wall time, latency = the median per-call time
  under that load.

**Workers are processes unless the runtime is known to release the GIL.** The board runtime
``hobot_dnn.pyeasy_dnn`` holds Python's GIL for the whole BPU call (``HorizonRDK/hobot-spdev``,
``src/python/dnn_python.cpp``: ``Model_forward`` runs ``hbDNNInfer`` and ``hbDNNWaitTaskDone`` without
``Py_BEGIN_ALLOW_THREADS``), so Python threads calling it take turns: with a fake runtime that blocks
5 ms in C while holding the GIL, 4 threads gave 1.03x the 1-thread FPS. Separate processes
(:mod:`helpers.board.workers`), each opening its own runtime, are not serialised (the same fake: 4
processes >= 2.4x, ``tests/board/test_bench.py``). We do not know whether ``bpu_infer_lib`` and
``hbm_runtime`` release the GIL, so they get processes too. onnxruntime releases the GIL inside
``session.run``: :func:`gil_free_share` finds another Python thread running during 100 % of its calls on
the MobileOne-S0 board model, 0 % for the GIL-holding fake (``benchmarks/inference.py`` prints it), so on
a PC the workers are threads, which start in milliseconds. ``mode="processes"`` / ``"threads"`` (``bench
--mode``) overrides the choice.

Only the runtime call is timed (the input is prepared once). Given images, :func:`benchmark` also
measures the **end-to-end** rate of decode -> prepare -> run -> top-k
(:mod:`helpers.board.pipeline`): serially in one thread, then with ``N`` workers: on onnxruntime ``N``
threads preparing the next frames while one runtime instance runs; on a board runtime ``N`` processes,
each running the whole chain with its own runtime instance. When the end-to-end FPS is far below the
runtime-only FPS, the CPU (decoding, resizing, NV12), not the model, limits the pipeline.
With ``N`` workers on onnxruntime each session gets ``max(1, cpus // N)`` intra-op threads (one worker:
onnxruntime's default), so the workers share the CPU instead of oversubscribing it.

On a board the vendor's reference tool is ``hrt_model_exec perf`` (:mod:`helpers.board.hrt` runs it
and reads its figures); its numbers exclude Python, so expect ours to be a little slower.
"""
from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from helpers.board import registry
from helpers.board.hrt import hrt_model_exec_command
from helpers.board.pipeline import StreamRow, throughput, throughput_processes
from helpers.board.workers import run_processes, wall_time
from helpers.errors import HelpersError, first_line
from helpers.board.meta import META_KEY, META_WEIGHTS
from helpers.board.runtime import BACKENDS, Backend, TensorInfo, open_model

DEFAULT_THREADS = (1, 2, 4)
DEFAULT_SECONDS = 2.0
MAX_THREADS = 64
MODES = ("auto", "processes", "threads")
#: a worker count must beat the serial end-to-end rate by this factor to be called faster; a smaller gain is
#: within what two short timed windows can tell apart (a judgement, not a measurement), and at 1.00x a sentence
#: naming it faster would read as a contradiction
FASTER_BY = 1.01
#: why an end-to-end rate can read above the runtime-only rate of the same runtime instances
OVER_RUNTIME_WHY = ("each frame end to end includes one run of the same runtime instances, so the pipeline "
                    "cannot be faster than the runtime alone; the two rates come from separate timed windows "
                    "({seconds:g} s each), and the excess is how much the machine's speed varied between them "
                    "(other load, clock changes). Read it as: here the runtime, not the preparation, limits "
                    "the pipeline.")
#: runtimes measured to release the GIL while they run (gil_free_share); the others get processes
GIL_RELEASING = ("onnxruntime",)


def parse_threads(text, flag: str = "--workers") -> Tuple[int, ...]:
    """``"1,2,4"`` (or a sequence of ints) -> ``(1, 2, 4)``; each between 1 and MAX_THREADS."""
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        counts = tuple(int(str(t).strip()) for t in items if str(t).strip())
    except ValueError:
        raise HelpersError(f"{flag} takes comma-separated whole numbers like 1,2,4; got {text!r}") from None
    if not counts or any(c < 1 or c > MAX_THREADS for c in counts):
        raise HelpersError(f"{flag} values must be between 1 and {MAX_THREADS}; got {text!r}")
    return tuple(dict.fromkeys(counts))


parse_workers = parse_threads


def choose_mode(backend_name: str, mode: str = "auto") -> str:
    """``processes`` or ``threads`` for ``backend_name`` (``auto``: threads only for :data:`GIL_RELEASING`)."""
    if mode not in MODES:
        raise HelpersError(f"--mode must be one of {', '.join(MODES)}; got {mode!r}")
    if mode != "auto":
        return mode
    return "threads" if backend_name in GIL_RELEASING else "processes"


def check_seconds(seconds) -> float:
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        raise HelpersError(f"--seconds must be a number, got {seconds!r}") from None
    if not (0 < s <= 3600):
        raise HelpersError(f"--seconds must be > 0 and <= 3600, got {seconds!r}")
    return s


def make_feed(info: TensorInfo, seed: int = 0) -> np.ndarray:
    """A synthetic input of the right type and size (timing does not depend on the pixel values)."""
    rng = np.random.default_rng(seed)
    if info.dtype == "nv12":
        h, w = info.hw
        return rng.integers(0, 256, size=h * w * 3 // 2, dtype=np.uint8)
    shape = tuple(d if d > 0 else 1 for d in info.shape)
    if info.dtype in ("rgb", "bgr", "uint8"):
        return rng.integers(0, 256, size=shape, dtype=np.uint8)
    if info.dtype == "int8":
        return rng.integers(-128, 128, size=shape, dtype=np.int8)
    if info.dtype in ("float32", "float16"):
        return rng.standard_normal(shape).astype(info.dtype)
    raise HelpersError(f"cannot make a benchmark input of type {info.dtype}; pass feed=<array>")


@dataclass(frozen=True)
class Row:
    threads: int          # workers (threads or processes, see mode)
    frames: int
    wall_s: float
    latency_median_ms: float
    latency_p90_ms: float
    latency_mean_ms: float
    fps: float
    mode: str = "threads"

    @property
    def workers(self) -> int:
        return self.threads


def _row(threads: int, per_call_s, wall_s: float, mode: str = "threads") -> Row:
    ms = np.asarray(per_call_s, dtype=np.float64) * 1e3
    return Row(threads, int(ms.size), float(wall_s), float(np.median(ms)), float(np.percentile(ms, 90)),
               float(ms.mean()), float(ms.size / wall_s) if wall_s > 0 else float("nan"), mode)


@dataclass
class BenchResult:
    """Measured rows, one per thread count, plus what was measured and where."""

    model: Path
    backend: str
    input: str
    seconds: float
    rows: List[Row]
    key: Optional[str] = None
    weights: Optional[str] = None                            # the model file's rdk.weights metadata
    stream: List[StreamRow] = field(default_factory=list)   # end to end, serial first
    mode: str = "threads"                                    # the workers: threads or processes
    vendor: Optional[object] = None                          # helpers.board.hrt.HrtPerf, when run
    machine: str = field(default_factory=lambda: f"{platform.machine()}, {os.cpu_count()} CPUs, "
                                                  f"Python {platform.python_version()}")

    @property
    def single(self) -> Row:
        return min(self.rows, key=lambda r: r.threads)

    @property
    def multi(self) -> Row:
        return max(self.rows, key=lambda r: r.threads)

    @property
    def on_board(self) -> bool:
        return self.backend not in ("onnxruntime",)

    @property
    def name(self) -> str:
        spec = registry.MODELS.get(self.key or "")
        return spec.display if spec else self.model.stem

    def size(self) -> str:
        spec = registry.MODELS.get(self.key or "")
        if spec is not None:
            h, w = spec.input_size
            return f"{w}x{h}"
        return "?"

    def details(self) -> str:
        head = f"{self.mode:>9}  {'frames':>7}  {'latency median':>14}  {'latency p90':>11}  {'FPS':>9}  {'vs 1':>6}"
        one = self.single.fps
        lines = [head] + [f"{r.threads:>9}  {r.frames:>7}  {r.latency_median_ms:>11.2f} ms  "
                          f"{r.latency_p90_ms:>8.2f} ms  {r.fps:>9.1f}  {r.fps / one:>5.2f}x" for r in self.rows]
        return "\n".join(lines + self.stream_lines())

    def runtime_fps_for(self, row: StreamRow) -> float:
        """The runtime-only FPS with the same runtime instances as end-to-end ``row``: one instance for the
        serial row and for prepare threads (they share one), ``N`` for ``N`` processes (one each)."""
        n = row.workers if row.mode == "processes" and row.workers > 0 else 1
        same = [r for r in self.rows if r.threads == n]
        return same[0].fps if same else self.single.fps

    def stream_lines(self) -> List[str]:
        """The end-to-end rows (decode -> prepare -> run -> top-5), if measured, each against the runtime-only
        rate of the same runtime instances; a share above 100 % is marked and explained."""
        if not self.stream:
            return []
        serial = self.stream[0].fps
        how = ("one runtime instance; N threads prepare ahead" if self.stream[-1].mode == "threads" else
               "N processes, each with its own runtime instance")
        out = ["", f"end to end: decode -> prepare -> run -> top-5 ({how})",
               f"{'workers':>18}  {'frames':>7}  {'FPS':>9}  {'vs serial':>9}  {'of runtime-only FPS, same instances':>35}"]
        over = False
        for r in self.stream:
            share = r.fps / self.runtime_fps_for(r)
            over = over or share > 1
            mark = "*" if share > 1 else " "
            out.append(f"{r.label:>18}  {r.frames:>7}  {r.fps:>9.1f}  {r.fps / serial:>8.2f}x  {share:>34.0%}{mark}".rstrip())
        if over:
            out.append(f"* over 100 %: {OVER_RUNTIME_WHY.format(seconds=self.seconds)}")
        return out

    def stream_note(self) -> str:
        """The end-to-end sentence of :meth:`notes`, worded from the numbers (the best may be the serial run)."""
        serial_row = self.stream[0]
        serial, best = serial_row.fps, max(self.stream, key=lambda r: r.fps)
        where = "one runtime instance" if self.stream[-1].mode == "threads" else "a runtime instance per process"
        text = f"End to end (decode, resize, input conversion, run, top-5) on {where}: {serial:.1f} FPS serially"
        parallel = [r for r in self.stream if r is not serial_row]
        if best is serial_row or best.fps < FASTER_BY * serial:
            if parallel:
                top = max(parallel, key=lambda r: r.fps)
                text += (f", and no worker count was faster by {100 * (FASTER_BY - 1):.0f} % or more (the best, "
                         f"{top.label}, made {top.fps:.1f} FPS, {top.fps / serial:.2f}x)")
        else:
            text += f", {best.fps:.1f} FPS with {best.label} ({best.fps / serial:.2f}x)"
        text += f"; runtime alone: {self.single.fps:.1f} FPS."
        if any(r.fps > self.runtime_fps_for(r) for r in self.stream):
            text += (" An end-to-end rate above the runtime-only rate of the same instances is not a gain: "
                     "the two were measured in separate timed windows (see the * in the details).")
        return text

    def zoo_table(self, published: Optional[registry.Published] = None) -> str:
        """The RDK Model Zoo's table columns (markdown), our row first, the published one labelled."""
        s, m = self.single, self.multi
        lines = [
            "| Model | Size | Measured on | Latency (single-threaded) | Latency (multi-threaded) | Frame rate (FPS) |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| {self.name} | {self.size()} | this machine, {self.backend} | {s.latency_median_ms:.2f} ms "
            f"(p90 {s.latency_p90_ms:.2f}) | {m.latency_median_ms:.2f} ms ({m.threads} {m.mode}) | {m.fps:.1f} |",
        ]
        v = self.vendor
        if v is not None:
            lines.append(f"| {self.name} (hrt_model_exec perf) | {self.size()} | this board, vendor C++ tool | "
                         f"{v.latency_ms:.2f} ms ({v.threads} thread{'s' if v.threads > 1 else ''}) | "
                         f"{v.latency_ms:.2f} ms ({v.threads} threads) | {v.fps:.1f} |")
        if published is not None:
            board = registry.BOARDS[published.board]
            def fig(v, unit=""):  # a figure the zoo does not publish (the S600 files): "-"
                return "-" if v is None else f"{v:.2f}{unit}"
            lines.append(f"| {self.name} (published {published.suffix}) | {self.size()} | {board.name}, BPU | "
                         f"{fig(published.latency_1t_ms, ' ms')} | {fig(published.latency_mt_ms, ' ms')} | "
                         f"{fig(published.fps)} |")
        return "\n".join(lines)

    def notes(self, published: Optional[registry.Published] = None) -> List[str]:
        why = ("onnxruntime releases the GIL while it runs, so threads overlap" if self.mode == "threads" else
               "each opens its own runtime, so a runtime that holds the GIL (hobot_dnn does) cannot serialise them")
        out = [f"Measured now by `helpers.board.bench` on {self.machine}: {self.seconds:g} s per worker count, "
               f"each worker with its own {self.backend} instance ({self.mode}: {why}); "
               "the latency and FPS rows time only the runtime call."]
        if self.stream:
            out.append(self.stream_note())
        if published is not None:
            out.append(f"Published row: RDK Model Zoo, {published.source} (not measured by us).")
        if self.vendor is not None:
            out.append(f"Vendor row: `{self.vendor.command}` run now on this board (C++, no Python).")
        elif self.on_board:
            out.append("Vendor reference tool on the board: `" + hrt_model_exec_command(self.model, self.multi.threads) + "`.")
        else:
            out.append("This is a CPU figure, not a BPU one. On the board, run this notebook or "
                       "`python -m helpers bench X.bin`, and the vendor's `" + hrt_model_exec_command("X.bin") + "`.")
        return out

    def markdown(self, published: Optional[registry.Published] = None) -> str:
        return "\n\n".join([self.zoo_table(published), "```\n" + self.details() + "\n```",
                            "\n".join(f"* {n}" for n in self.notes(published))])

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __str__(self) -> str:
        return f"{self.model.name} on {self.backend} (input {self.input})\n{self.details()}"


def _timed_loop(backend: Backend, feed: np.ndarray, deadline_box: list, start: threading.Barrier,
                out: List[float], errors: list) -> None:
    try:
        start.wait()
        deadline = deadline_box[0]
        clock = time.perf_counter
        run = backend.run
        while True:
            t0 = clock()
            if t0 >= deadline:
                break
            run(feed)
            out.append(clock() - t0)
    except BaseException as e:  # surfaced in the main thread
        errors.append(e)
        try:
            start.abort()
        except Exception:
            pass


def measure(backends: Sequence[Backend], feed: np.ndarray, seconds: float, warmup: int = 3) -> Row:
    """Run ``len(backends)`` worker threads (one per backend instance) for ``seconds``.

    Only meaningful for a runtime that releases the GIL while it runs (see :func:`gil_free_share`);
    otherwise use :func:`measure_processes`."""
    for b in backends:
        for _ in range(max(0, warmup)):
            b.run(feed)
    n = len(backends)
    start = threading.Barrier(n + 1)
    deadline_box = [0.0]
    per_thread: List[List[float]] = [[] for _ in range(n)]
    errors: list = []
    threads = [threading.Thread(target=_timed_loop, args=(b, feed, deadline_box, start, per_thread[i], errors),
                                daemon=True) for i, b in enumerate(backends)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    deadline_box[0] = t0 + seconds
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        e = errors[0]
        if isinstance(e, HelpersError):
            raise e
        raise HelpersError(f"the runtime failed during the benchmark: {type(e).__name__}: {first_line(e)}") from e
    calls = [x for lst in per_thread for x in lst]
    if not calls:
        raise HelpersError(f"no inference finished within {seconds:g} s; give more --seconds")
    return _row(n, calls, wall)


@dataclass
class RuntimeJob:
    """One benchmark worker (picklable, for :func:`helpers.board.workers.run_processes`): opens its own
    runtime with ``opener`` (default :func:`~helpers.board.runtime.open_model`), warms it up, then calls it
    back to back on ``feed`` until the deadline, timing each call."""

    path: str
    backend: str
    feed: np.ndarray
    warmup: int = 3
    threads: Optional[int] = None
    opener: Optional[Callable] = None

    def setup(self, index: int):
        rt = (self.opener or open_model)(self.path, backend=self.backend, threads=self.threads)
        for _ in range(max(0, self.warmup)):
            rt.run(self.feed)
        return rt

    def loop(self, rt, deadline: float) -> np.ndarray:
        clock, run, feed, times = time.monotonic, rt.run, self.feed, []
        while True:
            t0 = clock()
            if t0 >= deadline:
                break
            run(feed)
            times.append(clock() - t0)
        return np.asarray(times)


def measure_processes(path, backend: str, workers: int, feed: np.ndarray, seconds: float, warmup: int = 3,
                      threads: Optional[int] = None, opener: Optional[Callable] = None) -> Row:
    """``workers`` processes, each opening its own runtime for ``path``, call it for ``seconds`` at once."""
    job = RuntimeJob(str(path), backend, np.asarray(feed), warmup, threads, opener)
    results = run_processes(job, workers, seconds)
    calls = np.concatenate([r.result for r in results])
    if calls.size == 0:
        raise HelpersError(f"no inference finished within {seconds:g} s; give more --seconds")
    return _row(workers, calls, wall_time(results), "processes")


def gil_free_share(backend: Backend, feed: np.ndarray, seconds: float = 0.3) -> float:
    """The share of ``backend.run`` calls during which another Python thread ran (1.0: the runtime releases
    the GIL while it works; 0.0: it holds it, so Python threads calling it take turns).

    A helper thread counts, yielding the GIL at every step (``time.sleep(0)``); this thread calls
    ``backend.run`` back to back for ``seconds`` (at most 0.9) and notes whether the count moved during
    each call. The switch interval is raised to 1 s meanwhile, so the interpreter never takes the GIL from
    this thread by force: the counter can only move while the runtime itself has released the GIL. Exact
    for a runtime that holds it (0.0); for one that releases it, the share is below 1.0 only when the
    machine gives the helper no core during a call.
    """
    import sys

    seconds = min(max(seconds, 0.01), 0.9)
    count = [0]
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            count[0] += 1
            time.sleep(0)  # let the GIL go at every step

    interval = sys.getswitchinterval()
    # raised before the helper thread exists: a thread already waiting for the GIL under the old interval
    # (5 ms) would force one hand-over and count a call of a GIL-holding runtime as free (seen: 1 of 39)
    sys.setswitchinterval(1.0)
    t = threading.Thread(target=counter, daemon=True)
    moved = calls = 0
    try:
        t.start()
        time.sleep(0.02)
        backend.run(feed)  # a warm-up call, not counted
        end = time.perf_counter() + seconds
        while time.perf_counter() < end or calls == 0:
            before = count[0]
            backend.run(feed)
            moved += count[0] != before
            calls += 1
    finally:
        sys.setswitchinterval(interval)
        stop.set()
        if t.is_alive():
            t.join()
    return moved / calls


def _intra_threads(backend_name: str, workers: int) -> Optional[int]:
    if backend_name != "onnxruntime" or workers == 1:
        return None
    return max(1, (os.cpu_count() or 1) // workers)


def encoded_images(images) -> List:
    """Sources for the end-to-end rate: files read into memory (so decoding is timed, not the disk)."""
    from helpers.board.image import find_images

    out: List = []
    for item in images:
        if isinstance(item, (str, os.PathLike)):
            p = Path(item)
            files = find_images(p) if p.is_dir() else [p]
            for f in files:
                if not f.is_file():
                    raise HelpersError(f"image not found: {f}")
                out.append(f.read_bytes())
        else:
            out.append(item)
    return out


def stream_rows(clf, images, counts: Sequence[int], seconds: float, mode: str = "threads") -> List[StreamRow]:
    """End to end with ``clf``: serial, then for each N of ``counts`` ``N`` prepare threads (``threads``)
    or ``N`` processes each running the whole chain with its own runtime instance (``processes``)."""
    sources = encoded_images(images)
    throughput(clf, sources[:1], 0, 0.0)  # warm-up (and a bad image fails here, with its message)
    rows = [throughput(clf, sources, 0, seconds)]
    if mode == "threads":
        return rows + [throughput(clf, sources, n, seconds) for n in counts]
    key = clf.spec.key if getattr(clf, "spec", None) is not None else None
    return rows + [throughput_processes(clf.runtime.path, sources, n, seconds, key=key, backend=clf.backend)
                   for n in counts]


def benchmark(model, threads: Sequence[int] = DEFAULT_THREADS, seconds: float = DEFAULT_SECONDS,
              backend: str = "auto", feed: Optional[np.ndarray] = None, key: Optional[str] = None,
              warmup: int = 3, images: Optional[Sequence] = None, mode: str = "auto",
              opener: Optional[Callable] = None) -> BenchResult:
    """Single-worker latency and multi-worker FPS of ``model`` (a .onnx/.bin/.hbm path, or a loaded Classifier).

    ``threads``: the worker counts (threads or processes, :func:`choose_mode` from ``mode``).
    ``feed`` is the array handed to the runtime (default: a synthetic one of the right type and size).
    ``images`` (paths, folders, bytes or arrays): also the end-to-end rate serially and with each worker
    count (:func:`stream_rows`). ``opener`` replaces :func:`~helpers.board.runtime.open_model` (same
    arguments; a module-level function, so that worker processes can import it): tests use it for fakes.
    """
    clf = model if hasattr(model, "runtime") else None
    if hasattr(model, "runtime"):  # a Classifier: same file, same backend, its registry key
        key = key or (model.spec.key if getattr(model, "spec", None) is not None else None)
        backend = model.backend
        model = model.runtime.path
    path = Path(model)
    counts = parse_threads(threads)
    seconds = check_seconds(seconds)
    if backend not in BACKENDS and opener is None:
        raise HelpersError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    first = (opener or open_model)(path, backend=backend)
    how = choose_mode(first.name, mode)
    key = key or first.metadata.get(META_KEY)
    info = first.input
    feed = make_feed(info) if feed is None else np.asarray(feed)
    first.run(feed)  # a wrong feed fails here, with the runtime's own message
    pools: Dict[Optional[int], List[Backend]] = {None: [first]}
    rows = []
    for n in counts:
        intra = _intra_threads(first.name, n)
        if how == "processes":
            rows.append(measure_processes(path, first.name if opener is None else backend, n, feed, seconds,
                                          warmup=warmup, threads=intra, opener=opener))
            continue
        pool = pools.setdefault(intra, [])
        while len(pool) < n:
            pool.append((opener or open_model)(path, backend=first.name if opener is None else backend,
                                               threads=intra))
        rows.append(measure(pool[:n], feed, seconds, warmup=warmup))
    stream: List[StreamRow] = []
    if images:
        if clf is None:
            from helpers.board.classifier import Classifier

            clf = Classifier(path, key=key, backend=first.name)
        stream = stream_rows(clf, images, counts, seconds, mode=how)
    return BenchResult(path, first.name, str(info), seconds, rows, key=key, stream=stream, mode=how,
                       weights=first.metadata.get(META_WEIGHTS))


# ------------------------------------------------------------------------------------------------ CLI

def cmd_bench(args) -> int:
    images = None
    if not args.no_end_to_end:
        from helpers.board.image import sample_images

        images = args.images or sample_images()
    if args.workers is not None and args.threads is not None:
        raise HelpersError("give --workers (or its old name --threads), not both")
    counts = parse_threads(args.workers if args.workers is not None else
                           (args.threads if args.threads is not None else DEFAULT_THREADS),
                           "--workers" if args.threads is None else "--threads")
    result = benchmark(args.model, threads=counts, seconds=check_seconds(args.seconds),
                       backend=args.backend, key=args.key, images=images, mode=args.mode)
    if not args.no_vendor:
        from helpers.board import hrt

        try:
            result.vendor = hrt.maybe_run(result.model, result.multi.threads)
        except HelpersError as e:  # the vendor tool failing does not void our figures
            print(f"note: {e}")
    print(f"{result.model.name} on {result.backend} (input {result.input}); {result.seconds:g} s per worker count, "
          f"workers are {result.mode}")
    print(result.details())
    spec = registry.MODELS.get(result.key or "")
    board = getattr(args, "board", None)
    pub = spec.published_for(board) if (spec is not None and board) else None
    print()
    print(result.zoo_table(pub))
    print()
    for n in result.notes(pub):
        print(n.replace("`", ""))
    if args.record:
        from helpers.board.records import record_and_report

        rows = [{"key": result.key, "model": result.model.name, "backend": result.backend, "threads": r.threads,
                 "latency_ms": r.latency_median_ms, "latency_p90_ms": r.latency_p90_ms, "fps": r.fps,
                 **({"weights": result.weights} if result.weights else {})}
                for r in result.rows]
        record_and_report("bench", rows, "python -m helpers bench FILE --record",
                          merge_on=("key", "model", "backend", "threads"))
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="single-worker latency (median, p90) and multi-worker FPS of a .onnx, .bin or .hbm",
                       description="Single-worker latency (median, p90) and multi-worker throughput (FPS) of a "
                                   "model file on its runtime; each worker gets its own runtime instance. Workers "
                                   "are processes (board runtimes hold the GIL, so threads would take turns), "
                                   "threads on onnxruntime (it releases the GIL). On a board where hrt_model_exec "
                                   "exists its figures are printed beside ours: " + hrt_model_exec_command("X.bin"))
    p.add_argument("model", help=".onnx (onnxruntime), .bin (RDK X3/X5) or .hbm (RDK S100/S600)")
    p.add_argument("--workers", default=None,
                   help="comma-separated worker counts (default: 1,2,4)")
    p.add_argument("--threads", default=None, help="old name of --workers (same meaning)")
    p.add_argument("--mode", default="auto", choices=MODES,
                   help="workers as processes or threads (default auto: threads only on onnxruntime)")
    p.add_argument("--seconds", default=str(DEFAULT_SECONDS), help="seconds per worker count (default: 2)")
    p.add_argument("--backend", default="auto", help="auto, onnxruntime, hbm_runtime, hobot_dnn or bpu_infer_lib")
    p.add_argument("--key", help="registry key, for the model name in the table (ONNX files carry it)")
    p.add_argument("--board", choices=sorted(registry.BOARDS), help="also print the published figures for this board")
    p.add_argument("--images", nargs="+", help="images or folders for the end-to-end rate (default: the photos in data/)")
    p.add_argument("--no-end-to-end", action="store_true", help="only the runtime call (skip decode -> prepare -> run -> top-5)")
    p.add_argument("--no-vendor", action="store_true", help="do not run hrt_model_exec perf even where it exists")
    p.add_argument("--record", action="store_true", help="store the rows in data/results/bench.json (README tables)")
    p.set_defaults(func=cmd_bench)

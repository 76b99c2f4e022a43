"""Latency and throughput of a model file on its runtime, the two figures the RDK Model Zoo tables report.

Board-safe (numpy and the standard library; the runtime is whatever :func:`helpers.board.runtime.open_model`
picks for the file: onnxruntime for ``.onnx``, hobot_dnn / bpu_infer_lib for ``.bin``).

* **single-thread latency**: one worker calls the runtime back to back on a prepared input; we report
  the median and the 90th percentile of the per-call wall time.
* **multi-thread latency and FPS**: ``N`` worker threads, each with its own runtime instance (one
  onnxruntime session / one loaded ``.bin`` per thread, as ``hrt_model_exec perf --thread_num N`` does),
  call it concurrently for ``seconds``; FPS = frames completed / wall time, latency = the median
  per-call time under that load.

Only the runtime call is timed (the input is prepared once). Given images, :func:`benchmark` also
measures the **end-to-end** rate of decode -> prepare -> run -> top-k on one runtime instance
(:func:`helpers.board.pipeline.throughput`): serially in one thread, and with ``N`` threads preparing
the next frames while the model runs. When the end-to-end FPS is far below the runtime-only FPS, the
CPU (decoding, resizing, NV12), not the model, limits the pipeline. onnxruntime releases the GIL while it runs, so Python threads do overlap.
With ``N`` workers on onnxruntime each session gets ``max(1, cpus // N)`` intra-op threads (one worker:
onnxruntime's default), so the workers share the CPU instead of oversubscribing it.

On a board the vendor's reference tool is ``hrt_model_exec perf`` (see :func:`hrt_model_exec_command`);
its numbers exclude Python, so expect ours to be a little slower.
"""
from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from helpers.board import registry
from helpers.board.pipeline import StreamRow, throughput
from helpers.errors import HelpersError, first_line
from helpers.board.meta import META_KEY
from helpers.board.runtime import BACKENDS, Backend, TensorInfo, open_model

DEFAULT_THREADS = (1, 2, 4)
DEFAULT_SECONDS = 2.0
MAX_THREADS = 64


def hrt_model_exec_command(model_file, threads: int = 4, frames: int = 1000) -> str:
    """The vendor's board-side benchmark for a ``.bin`` (run on the board, not on a PC)."""
    return f"hrt_model_exec perf --model_file {Path(model_file).name} --thread_num {threads} --frame_count {frames}"


def parse_threads(text) -> Tuple[int, ...]:
    """``"1,2,4"`` (or a sequence of ints) -> ``(1, 2, 4)``; each between 1 and MAX_THREADS."""
    items = text.split(",") if isinstance(text, str) else list(text)
    try:
        counts = tuple(int(str(t).strip()) for t in items if str(t).strip())
    except ValueError:
        raise HelpersError(f"--threads takes comma-separated whole numbers like 1,2,4; got {text!r}") from None
    if not counts or any(c < 1 or c > MAX_THREADS for c in counts):
        raise HelpersError(f"--threads values must be between 1 and {MAX_THREADS}; got {text!r}")
    return tuple(dict.fromkeys(counts))


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
    threads: int
    frames: int
    wall_s: float
    latency_median_ms: float
    latency_p90_ms: float
    latency_mean_ms: float
    fps: float


def _row(threads: int, per_call_s: List[float], wall_s: float) -> Row:
    ms = np.asarray(per_call_s) * 1e3
    return Row(threads, int(ms.size), float(wall_s), float(np.median(ms)), float(np.percentile(ms, 90)),
               float(ms.mean()), float(ms.size / wall_s) if wall_s > 0 else float("nan"))


@dataclass
class BenchResult:
    """Measured rows, one per thread count, plus what was measured and where."""

    model: Path
    backend: str
    input: str
    seconds: float
    rows: List[Row]
    key: Optional[str] = None
    stream: List[StreamRow] = field(default_factory=list)   # end to end, serial first
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
        head = f"{'threads':>7}  {'frames':>7}  {'latency median':>14}  {'latency p90':>11}  {'FPS':>9}"
        lines = [head] + [f"{r.threads:>7}  {r.frames:>7}  {r.latency_median_ms:>11.2f} ms  "
                          f"{r.latency_p90_ms:>8.2f} ms  {r.fps:>9.1f}" for r in self.rows]
        return "\n".join(lines + self.stream_lines())

    def stream_lines(self) -> List[str]:
        """The end-to-end rows (decode -> prepare -> run -> top-5, one runtime instance), if measured."""
        if not self.stream:
            return []
        serial, one = self.stream[0].fps, self.single.fps
        out = ["", "end to end: decode -> prepare -> run -> top-5, one runtime instance",
               f"{'prepare':>18}  {'frames':>7}  {'FPS':>9}  {'vs serial':>9}  {'of runtime-only 1-thread FPS':>28}"]
        out += [f"{r.label:>18}  {r.frames:>7}  {r.fps:>9.1f}  {r.fps / serial:>8.2f}x  {r.fps / one:>27.0%}"
                for r in self.stream]
        return out

    def zoo_table(self, published: Optional[registry.Published] = None) -> str:
        """The RDK Model Zoo's table columns (markdown), our row first, the published one labelled."""
        s, m = self.single, self.multi
        lines = [
            "| Model | Size | Measured on | Latency (single-threaded) | Latency (multi-threaded) | Frame rate (FPS) |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| {self.name} | {self.size()} | this machine, {self.backend} | {s.latency_median_ms:.2f} ms "
            f"(p90 {s.latency_p90_ms:.2f}) | {m.latency_median_ms:.2f} ms ({m.threads} threads) | {m.fps:.1f} |",
        ]
        if published is not None:
            board = registry.BOARDS[published.board]
            def fig(v, unit=""):  # a figure the zoo does not publish (the S600 files): "-"
                return "-" if v is None else f"{v:.2f}{unit}"
            lines.append(f"| {self.name} (published {published.suffix}) | {self.size()} | {board.name}, BPU | "
                         f"{fig(published.latency_1t_ms, ' ms')} | {fig(published.latency_mt_ms, ' ms')} | "
                         f"{fig(published.fps)} |")
        return "\n".join(lines)

    def notes(self, published: Optional[registry.Published] = None) -> List[str]:
        out = [f"Measured now by `helpers.board.bench` on {self.machine}: {self.seconds:g} s per thread count, "
               f"each worker thread with its own {self.backend} instance; the latency and FPS rows time only the runtime call."]
        if self.stream:
            best = max(self.stream, key=lambda r: r.fps)
            out.append(f"End to end (decode, resize, input conversion, run, top-5) on one runtime instance: {self.stream[0].fps:.1f} FPS serially, {best.fps:.1f} FPS with "
                       f"{best.label} ({best.fps / self.stream[0].fps:.2f}x); runtime alone: {self.single.fps:.1f} FPS.")
        if published is not None:
            out.append(f"Published row: RDK Model Zoo, {published.source} (not measured by us).")
        if self.on_board:
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
    """Run ``len(backends)`` worker threads (one per backend instance) for ``seconds``."""
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


def stream_rows(clf, images, counts: Sequence[int], seconds: float) -> List[StreamRow]:
    """End to end with ``clf``: serial, then ``N`` prepare threads for each N of ``counts``."""
    sources = encoded_images(images)
    throughput(clf, sources[:1], 0, 0.0)  # warm-up (and a bad image fails here, with its message)
    return [throughput(clf, sources, n, seconds) for n in (0, *counts)]


def benchmark(model, threads: Sequence[int] = DEFAULT_THREADS, seconds: float = DEFAULT_SECONDS,
              backend: str = "auto", feed: Optional[np.ndarray] = None, key: Optional[str] = None,
              warmup: int = 3, images: Optional[Sequence] = None) -> BenchResult:
    """Single-thread latency and multi-thread FPS of ``model`` (a .onnx/.bin path, or a loaded Classifier).

    ``feed`` is the array handed to the runtime (default: a synthetic one of the right type and size).
    ``images`` (paths, folders, bytes or arrays): also the end-to-end rate with 0 and each ``threads``
    count of prepare threads (:func:`stream_rows`).
    """
    clf = model if hasattr(model, "runtime") else None
    if hasattr(model, "runtime"):  # a Classifier: same file, same backend, its registry key
        key = key or (model.spec.key if getattr(model, "spec", None) is not None else None)
        backend = model.backend
        model = model.runtime.path
    path = Path(model)
    counts = parse_threads(threads)
    seconds = check_seconds(seconds)
    if backend not in BACKENDS:
        raise HelpersError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    first = open_model(path, backend=backend)
    key = key or first.metadata.get(META_KEY)
    info = first.input
    feed = make_feed(info) if feed is None else np.asarray(feed)
    first.run(feed)  # a wrong feed fails here, with the runtime's own message
    pools: Dict[Optional[int], List[Backend]] = {None: [first]}
    rows = []
    for n in counts:
        intra = _intra_threads(first.name, n)
        pool = pools.setdefault(intra, [])
        while len(pool) < n:
            pool.append(open_model(path, backend=first.name, threads=intra))
        rows.append(measure(pool[:n], feed, seconds, warmup=warmup))
    stream: List[StreamRow] = []
    if images:
        if clf is None:
            from helpers.board.classifier import Classifier

            clf = Classifier(path, key=key, backend=first.name)
        stream = stream_rows(clf, images, counts, seconds)
    return BenchResult(path, first.name, str(info), seconds, rows, key=key, stream=stream)


# ------------------------------------------------------------------------------------------------ CLI

def cmd_bench(args) -> int:
    images = None
    if not args.no_end_to_end:
        from helpers.board.image import sample_images

        images = args.images or sample_images()
    result = benchmark(args.model, threads=parse_threads(args.threads), seconds=check_seconds(args.seconds),
                       backend=args.backend, key=args.key, images=images)
    print(f"{result.model.name} on {result.backend} (input {result.input}); {result.seconds:g} s per thread count")
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
                 "latency_ms": r.latency_median_ms, "latency_p90_ms": r.latency_p90_ms, "fps": r.fps}
                for r in result.rows]
        record_and_report("bench", rows, "python -m helpers bench FILE --record",
                          merge_on=("key", "model", "backend", "threads"))
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="single-thread latency (median, p90) and multi-thread FPS of a .onnx or .bin",
                       description="Single-thread latency (median, p90) and multi-thread throughput (FPS) of a "
                                   "model file on its runtime; each worker thread gets its own runtime instance. "
                                   "On a board, compare with: " + hrt_model_exec_command("X.bin"))
    p.add_argument("model", help=".onnx (onnxruntime) or .bin (RDK board)")
    p.add_argument("--threads", default=",".join(map(str, DEFAULT_THREADS)),
                   help="comma-separated worker-thread counts (default: 1,2,4)")
    p.add_argument("--seconds", default=str(DEFAULT_SECONDS), help="seconds per thread count (default: 2)")
    p.add_argument("--backend", default="auto", help="auto, onnxruntime, hobot_dnn or bpu_infer_lib")
    p.add_argument("--key", help="registry key, for the model name in the table (ONNX files carry it)")
    p.add_argument("--board", choices=sorted(registry.BOARDS), help="also print the published figures for this board")
    p.add_argument("--images", nargs="+", help="images or folders for the end-to-end rate (default: the photos in data/)")
    p.add_argument("--no-end-to-end", action="store_true", help="only the runtime call (skip decode -> prepare -> run -> top-5)")
    p.add_argument("--record", action="store_true", help="store the rows in data/results/bench.json (README tables)")
    p.set_defaults(func=cmd_bench)

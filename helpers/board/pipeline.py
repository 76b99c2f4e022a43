"""The end-to-end chain decode -> prepare -> run -> top-k, serially, with prepare threads, or in processes.

Board-safe (standard library threads and processes + numpy/OpenCV/Pillow through the classifier).
Decoding (Pillow), resizing and the NV12 conversion (OpenCV) release the GIL, and so does onnxruntime
while it runs, so on onnxruntime ``workers`` threads preparing the next frames overlap with the model
working on the current one. The RDK runtime ``hobot_dnn`` does **not** release the GIL during the BPU
call (``HorizonRDK/hobot-spdev``, ``src/python/dnn_python.cpp``: ``Model_forward`` calls ``hbDNNInfer`` and
``hbDNNWaitTaskDone`` without ``Py_BEGIN_ALLOW_THREADS``): prepare threads then stall while the BPU
works, so on a board the chain scales with processes instead (:func:`throughput_processes`: ``N``
processes, each with its own runtime instance, see :mod:`helpers.board.workers`).
:func:`prefetch` keeps the order of the inputs.

* :func:`classify_stream` - top-k for every image of an iterable, prepared ``workers`` frames ahead.
* :func:`throughput` - frames per second of the whole chain decode -> prepare -> run -> top-k over a set
  of encoded images for ``seconds``; ``workers=0`` is the serial loop (everything in one thread), the
  baseline the overlap is measured against (``bench`` prints both, ``benchmarks/preprocess.py`` too).
* :func:`throughput_processes` - the same chain in ``N`` processes at once (frames of all / wall time).
"""
from __future__ import annotations

import itertools
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, List, Optional, Sequence

from helpers.board.labels import Prediction, topk
from helpers.errors import HelpersError


def prefetch(fn: Callable, items: Iterable, workers: int = 2, depth: Optional[int] = None) -> Iterator:
    """``map(fn, items)`` in order, computed ``depth`` items ahead by ``workers`` threads (0: in this thread)."""
    if workers <= 0:
        yield from map(fn, items)
        return
    depth = depth or max(2, 4 * workers)
    queue: deque = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prepare") as pool:
        for item in items:
            queue.append(pool.submit(fn, item))
            if len(queue) >= depth:
                yield queue.popleft().result()
        while queue:
            yield queue.popleft().result()


def classify_stream(clf, images: Iterable, workers: int = 2, k: int = 5) -> Iterator[List[Prediction]]:
    """Top-``k`` of each image (path, bytes, array) with ``clf`` (a Classifier), ``workers`` frames prepared ahead."""
    for feed in prefetch(lambda im: clf.prepare(im).feed, images, workers=workers):
        yield topk(clf.run(feed), k, clf.labels, probabilities=getattr(clf, "output_is_probability", False))


@dataclass(frozen=True)
class StreamRow:
    workers: int          # prepare threads or processes (0: serial, one thread does everything)
    frames: int
    wall_s: float
    mode: str = "threads"

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def label(self) -> str:
        if self.workers == 0:
            return "serial"
        if self.mode == "processes":
            return f"{self.workers} process{'es' if self.workers > 1 else ''}"
        return f"{self.workers} prepare thread{'s' if self.workers > 1 else ''}"


def throughput(clf, sources: Sequence, workers: int, seconds: float, k: int = 5) -> StreamRow:
    """End-to-end frames per second of :func:`classify_stream` over ``sources`` (cycled) for ``seconds``.

    Give encoded images (bytes or paths) to include decoding. The clock starts before the first frame is
    prepared and stops after the last top-k, so the pipeline's fill and drain are counted.
    """
    if not sources:
        raise HelpersError("no images to measure the end-to-end throughput with")
    deadline = [0.0]

    def frames():
        for i, src in enumerate(itertools.cycle(sources)):
            if i >= len(sources) and time.perf_counter() >= deadline[0]:
                return
            yield src

    t0 = time.perf_counter()
    deadline[0] = t0 + seconds
    n = sum(1 for _ in classify_stream(clf, frames(), workers=workers, k=k))
    return StreamRow(workers, n, time.perf_counter() - t0)


@dataclass
class StreamJob:
    """One end-to-end worker process (picklable): its own Classifier (runtime instance), the serial chain
    decode -> prepare -> run -> top-k over ``sources`` (cycled) until the deadline; returns frames done."""

    path: str
    sources: list
    key: Optional[str] = None
    backend: str = "auto"
    k: int = 5

    def setup(self, index: int):
        from helpers.board.classifier import Classifier

        clf = Classifier(self.path, key=self.key, backend=self.backend)
        for _ in classify_stream(clf, self.sources[:1], workers=0, k=self.k):  # warm-up
            pass
        return clf

    def loop(self, clf, deadline: float) -> int:
        def frames():
            for src in itertools.cycle(self.sources):
                if time.monotonic() >= deadline:
                    return
                yield src

        return sum(1 for _ in classify_stream(clf, frames(), workers=0, k=self.k))


def throughput_processes(path, sources: Sequence, workers: int, seconds: float, key: Optional[str] = None,
                         backend: str = "auto", k: int = 5) -> StreamRow:
    """End-to-end frames per second of ``workers`` processes, each running the serial chain on its own
    runtime instance for ``seconds`` (the windows aligned; frames of all over the wall time)."""
    from helpers.board.workers import run_processes, wall_time

    if not sources:
        raise HelpersError("no images to measure the end-to-end throughput with")
    results = run_processes(StreamJob(str(path), list(sources), key, backend, k), workers, seconds, what="pipeline")
    return StreamRow(workers, sum(r.result for r in results), wall_time(results), "processes")

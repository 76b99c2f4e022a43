"""Overlap pre-processing with inference: decode -> prepare in worker threads, run -> top-k in the caller's.

Board-safe (standard library threads + numpy/OpenCV/Pillow through the classifier). Decoding (Pillow),
resizing and the NV12 conversion (OpenCV) release the GIL, and so do onnxruntime and the board runtimes
while they run, so ``workers`` threads preparing the next frames overlap with the model working on the
current one. :func:`prefetch` keeps the order of the inputs.

* :func:`classify_stream` - top-k for every image of an iterable, prepared ``workers`` frames ahead.
* :func:`throughput` - frames per second of the whole chain decode -> prepare -> run -> top-k over a set
  of encoded images for ``seconds``; ``workers=0`` is the serial loop (everything in one thread), the
  baseline the overlap is measured against (``bench`` prints both, ``benchmarks/preprocess.py`` too).
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
        yield topk(clf.run(feed), k, clf.labels)


@dataclass(frozen=True)
class StreamRow:
    workers: int          # prepare threads (0: serial, one thread does everything)
    frames: int
    wall_s: float

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def label(self) -> str:
        return "serial" if self.workers == 0 else f"{self.workers} prepare thread{'s' if self.workers > 1 else ''}"


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

"""Run one timed job in ``N`` separate processes at once, so that Python's GIL cannot serialise them.

Board-safe (standard library only). Why processes: the RDK runtime ``hobot_dnn.pyeasy_dnn`` keeps the
GIL for the whole BPU call (D-Robotics' ``dnn_python`` source, repository ``HorizonRDK/hobot-spdev``,
``src/python/dnn_python.cpp``: ``Model_forward`` -> ``forward`` calls ``hbDNNInfer`` and
``hbDNNWaitTaskDone`` with no ``Py_BEGIN_ALLOW_THREADS`` around them), so ``N`` Python threads calling
it run one at a time and "4 threads" measure about the 1-thread rate. ``N`` processes each hold their
own interpreter, GIL and runtime instance, which is what the vendor's ``hrt_model_exec perf
--thread_num N`` gets from its C++ threads.

A *job* is a picklable object (its class defined at module level, so that a ``spawn`` child can import
it) with two methods:

* ``setup(index)`` -> state: open the runtime, warm up (not timed);
* ``loop(state, deadline)`` -> result: work until ``time.monotonic() >= deadline``; the result must
  pickle (a list of per-call seconds, a frame count...).

:func:`run_processes` starts the ``N`` workers with the ``spawn`` method (the same on Linux, macOS and
Windows, and safe with threads already running in the parent, e.g. onnxruntime's pools or a Jupyter
kernel), lets them all pass a barrier once set up, so that the timed windows overlap, and gathers
``(start, end, result)`` per worker in the parent; ``time.monotonic`` is one system-wide clock on
Linux, so the wall time of the whole run is ``max(end) - min(start)``. Bounded: setup may take
``setup_timeout`` seconds and the run ``seconds`` plus a grace; past that every worker is terminated.
A worker's exception comes back as one line (:class:`~helpers.errors.HelpersError`) and ends the
others; Ctrl-C in the parent terminates every worker before ``KeyboardInterrupt`` propagates (the
workers ignore SIGINT, so the parent alone decides).
"""
from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import signal
import time
from dataclasses import dataclass
from typing import Any, List, Sequence

from helpers.errors import HelpersError, first_line

START_METHOD = "spawn"
#: seconds a worker may take to import and open its runtime before the run is abandoned
SETUP_TIMEOUT = 120.0
#: seconds past the timed window a worker may take to finish its last call and report
GRACE = 30.0


@dataclass(frozen=True)
class WorkerResult:
    index: int
    start: float      # time.monotonic() when its timed window began
    end: float        # ... and ended (after its last call)
    result: Any


def _worker(job, index: int, n: int, barrier, seconds: float, setup_timeout: float, out) -> None:
    """The body of one worker process: set up, meet the others, loop until the deadline, report."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        state = job.setup(index)
        barrier.wait(timeout=setup_timeout)
        start = time.monotonic()
        result = job.loop(state, start + seconds)
        out.put(("ok", WorkerResult(index, start, time.monotonic(), result)))
    except BaseException as e:  # noqa: B902 - reported to the parent, one line
        if isinstance(e, HelpersError):
            why = str(e)
        elif type(e).__name__ == "BrokenBarrierError":
            why = "another worker failed or took too long to start"
        else:
            why = f"{type(e).__name__}: {first_line(e)}"
        out.put(("error", (index, why)))


def _stop(procs: Sequence, wait: float = 0.0) -> None:
    """End the workers: give them ``wait`` seconds to exit on their own, then terminate, then kill."""
    end = time.monotonic() + wait
    for p in procs:
        p.join(timeout=max(0.0, end - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():  # terminate ignored (stuck in C): the last resort
            p.kill()
            p.join(timeout=5)


def run_processes(job, workers: int, seconds: float, setup_timeout: float = SETUP_TIMEOUT,
                  what: str = "benchmark") -> List[WorkerResult]:
    """Run ``job`` in ``workers`` processes for ``seconds`` each (windows aligned by a barrier).

    Returns one :class:`WorkerResult` per worker, in worker order. Raises :class:`HelpersError` (one
    line) when a worker fails or the run overstays its bound.
    """
    if workers < 1:
        raise HelpersError(f"need at least one worker, got {workers}")
    ctx = mp.get_context(START_METHOD)
    barrier = ctx.Barrier(workers)
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(job, i, workers, barrier, seconds, setup_timeout, out),
                         name=f"{what}-worker-{i}", daemon=True) for i in range(workers)]
    results: List[WorkerResult] = []
    done = False
    deadline = time.monotonic() + setup_timeout + seconds + GRACE
    try:
        for p in procs:
            p.start()
        while len(results) < workers:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HelpersError(f"the {what} did not finish within {setup_timeout + seconds + GRACE:g} s "
                                   f"({len(results)} of {workers} workers reported); its workers were stopped")
            try:
                kind, payload = out.get(timeout=min(0.2, left))
            except queue_mod.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead and out.empty():
                    time.sleep(0.2)  # a report may still be in the pipe
                    if out.empty():
                        p = dead[0]
                        raise HelpersError(f"{what} worker {procs.index(p)} died (exit code {p.exitcode}) "
                                           "before reporting (its traceback, if any, is above): the runtime crashed, ran out of memory, "
                                           "or the worker could not import what it runs")
                continue
            if kind == "error":
                index, why = payload
                raise HelpersError(f"{what} worker {index} of {workers} failed: {why}")
            results.append(payload)
        done = True
    finally:
        _stop(procs, wait=5.0 if done else 0.0)
        out.close()
        out.join_thread()
    return sorted(results, key=lambda r: r.index)


def wall_time(results: Sequence[WorkerResult]) -> float:
    """Seconds from the first worker's start to the last worker's end."""
    return max(r.end for r in results) - min(r.start for r in results)

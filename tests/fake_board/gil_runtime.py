"""A runtime that, like D-Robotics' ``hobot_dnn.pyeasy_dnn``, keeps Python's GIL while it "runs" (tests only).

``dnn_python``'s ``Model_forward`` (``HorizonRDK/hobot-spdev``, ``src/python/dnn_python.cpp``) calls
``hbDNNInfer`` and ``hbDNNWaitTaskDone`` without ``Py_BEGIN_ALLOW_THREADS``: the calling thread waits
for the BPU holding the GIL. :class:`GilBackend` does the same on a PC: its ``run`` blocks
:data:`CALL_SECONDS` in C, in libc's ``usleep`` called through ``ctypes.PyDLL`` (which, unlike
``ctypes.CDLL``, does not release the GIL around the call). :func:`open_gil` has the signature of
:func:`helpers.board.runtime.open_model`, so ``bench.benchmark(..., opener=open_gil)`` can open one in
each worker process.
"""
import ctypes
import ctypes.util
from pathlib import Path

import numpy as np

from helpers.board.runtime import Backend, TensorInfo

CALL_SECONDS = 0.005
_LIBC = ctypes.PyDLL(ctypes.util.find_library("c"))
_LIBC.usleep.argtypes = [ctypes.c_uint]


class GilBackend(Backend):
    name = "gil_fake"

    def __init__(self, path, seconds: float = CALL_SECONDS):
        super().__init__(Path(path))
        self.micros = int(seconds * 1e6)
        self.inputs = [TensorInfo("data", (1, 3, 8, 8), "nv12", "NCHW")]
        self.outputs = [TensorInfo("logits", (1, 10), "float32", "NONE")]

    def run(self, feed):
        _LIBC.usleep(self.micros)  # blocks in C with the GIL held
        return [np.zeros((1, 10), np.float32)]


def open_gil(path, backend: str = "auto", threads=None) -> GilBackend:
    return GilBackend(path)


def open_failing(path, backend: str = "auto", threads=None) -> GilBackend:
    """Opens fine in the parent; fails in a worker process (its runtime "falls over" on load)."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        raise RuntimeError("BPU fell over\nsecond line")
    return GilBackend(path)


def open_hanging(path, backend: str = "auto", threads=None) -> GilBackend:
    """Hangs for a minute when opened in worker 0's process (a runtime stuck loading)."""
    import multiprocessing
    import time

    if multiprocessing.current_process().name.endswith("-0"):
        time.sleep(60)
    return GilBackend(path)

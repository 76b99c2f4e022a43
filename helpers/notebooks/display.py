"""Where the notebook runs and how to show things there (board or PC, live frontend or headless). Board-safe."""
from __future__ import annotations

import io
import os
import sys
import threading
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from helpers.board import plot
from helpers.board.runtime import BOARD_BACKENDS, available_backends

#: env var: "1" hides the widgets (headless run), "0" shows them even when we would guess headless
HEADLESS_ENV = "RDK_HEADLESS"


def board_runtimes() -> List[str]:
    """The board runtimes importable here (empty on a PC)."""
    return [b for b in available_backends() if b in BOARD_BACKENDS]


def on_board() -> bool:
    return bool(board_runtimes())


def device_model() -> Optional[str]:
    """The board's name (e.g. 'D-Robotics RDK X5 V1.0', 'RDK S100'), None on a PC: :mod:`helpers.board.identity`."""
    from helpers.board.identity import device_model as _device_model

    return _device_model()


def live_frontend() -> bool:
    """Is a Jupyter frontend likely to render widgets?

    A kernel cannot see whether a browser is attached, so we decide from the environment:
    ``RDK_HEADLESS=1``/``0`` decides outright; otherwise we need an IPython *kernel* (not plain Python
    or terminal IPython), and no headless marker: ``MPLBACKEND=Agg`` (tests/conftest.py sets it for
    pytest/nbval, and a kernel started by Jupyter uses the inline backend instead) or ``CI``.
    Nor can it tell nbclient (nbconvert, papermill, nbval) from a browser; it need not for the run to
    finish: a displayed widget never waits for an answer from the frontend (see :func:`collect_outputs`).
    """
    flag = os.environ.get(HEADLESS_ENV)
    if flag is not None and flag.strip():
        return flag.strip().lower() in ("0", "false", "no", "off")
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    if ip is None or getattr(ip, "kernel", None) is None:
        return False
    if os.environ.get("MPLBACKEND", "").lower() == "agg" or os.environ.get("CI"):
        return False
    return True


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def show(obj) -> None:
    """``display`` in IPython, ``print`` elsewhere; a matplotlib figure goes to :func:`show_figure`
    (and is skipped outside IPython)."""
    if hasattr(obj, "savefig"):
        show_figure(obj)
    elif _in_ipython():
        from IPython.display import display

        display(obj)
    else:
        print(obj)


#: dots per inch of the figures the notebooks show: the 12 x 4 in prediction chart is 1080 x 360 px
FIGURE_DPI = 90


def new_figure(figsize: Tuple[float, float], dpi: float = FIGURE_DPI):
    """A ``matplotlib.figure.Figure`` on its own Agg canvas at the notebooks' dpi, never pyplot's
    (:mod:`helpers.board.plot` says why: an inline-backend flush after a widget message, on another thread,
    once rendered a chart the callback was still drawing); :func:`show_figure` shows it."""
    return plot.figure(figsize, dpi=dpi)


def show_figure(fig) -> None:
    """Show ``fig`` as a PNG rendered here (:func:`helpers.board.plot.png`), not by the inline backend, whose "tight"
    crop changes the size from one render to the next; outside IPython nothing is shown."""
    if _in_ipython():
        from IPython.display import Image, display

        display(Image(data=plot.png(fig), format="png"))


class _Stream(io.TextIOBase):
    """A ``sys.stdout``/``sys.stderr`` stand-in that appends the text written by one thread to an output list
    (see collect_outputs); other threads write to ``other``, the stream it replaced."""

    def __init__(self, outputs: list, name: str, changed: Callable[[], None], other=None):
        self.outputs, self.name, self.changed, self.other = outputs, name, changed, other
        self.thread = threading.get_ident()

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        if self.other is not None and threading.get_ident() != self.thread:
            self.other.flush()

    def write(self, text: str) -> int:
        if self.other is not None and threading.get_ident() != self.thread:
            return self.other.write(text)
        if text:
            last = self.outputs[-1] if self.outputs else None
            if last is not None and last.get("output_type") == "stream" and last.get("name") == self.name:
                last["text"] += text
            else:
                self.outputs.append({"output_type": "stream", "name": self.name, "text": text})
            if "\n" in text:
                self.changed()
        return len(text)


def collect_outputs(fn: Callable[[], None], on_change: Optional[Callable[[Tuple[dict, ...]], None]] = None
                    ) -> Tuple[dict, ...]:
    """Run ``fn()`` in IPython and return what it printed and displayed, in order, as nbformat outputs;
    ``on_change(outputs)`` is called with the outputs so far after each display, clear and finished line.

    For an ipywidgets ``Output`` filled while a cell runs: ``out.outputs = collect_outputs(...)`` instead
    of ``with out:``. The context manager asks the *frontend* to route the cell's messages into the
    widget; nbclient (``jupyter nbconvert --execute``, papermill, nbval) plays that part and answers each
    routed output with a ``comm_msg`` sent on the shell channel while it polls that channel for the
    cell's reply, and now and then the reply goes unnoticed until the poll times out: a whole cell
    timeout, or forever with no timeout (jupyter/nbclient issue 312). Gathered here, in the kernel, the
    outputs reach the widget as its state: any frontend shows them, none has to answer anything.
    Outside IPython ``fn`` just runs (its prints go to stdout) and the result is empty.

    In a widget callback, ``on_change=lambda o: setattr(out, "outputs", o)`` shows the outputs as they come
    (:func:`helpers.notebooks.widgets.interactive`). ``with out:`` did too, but the frontend then sends each
    captured output back to the kernel as the widget's new state, and JupyterLab (``commsOverSubshells``)
    sends those messages to a kernel subshell, whose busy -> idle for each of them, published while the main
    thread was still working, left JupyterLab's status reading Idle through a 10 s model export. State set
    by the kernel is not sent back: the status stays Busy until the callback returns.
    """
    if not _in_ipython():
        fn()
        return ()
    from IPython import get_ipython
    from IPython.core.displaypub import DisplayPublisher

    outputs: list = []
    ip = get_ipython()
    saved = ip.display_pub, sys.stdout, sys.stderr
    thread = threading.get_ident()

    def changed() -> None:
        if on_change is not None:
            on_change(tuple(dict(o) for o in outputs))

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            if threading.get_ident() != thread:  # e.g. a cell run meanwhile on another subshell
                return saved[0].publish(data, metadata, source, transient=transient, update=update, **kwargs)
            outputs.append({"output_type": "display_data", "data": data, "metadata": metadata or {}})
            changed()

        def clear_output(self, wait=False):
            if threading.get_ident() != thread:
                return saved[0].clear_output(wait)
            outputs.clear()
            changed()

    ip.display_pub = Publisher(shell=ip)
    sys.stdout = _Stream(outputs, "stdout", changed, saved[1])
    sys.stderr = _Stream(outputs, "stderr", changed, saved[2])
    try:
        fn()
    finally:
        ip.display_pub, sys.stdout, sys.stderr = saved
    return tuple(outputs)

"""Figures without pyplot: a :class:`matplotlib.figure.Figure` on the Agg canvas, written or shown as PNG.

Every figure the helpers make is built here, so none depends on (or changes) pyplot's global state or
the notebook's backend. The PNG is rendered at the figure's own dpi and never trimmed, so its pixel size
is exactly ``figsize x dpi``; a notebook shows it with ``IPython.display.Image(png(fig))``.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Tuple

DPI = 100


def figure(size: Tuple[float, float], dpi: int = DPI):
    """A new Figure of ``size`` inches on an Agg canvas, laid out by matplotlib's constrained layout
    (tick labels, titles and an ``outside`` legend get room inside the figure instead of being clipped)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png(fig) -> bytes:
    """``fig`` as PNG bytes at its own dpi (``figsize x dpi`` pixels)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def save(fig, path) -> Path:
    """Write ``fig`` as a PNG file (atomically) and return its path."""
    from helpers.board.files import atomic_write_bytes

    return atomic_write_bytes(Path(path), png(fig), overwrite=True)

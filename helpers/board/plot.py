"""Figures without pyplot: a :class:`matplotlib.figure.Figure` on its own Agg canvas, written or shown as PNG.

Every figure the helpers make is built by :func:`figure`. pyplot keeps each figure it makes in a registry until
it is closed, and the notebook's inline backend (matplotlib-inline ``flush_figures``, run after every cell and,
through ``comm``, after every widget message, under ipykernel 7 possibly on a subshell thread) shows and closes
every figure there, even one another thread is still drawing. A figure made here is in no registry, so nothing
but its maker touches it. :func:`png` renders it at its own dpi, never trimmed, so the PNG is exactly
``figsize x dpi`` pixels. Board-safe: matplotlib is imported inside the functions.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Optional, Tuple

#: the dpi of the figures written to files (README figures, sensitivity and demo plots)
DPI = 100


def figure(size: Tuple[float, float], dpi: float = DPI, layout: Optional[str] = None):
    """A new white Figure of ``size`` inches on an Agg canvas. ``layout="constrained"`` gives tick labels,
    titles and an ``outside`` legend room inside the figure instead of clipping them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi, facecolor="white", layout=layout)
    FigureCanvasAgg(fig)
    return fig


def png(fig) -> bytes:
    """``fig`` as PNG bytes at its own dpi and size: exactly figsize x dpi pixels (no tight crop)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches=fig.bbox_inches, facecolor=fig.get_facecolor())
    return buf.getvalue()


def save(fig, path) -> Path:
    """Write ``fig`` as a PNG file (atomically) and return its path."""
    from helpers.board.files import atomic_write_bytes

    return atomic_write_bytes(Path(path), png(fig), overwrite=True)

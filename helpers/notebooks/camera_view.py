"""A live camera view in a notebook: the annotated frame, redrawn in place. Board-safe.

No widgets: the frame is an image output updated through its display id (IPython's
``display(..., display_id=True)`` and ``handle.update``), which needs no comm channel, so the same cell runs
headless (nbval, nbconvert) and in JupyterLab. Frames are sent as JPEG to keep the notebook small.
"""
from __future__ import annotations

import time
from typing import Optional

from helpers.board import camera


def _jpeg(rgb) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes()


def caption(clf, result: camera.LiveResult) -> str:
    best = result.top[0]
    label = f"class {best.index}" if getattr(clf, "random_weights", False) else best.label[:30]
    return f"top-1: {label} ({best.prob:.2f})" + ("  [random weights]" if getattr(clf, "random_weights", False) else "")


def live_view(clf, source: camera.Source, seconds: float = 10.0, every: int = 5,
              frame_range: Optional[str] = None) -> Optional[camera.LiveResult]:
    """Classify ``source`` for ``seconds``, redrawing the annotated frame every ``every`` frames.

    Returns the last :class:`~helpers.board.camera.LiveResult` (FPS and the step split of the last
    ``every`` frames); ``seconds <= 0`` does nothing and returns None.
    """
    if seconds <= 0:
        return None
    from IPython.display import Image, display

    handle = None
    result = None
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        result = camera.classify_live(clf, source, frames=max(1, every), frame_range=frame_range)
        img = camera.annotate(result.last.rgb(frame_range or result.last.yuv_range or clf.yuv_range), caption(clf, result), fps=result.fps)
        if handle is None:
            handle = display(Image(data=_jpeg(img), format="jpeg"), display_id=True)
        else:
            handle.update(Image(data=_jpeg(img), format="jpeg"))
    return result

"""What every inference backend is: :class:`Backend`, its :class:`TensorInfo`, the NV12 feed check, and the
check that a board model file is for this board. Board-safe.

:mod:`helpers.board.runtime` (onnxruntime, hobot_dnn, bpu_infer_lib, and ``open_model``) and
:mod:`helpers.board.hbm` (hbm_runtime) both build on this module: ``runtime`` imports ``hbm``, and ``hbm``
needs nothing of ``runtime`` (ARCHITECTURE.md: no import cycles; ``tests/test_architecture.py``).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from helpers.board import registry
from helpers.errors import HelpersError


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: Tuple[int, ...]   # as the model reports it; NV12 inputs report (1, 3, H, W) like a .bin
    dtype: str               # "float32", "uint8", "int8", ... or "nv12" / "rgb" / "bgr" for image inputs
    layout: str              # "NCHW", "NHWC" or "NONE"
    note: str = ""           # board outputs: the buffer's type, alignment and dequantisation

    @property
    def hw(self) -> Tuple[int, int]:
        """(H, W) of an image input."""
        if len(self.shape) != 4:
            raise HelpersError(f"input {self.name!r} has shape {self.shape}; expected a 4-D image tensor")
        return (self.shape[1], self.shape[2]) if self.layout == "NHWC" else (self.shape[2], self.shape[3])

    def __str__(self) -> str:
        # "NONE" is the runtimes' word for a tensor that is not an image (e.g. 1x1000 scores): say that
        layout = self.layout if self.layout != "NONE" else "(not an image: no layout)"
        return f"{self.name}: {self.dtype} {list(self.shape)} {layout}" + (f" ({self.note})" if self.note else "")


class Backend(ABC):
    """A loaded model. ``run`` takes the single input's array (for an NV12 model: the packed NV12 bytes, Y
    then interleaved UV, whatever form the runtime wants) and returns the outputs."""

    name = "?"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.inputs: List[TensorInfo] = []
        self.outputs: List[TensorInfo] = []
        self.metadata: Dict[str, str] = {}
        self.notes: List[str] = []  # one-line notes on how it was opened (e.g. a runtime passed over)

    @abstractmethod
    def run(self, feed: np.ndarray) -> List[np.ndarray]:
        ...

    @property
    def input(self) -> TensorInfo:
        if len(self.inputs) != 1:
            raise HelpersError(f"{self.path.name} has {len(self.inputs)} inputs; these notebooks handle one")
        return self.inputs[0]

    def describe(self) -> str:
        lines = [f"model   : {self.path.name}", f"backend : {self.name}"]
        lines += [f"input   : {t}" for t in self.inputs]
        lines += [f"output  : {t}" for t in self.outputs]
        return "\n".join(lines)


def check_nv12_feed(feed: np.ndarray, info: TensorInfo) -> np.ndarray:
    h, w = info.hw
    need = h * w * 3 // 2
    if feed.dtype != np.uint8 or feed.size != need:
        raise HelpersError(f"NV12 input for {w}x{h} must be {need} uint8 bytes (W*H*3/2); "
                           f"got {feed.size} values of {feed.dtype}")
    return np.ascontiguousarray(feed.reshape(-1))


def board_key_here() -> Optional[str]:
    """"x3"/"x5"/"s100"/"s100p"/"s600" when this machine says which RDK it is (:mod:`helpers.board.identity`)."""
    from helpers.board.identity import board_here

    b = board_here()
    return b.key if b else None


def check_file_board(path: Path, fallback: Optional[Callable[[], Optional[str]]] = None) -> None:
    """A model file whose folder names another board (``.../rdk_x3/...``, ``.../rdk_s600/...``) than this one
    (:func:`board_key_here`, else what ``fallback()`` says, asked only then): one line naming the right folder."""
    made_for = registry.board_of_path(path)
    if not made_for:
        return
    here = board_key_here() or (fallback() if fallback else None)
    if made_for and here and made_for != here:
        b, h = registry.BOARDS[made_for], registry.BOARDS[here]
        raise HelpersError(f"{path.name} is the {b.name} build ({b.march}) but this is an {h.name} ({h.march}): "
                           f"use the file under {registry.BOARD_DIR[here]}/ (python -m helpers download --board {here})")

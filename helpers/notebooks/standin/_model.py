"""What both stand-ins share: open a model file, describe its tensors as the board's runtime reports
them, check a feed the way the vendor's runtime does, run it. Board-safe (onnxruntime is imported by
:class:`helpers.board.runtime.OrtBackend` when an ``.onnx`` is opened).

The input contract follows the vendor's current samples (``D-Robotics/rdk_model_zoo``,
``samples/_shared/cls_binding.py`` and ``samples/_shared/tensor_io.py``):

* X5 ``.bin``: one packed NV12 input, reported as ``(1, 3, H, W)`` uint8 ("observed NCHW source
  geometry"), fed as the flat ``H*W*3/2`` bytes (Y, then interleaved UV); the older samples fed the same
  bytes as ``(1, H*3/2, W, 1)``, which is accepted too. Our NV12 board-model ONNX stores it as
  ``(1, H*3/2, W)`` and is reported the same way.
* S100/S600 ``.hbm``: two inputs, ``y`` ``(1, H, W, 1)`` and ``uv`` ``(1, H/2, W/2, 2)`` uint8. A board
  model ONNX with two inputs is reported as it declares them and fed by name, shape for shape.

Outputs come back as float32 (the board model computes in float): ``quant_type`` NONE.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from helpers.board.meta import META_INPUT_TYPE
from helpers.errors import HelpersError

_ORT_TYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int8)": "int8",
              "tensor(float16)": "float16", "tensor(int64)": "int64", "tensor(int32)": "int32"}


class StandinRuntimeError(HelpersError, RuntimeError):
    """A feed or file the vendor's runtime would refuse (it raises RuntimeError); one line, with the fix."""


class StandinTypeError(HelpersError, TypeError):
    """A feed of the wrong dtype: the vendor's runtime casts nothing (it raises TypeError)."""


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: Tuple[int, ...]        # as the board's runtime reports it
    dtype: str                    # numpy dtype name of the array it takes or gives
    packed_nv12: bool = False     # one packed NV12 input: H*W*3/2 bytes, reported (1, 3, H, W)
    feed_shape: Tuple[int, ...] = ()  # what the underlying runtime is given

    @property
    def packed_shapes(self) -> Tuple[Tuple[int, ...], ...]:
        """The shapes a packed NV12 feed may have: flat (today's samples) or (1, H*3/2, W, 1) (older ones)."""
        h, w = self.shape[2], self.shape[3]
        return (h * w * 3 // 2,), (1, h * 3 // 2, w, 1)


class StandinModel:
    """One model file, run by what this machine has: onnxruntime for an ``.onnx``; for a board file, the
    board runtime :mod:`helpers.board.runtime` finds (only where the vendor's own module is missing)."""

    def __init__(self, path, api: str):
        self.path = Path(path)
        if not self.path.is_file():
            raise StandinRuntimeError(f"model file not found: {self.path}; give the NV12 board model "
                                      "(model/<Arch>/*_nv12.onnx, python -m helpers board-model KEY) or a board file")
        self.name = self.path.stem
        self.inputs: List[Tensor] = []
        self.outputs: List[Tensor] = []
        if self.path.suffix.lower() == ".onnx":
            self._open_onnx()
        else:
            self._open_board_file()
        what = "CPU numbers, not the BPU's" if self._ort is not None else f"{api} itself is not installed here"
        print(f"STAND-IN, not {api}: {self.path.name} runs on {self.where} (helpers.notebooks.standin: "
              f"{api}'s API only; {what})")

    def _open_onnx(self) -> None:
        from helpers.board.runtime import OrtBackend

        self._ort = OrtBackend(self.path)
        self._board = None
        self.where = "onnxruntime"
        packed = self._ort.metadata.get(META_INPUT_TYPE) == "nv12" and len(self._ort.session.get_inputs()) == 1
        for a in self._ort.session.get_inputs():
            shape = tuple(d if isinstance(d, int) else -1 for d in a.shape)
            dtype = _ORT_TYPES.get(a.type, a.type)
            if packed and dtype == "uint8" and len(shape) == 3:  # stored (1, H*3/2, W): reported like the .bin
                self.inputs.append(Tensor(a.name, (1, 3, shape[1] * 2 // 3, shape[2]), dtype, True, shape))
            else:
                self.inputs.append(Tensor(a.name, shape, dtype, False, shape))
        for o in self._ort.session.get_outputs():
            shape = tuple(d if isinstance(d, int) else -1 for d in o.shape)
            self.outputs.append(Tensor(o.name, shape, _ORT_TYPES.get(o.type, o.type)))

    def _open_board_file(self) -> None:
        from helpers.board.runtime import open_model

        try:
            self._board = open_model(self.path)
        except HelpersError as e:
            raise StandinRuntimeError(str(e)) from None
        self._ort = None
        self.where = f"{self._board.name} through helpers.board.runtime"
        for t in self._board.inputs:
            if t.dtype == "nv12":
                h, w = t.hw
                self.inputs.append(Tensor(t.name, (1, 3, h, w), "uint8", True, (h * w * 3 // 2,)))
            else:
                self.inputs.append(Tensor(t.name, tuple(t.shape), t.dtype, False, tuple(t.shape)))
        self.outputs = [Tensor(t.name, tuple(t.shape), "float32") for t in self._board.outputs]  # decoded

    def _check(self, t: Tensor, value) -> np.ndarray:
        if not isinstance(value, np.ndarray):
            raise StandinTypeError(f"input {t.name!r} must be a numpy array, got {type(value).__name__}")
        if value.dtype != np.dtype(t.dtype):
            raise StandinTypeError(f"input {t.name!r} must be {t.dtype} (the runtime casts nothing); got "
                                   f"{value.dtype}: convert it with .astype(np.{t.dtype})")
        allowed = t.packed_shapes if t.packed_nv12 else (t.shape,)
        if tuple(value.shape) not in allowed:
            raise StandinRuntimeError(f"input {t.name!r} must have shape " + " or ".join(str(list(s)) for s in allowed)
                                      + f"; got {list(value.shape)}")
        return np.ascontiguousarray(value).reshape(t.feed_shape)

    def run(self, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
        """``{input name: array}`` -> ``{output name: float32 array}``, checked as the vendor's runtime checks."""
        if not isinstance(feeds, dict):
            raise StandinTypeError(f"give the inputs as {{input name: array}}, got {type(feeds).__name__}")
        names = [t.name for t in self.inputs]
        if sorted(feeds) != sorted(names):
            raise StandinRuntimeError(f"{self.name} takes the inputs {names}; got {sorted(feeds)}")
        given = {t.name: self._check(t, feeds[t.name]) for t in self.inputs}
        if self._ort is not None:
            outs = self._ort.session.run(None, given)
        else:
            outs = self._board.run(given[names[0]])
        return {t.name: np.asarray(o, np.float32).reshape(t.shape) for t, o in zip(self.outputs, outs)}

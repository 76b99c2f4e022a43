"""Shared by the fake ``hobot_dnn`` and ``bpu_infer_lib``: a ".bin" runs its sibling NV12 ONNX.

A fake ``X.bin`` is any non-empty file; next to it must lie ``X.onnx``, an NV12 board-model ONNX
(input ``uint8 (1, H*3/2, W)``, as ``helpers.pc.board_model`` builds). The fake runs it with
onnxruntime and reports the tensors the way the vendor runtimes do for a 1000-class NV12 .bin.
Not part of the project's code: it exists so tests can run the board path on a PC.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: what the fake hobot_dnn reports as the input ``tensor_type``: 'NV12' or 'NV12_SEPARATE'
TENSOR_TYPE_ENV = "FAKE_BOARD_TENSOR_TYPE"


class FakeModel:
    """The sibling ONNX of a fake .bin, run on onnxruntime."""

    def __init__(self, bin_path):
        import onnxruntime as ort

        bin_path = Path(bin_path)
        if not bin_path.is_file() or bin_path.stat().st_size == 0:
            raise FileNotFoundError(f"fake board: no model file {bin_path}")
        onnx_path = bin_path.with_suffix(".onnx")
        if not onnx_path.is_file():
            raise FileNotFoundError(f"fake board: {bin_path.name} needs its sibling {onnx_path.name}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        if inp.type != "tensor(uint8)" or len(inp.shape) != 3:
            raise ValueError(f"fake board: {onnx_path.name} is not an NV12 board model (input {inp.type} {inp.shape})")
        self.feed_name, self.feed_shape = inp.name, tuple(inp.shape)
        self.height, self.width = inp.shape[1] * 2 // 3, inp.shape[2]
        self.name = bin_path.stem
        self.input_name = inp.name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.output_shapes = [self._board_shape(o.shape) for o in self.session.get_outputs()]

    @staticmethod
    def _board_shape(shape):
        n = int(np.prod([d for d in shape if isinstance(d, int)]))
        return (1, n, 1, 1)  # a classifier .bin reports its logits as N x C x 1 x 1

    @property
    def nv12_size(self) -> int:
        return self.height * self.width * 3 // 2

    def check_feed(self, arr) -> np.ndarray:
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8:
            raise TypeError("Input must be a NumPy array of type uint8.")
        if arr.size != self.nv12_size:
            raise ValueError(f"fake board: NV12 input needs {self.nv12_size} bytes, got {arr.size}")
        return arr

    def run(self, arr) -> list:
        flat = np.ascontiguousarray(self.check_feed(arr)).reshape(self.feed_shape)
        outs = self.session.run(None, {self.feed_name: flat})
        return [np.asarray(o, np.float32).reshape(s) for o, s in zip(outs, self.output_shapes)]


def input_tensor_type() -> str:
    value = os.environ.get(TENSOR_TYPE_ENV, "NV12")
    if value not in ("NV12", "NV12_SEPARATE"):
        raise ValueError(f"{TENSOR_TYPE_ENV} must be NV12 or NV12_SEPARATE, got {value!r}")
    return value

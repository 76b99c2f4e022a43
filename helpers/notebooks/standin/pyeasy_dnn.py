"""The PC stand-in of ``hobot_dnn.pyeasy_dnn`` (see :mod:`helpers.notebooks.standin`).

Follows D-Robotics' ``dnn_python`` (hobot_dnn 2.x, the system image of RDK X3 and of X5 images before
RDK OS 3.5; sources in :mod:`helpers.board.vendor`): ``load(path)`` returns a list of models, each with
``name``, ``inputs``, ``outputs`` and ``forward``; a tensor has ``name`` and ``properties``
(``tensor_type``, ``dtype``, ``layout``, ``shape``, ``scale_data``); ``forward`` takes the NV12 bytes as
one ``(H*3/2, W)`` uint8 array (hobot_dnn 2.x) or a list of one (``hobot_dnn_rdkx5`` 3.x) and returns
the output tensors, whose ``buffer`` is a numpy array. The stand-in's outputs are float32
(``scale_data`` empty). Names checked against the wheel's strings by ``tests/notebooks/test_standin.py``.
"""
from __future__ import annotations

from pathlib import Path
from typing import List

import numpy as np

from helpers.notebooks.standin._model import StandinModel, StandinRuntimeError, StandinTypeError

__all__ = ["load"]

_TENSOR_TYPE = {"uint8": "uint8", "int8": "int8", "float32": "float32", "int32": "int32", "float16": "float16"}


class TensorProperties:
    def __init__(self, t, nv12: bool):
        self.tensor_type = "NV12" if nv12 else _TENSOR_TYPE.get(t.dtype, t.dtype)
        self.dtype = "uint8" if nv12 else _TENSOR_TYPE.get(t.dtype, t.dtype)
        self.layout = "NCHW" if len(t.shape) == 4 else "NONE"
        self.shape = tuple(t.shape)
        self.scale_data = np.zeros(0, np.float32)


class pyDNNTensor:
    def __init__(self, t, nv12: bool = False, buffer=None):
        self.name = t.name
        self.properties = TensorProperties(t, nv12)
        self.buffer = buffer


class Model:
    def __init__(self, path: str):
        if str(path).lower().endswith(".hbm"):  # checked before anything is loaded or printed
            raise StandinRuntimeError(f"{Path(path).name}: the RDK S boards have no pyeasy_dnn and it runs no .hbm "
                                      "files; run it with hbm_runtime (HB_HBMRuntime)")
        self._m = StandinModel(path, "hobot_dnn.pyeasy_dnn")
        if len(self._m.inputs) != 1 or not self._m.inputs[0].packed_nv12:
            raise StandinRuntimeError(f"{self._m.path.name} does not take one packed NV12 input; pyeasy_dnn runs "
                                      "X3/X5 .bin files (S-series .hbm files: use hbm_runtime)")
        self.name = self._m.name
        self.inputs = [pyDNNTensor(self._m.inputs[0], nv12=True)]
        self.outputs = [pyDNNTensor(t) for t in self._m.outputs]

    def forward(self, arg, core_id: int = 0, priority: int = 0):
        if isinstance(arg, list):
            if len(arg) != 1:
                raise StandinRuntimeError(f"{self.name} has one input; give a list of one array")
            arg = arg[0]
        t = self._m.inputs[0]
        h, w = t.shape[2], t.shape[3]
        if not isinstance(arg, np.ndarray) or arg.dtype != np.uint8:
            raise StandinTypeError("forward takes the NV12 bytes as a uint8 numpy array")
        if arg.size != h * w * 3 // 2:
            raise StandinRuntimeError(f"{self.name} takes {h * w * 3 // 2} NV12 bytes ({w}x{h}, W*H*3/2) as an "
                                      f"array of shape ({h * 3 // 2}, {w}); got {arg.size} values")
        outs = self._m.run({t.name: arg.reshape(-1)})
        return [pyDNNTensor(o, buffer=outs[o.name]) for o in self._m.outputs]


def load(model_file) -> List[Model]:
    """A list of models, one per file (``model_file``: a path or a list of paths)."""
    files = [model_file] if isinstance(model_file, str) else model_file
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise StandinTypeError("load takes a model file path (str) or a list of them")
    return [Model(f) for f in files]

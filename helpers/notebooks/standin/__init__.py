"""A PC stand-in of the vendor's board runtimes, so that the test notebooks' vendor cells run unchanged on a PC.

``from helpers.notebooks.standin import HB_HBMRuntime`` is the fallback of
``from hbm_runtime import HB_HBMRuntime`` (RDK X5 with RDK OS >= 3.5: in the image, package ``hobot-spdev``;
RDK S100/S600: the S-series build, also the wheel ``hbm-runtime``); ``from helpers.notebooks.standin import
pyeasy_dnn`` the fallback of ``from hobot_dnn import pyeasy_dnn`` (RDK X3, and X5 images before RDK OS 3.5;
the RDK S boards have none, and the stand-in refuses their ``.hbm`` files too).

Both offer the vendor's API and nothing more: every public name of every object they hand out is one
the vendor has (``tests/notebooks/test_standin.py`` checks them against
``tests/fake_board/vendor_surface.json``: the ``hbm-runtime`` wheel's ``.pyi`` class by class, and the
``hobot-dnn-rdkx5`` wheel's identifier strings). They run the NV12 board-model ONNX
(``model/<Arch>/*_nv12.onnx``) on onnxruntime, and say so in one printed line when a model is loaded.
On a board whose image lacks the module (e.g. ``hbm_runtime`` on an RDK X3), a ``.bin`` runs through
the board runtime :mod:`helpers.board.runtime` finds, and the line says that too.

What this module follows, from the wheel's ``hbm_runtime/HB_HBMRuntime.pyi``: ``HB_HBMRuntime(path)``
or ``HB_HBMRuntime([paths])``; the ``model_names`` list; ``input_names`` / ``output_names`` (lists) and
``input_shapes``, ``input_dtypes``, ``input_quants``, ``input_strides`` and their ``output_`` twins
(dicts by tensor name), all keyed by model name; ``run`` with one array, ``{input: array}`` or
``{model: {input: array}}``, returning ``{model: {output: array}}``. ``QuantParams`` has ``quant_type``,
``axis``, ``scale``, ``zero_point``. The enums are the stub's names; their numbers here are the stub's
order (``hbDNNQuantiType`` NONE = 0, SCALE = 1, as ``samples/_shared/quantization.py`` of
``D-Robotics/rdk_model_zoo`` reads it): compare with the names, never with numbers.
Board-safe: numpy and :mod:`helpers.board` at import.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np

from helpers.notebooks.standin._model import StandinModel, StandinRuntimeError, StandinTypeError

__all__ = ["HB_HBMRuntime", "hbDNNDataType", "hbDNNQuantiType", "QuantParams"]

#: what HB_HBMRuntime.version() answers here
VERSION = "stand-in (helpers.notebooks.standin) of hbm_runtime 0.1.0.post1"


class _Member(int):
    """An enum value: an int that prints as ``hbDNNDataType.F32``, as the vendor's pybind11 enums do."""

    def __new__(cls, value: int, text: str):
        obj = super().__new__(cls, value)
        obj._text = text
        return obj

    def __repr__(self) -> str:
        return self._text

    __str__ = __repr__


def _members(cls):
    for i, n in enumerate(cls._NAMES):
        setattr(cls, n, _Member(i, f"{cls.__name__}.{n}"))
    return cls


@_members
class hbDNNDataType:
    """Tensor data types (the stub's names, in its order)."""

    _NAMES = ("S4", "U4", "S8", "U8", "F16", "S16", "U16", "F32", "S32", "U32", "F64", "S64", "U64", "BOOL8", "MAX")


@_members
class hbDNNQuantiType:
    """Quantisation types: NONE, SCALE."""

    _NAMES = ("NONE", "SCALE")


_NUMPY_TO_TYPE = {"int8": "S8", "uint8": "U8", "float16": "F16", "int16": "S16", "uint16": "U16", "float32": "F32",
                  "int32": "S32", "uint32": "U32", "float64": "F64", "int64": "S64", "uint64": "U64", "bool": "BOOL8"}


class QuantParams:
    """How a tensor is quantised. The stand-in's tensors are float or image bytes: NONE, no scales."""

    def __init__(self):
        self.quant_type = hbDNNQuantiType.NONE
        self.axis = 0
        self.scale = np.zeros(0, np.float32)
        self.zero_point = np.zeros(0, np.int32)


def _strides(shape, dtype: str) -> List[int]:
    out, step = [], np.dtype(dtype).itemsize
    for d in reversed(list(shape)):
        out.append(step)
        step *= max(int(d), 1)
    return list(reversed(out))


class HB_HBMRuntime:
    """The PC stand-in of ``hbm_runtime.HB_HBMRuntime`` (see the module docstring)."""

    def __init__(self, model_file):
        files = [model_file] if isinstance(model_file, str) else model_file
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise StandinTypeError("HB_HBMRuntime takes a model file path (str) or a list of them")
        models = [StandinModel(f, "hbm_runtime") for f in files]
        self._models = {m.name: m for m in models}
        if len(self._models) != len(models):
            raise StandinRuntimeError("two model files have the same name; load each model once")

    @staticmethod
    def version() -> str:
        return VERSION

    @property
    def model_names(self) -> List[str]:
        return list(self._models)

    @property
    def model_count(self) -> int:
        return len(self._models)

    def _each(self, side: str, what) -> Dict[str, Dict[str, object]]:
        return {n: {t.name: what(t) for t in getattr(m, side)} for n, m in self._models.items()}

    @property
    def input_counts(self) -> Dict[str, int]:
        return {n: len(m.inputs) for n, m in self._models.items()}

    @property
    def input_names(self) -> Dict[str, List[str]]:
        return {n: [t.name for t in m.inputs] for n, m in self._models.items()}

    @property
    def input_shapes(self) -> Dict[str, Dict[str, List[int]]]:
        return self._each("inputs", lambda t: list(t.shape))

    @property
    def input_dtypes(self):
        return self._each("inputs", lambda t: getattr(hbDNNDataType, _NUMPY_TO_TYPE[t.dtype]))

    @property
    def input_quants(self):
        return self._each("inputs", lambda t: QuantParams())

    @property
    def input_strides(self):
        return self._each("inputs", lambda t: _strides(t.shape, t.dtype))

    @property
    def output_counts(self) -> Dict[str, int]:
        return {n: len(m.outputs) for n, m in self._models.items()}

    @property
    def output_names(self) -> Dict[str, List[str]]:
        return {n: [t.name for t in m.outputs] for n, m in self._models.items()}

    @property
    def output_shapes(self) -> Dict[str, Dict[str, List[int]]]:
        return self._each("outputs", lambda t: list(t.shape))

    @property
    def output_dtypes(self):
        return self._each("outputs", lambda t: getattr(hbDNNDataType, _NUMPY_TO_TYPE[t.dtype]))

    @property
    def output_quants(self):
        return self._each("outputs", lambda t: QuantParams())

    @property
    def output_strides(self):
        return self._each("outputs", lambda t: _strides(t.shape, t.dtype))

    def run(self, *args, **kwargs) -> Dict[str, Dict[str, np.ndarray]]:
        """One array (one model, one input), ``{input: array}`` (one model) or ``{model: {input: array}}``."""
        if kwargs:
            raise StandinTypeError(f"the stand-in takes no run options ({', '.join(kwargs)}): scheduling is the BPU's")
        if len(args) != 1:
            raise StandinTypeError("run takes one argument: an array, {input: array} or {model: {input: array}}")
        arg = args[0]
        if isinstance(arg, np.ndarray):
            if len(self._models) != 1 or len(next(iter(self._models.values())).inputs) != 1:
                raise StandinRuntimeError("a bare array needs one model with one input; give {model: {input: array}}")
            m = next(iter(self._models.values()))
            return {m.name: m.run({m.inputs[0].name: arg})}
        if not isinstance(arg, dict):
            raise StandinTypeError(f"run takes an array or a dict, got {type(arg).__name__}")
        if arg and all(isinstance(v, dict) for v in arg.values()):
            unknown = [n for n in arg if n not in self._models]
            if unknown:
                raise StandinRuntimeError(f"unknown model(s) {unknown}; loaded: {self.model_names}")
            return {n: self._models[n].run(feeds) for n, feeds in arg.items()}
        if len(self._models) != 1:
            raise StandinRuntimeError("with several models loaded, give {model: {input: array}}")
        m = next(iter(self._models.values()))
        return {m.name: m.run(arg)}

"""What the RDK board runtimes hand back, decoded: enum values, tensor shapes, raw output buffers. Board-safe.

Written from the vendor's own material, not from our reading of the docs:

* the C enums of the BPU runtime header ``hb_dnn.h``: ``hbDNNDataType`` (``HB_DNN_IMG_TYPE_Y`` = 0 ...
  ``HB_DNN_TENSOR_TYPE_U64`` = 18), ``hbDNNTensorLayout`` (NHWC = 0, NCHW = 2, NONE = 255),
  ``hbDNNQuantiType`` (NONE = 0, SHIFT = 1, SCALE = 2); dequantise ``x * scaleData[i]`` (minus
  ``zeroPointData[i]`` when given) along ``quantizeAxis``, or ``x / 2**shiftData[i]``;
* D-Robotics' ``dnn_python`` source of ``hobot_dnn.pyeasy_dnn`` (``dnn_python.cpp``, package hobot_dnn 2.3.0):
  ``TensorProperties`` has ``tensor_type`` and ``dtype`` (strings from a table indexed by hbDNNDataType:
  "NV12", "int8", "float32", ...), ``layout`` ("NHWC"/"NCHW"/"NONE"), ``shape`` (validShape) and
  ``scale_data`` (the per-channel scales); ``pyDNNTensor.buffer`` is a 4-D numpy array of the tensor's own
  type (int8/int32/float32: raw integers when the output is quantised); ``load`` raises RuntimeError
  ("hbDNNInitializeFromFiles failed"); ``forward`` returns None when the inference fails;
* the symbol strings of the wheels ``hobot-dnn-rdkx5`` 3.0.6 (adds ``alignedShape`` and ``validShape``)
  and ``bpu_infer_lib_x3`` 1.0.3 (``Property``: ``validShape``/``alignedShape`` as ``TensorShape``
  with ``dimensionSize``/``numDimensions``, ``tensorType``, ``tensorLayout``, ``quantiType``,
  ``quantizeAxis``, ``scale`` (``scaleData``, ``scaleLen``, ``zeroPointData``, ``zeroPointLen``),
  ``shift`` (``shiftData``, ``shiftLen``)), recorded in ``tests/fake_board/vendor_surface.json`` by
  ``tests/fake_board/record_vendor_surface.py``;
* ``hbm_runtime`` (used by :mod:`helpers.board.hbm`): the stub ``hbm_runtime/HB_HBMRuntime.pyi`` of the wheel
  ``hbm-runtime`` 0.1.0.post1 (``QuantParams``: ``quant_type`` NONE/SCALE, ``axis``, ``scale``, ``zero_point``;
  ``output_strides``; an ``hbDNNDataType`` numbered its own way, so its values are read by name), its
  ``__init__`` (RuntimeError when ``libhbucp.so``/``libdnn.so`` are missing) and the strings of
  ``HB_HBMRuntime.so`` (all in the same record), and D-Robotics/rdk_model_zoo ``samples/_shared/``
  (``cls_binding.py``, ``runtime_meta.py``, ``tensor_io.py``, ``quantization.py``): what its X5 and S builds
  report and take.

An enum may come back as the C integer, a pybind11 enum, or a string with or without its
``HB_DNN_*`` prefix: :func:`data_type` and :func:`layout` accept all of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from helpers.errors import HelpersError

#: hbDNNDataType in enum order (hb_dnn.h); the index is the C value
DATA_TYPES = ("Y", "NV12", "NV12_SEPARATE", "YUV444", "RGB", "BGR", "S4", "U4", "S8", "U8", "F16", "S16",
              "U16", "F32", "S32", "U32", "F64", "S64", "U64")
#: dnn_python's names for the same values (its TensorType[] table)
_DNN_PYTHON_NAMES = {"int4": "S4", "uint4": "U4", "int8": "S8", "uint8": "U8", "float16": "F16", "int16": "S16",
                     "uint16": "U16", "float32": "F32", "int32": "S32", "uint32": "U32", "float64": "F64",
                     "int64": "S64", "uint64": "U64"}
NUMPY_OF = {"S8": "int8", "U8": "uint8", "F16": "float16", "S16": "int16", "U16": "uint16", "F32": "float32",
            "S32": "int32", "U32": "uint32", "F64": "float64", "S64": "int64", "U64": "uint64"}
IMAGE_TYPES = {"Y": "y", "NV12": "nv12", "NV12_SEPARATE": "nv12", "YUV444": "yuv444", "RGB": "rgb", "BGR": "bgr"}
LAYOUTS = {0: "NHWC", 2: "NCHW", 255: "NONE"}
QUANTI_TYPES = {0: "none", 1: "shift", 2: "scale"}


def _enum_text(value) -> Tuple[Optional[int], str]:
    """(integer value or None, upper-case name without the HB_DNN_* prefix) of an enum in any form."""
    if isinstance(value, (bool, type(None))):
        return None, ""
    if isinstance(value, (int, np.integer)):
        return int(value), ""
    if isinstance(value, str):
        text = value
    else:  # a pybind11 enum: int() gives the value, str() "Type.HB_DNN_..."
        try:
            return int(value), ""
        except (TypeError, ValueError):
            text = str(value)
    text = text.rsplit(".", 1)[-1].strip()
    for prefix in ("HB_DNN_IMG_TYPE_", "HB_DNN_TENSOR_TYPE_", "HB_DNN_LAYOUT_", "HB_DNN_"):
        if text.upper().startswith(prefix):
            text = text[len(prefix):]
    return None, text


def data_type(value) -> str:
    """hbDNNDataType as its short name ("NV12", "S8", "F32", ...) from an int, a pybind enum or a string."""
    num, text = _enum_text(value)
    if num is not None:
        if 0 <= num < len(DATA_TYPES):
            return DATA_TYPES[num]
        raise HelpersError(f"the runtime reported tensor type {num}, which hb_dnn.h does not define")
    name = _DNN_PYTHON_NAMES.get(text.lower(), text.upper())
    if name not in DATA_TYPES:
        raise HelpersError(f"the runtime reported tensor type {value!r}, which hb_dnn.h does not define")
    return name


def layout(value) -> str:
    """hbDNNTensorLayout as "NHWC"/"NCHW"/"NONE"."""
    num, text = _enum_text(value)
    if num is not None:
        return LAYOUTS.get(num, "NONE")
    text = text.upper()
    return text if text in ("NHWC", "NCHW") else "NONE"


def quanti_type(value) -> str:
    num, text = _enum_text(value)
    if num is not None:
        return QUANTI_TYPES.get(num, "none")
    return text.lower() if text.lower() in ("shift", "scale") else "none"


def dims(shape) -> Tuple[int, ...]:
    """A shape as a tuple: a ``TensorShape`` (``dimensionSize`` + ``numDimensions``) or any sequence."""
    if shape is None:
        return ()
    if hasattr(shape, "dimensionSize"):
        n = int(getattr(shape, "numDimensions", 0) or 0)
        return tuple(int(d) for d in list(shape.dimensionSize)[:n])
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise HelpersError(f"the runtime reported a shape of type {type(shape).__name__}; expected a "
                           "TensorShape or a sequence") from None


def values(arr, length=None) -> np.ndarray:
    """A vendor array field (numpy array, list, or pointer-like) as a 1-D numpy array of ``length``."""
    if arr is None:
        return np.zeros(0)
    a = np.asarray(arr).reshape(-1)
    return a[: int(length)] if length is not None and int(length) >= 0 else a


@dataclass(frozen=True)
class OutputCodec:
    """How to turn one output tensor's raw buffer into float32 logits laid out as ``valid`` (NCHW)."""

    valid: Tuple[int, ...]
    aligned: Tuple[int, ...]          # () when the runtime does not report it
    dtype: str                        # short hbDNNDataType name of the buffer ("F32", "S8", "S32", ...)
    layout: str                       # "NCHW", "NHWC" or "NONE"
    quant: str = "none"               # "none", "scale" or "shift"
    scale: Tuple[float, ...] = ()
    zero_point: Tuple[float, ...] = ()
    shift: Tuple[int, ...] = ()
    axis: Optional[int] = None        # quantizeAxis; None: the channel axis of ``layout``

    def describe(self) -> str:
        parts = [f"buffer {NUMPY_OF.get(self.dtype, self.dtype)}"]
        if self.aligned and self.aligned != self.valid:
            parts.append(f"aligned {list(self.aligned)}")
        if self.quant == "scale":
            parts.append(f"dequantised by {len(self.scale)} scale(s)")
        elif self.quant == "shift":
            parts.append(f"dequantised by {len(self.shift)} shift(s)")
        return ", ".join(parts)

    def decode(self, raw, name: str = "output") -> np.ndarray:
        """Raw buffer -> float32 array of ``valid`` shape (NHWC turned NCHW): padding cut, dequantised."""
        if raw is None:
            raise HelpersError(f"the runtime returned no buffer for {name}; the inference failed (see the log above)")
        a = np.asarray(raw)
        n_valid = int(np.prod(self.valid)) if self.valid else a.size
        if self.aligned and self.aligned != self.valid and a.size == int(np.prod(self.aligned)):
            a = a.reshape(self.aligned)[tuple(slice(0, v) for v in self.valid)]
        elif a.size == n_valid and self.valid:
            a = a.reshape(self.valid)
        else:
            raise HelpersError(f"{name}: the runtime gave {a.size} values but the tensor is {list(self.valid)}"
                               + (f" (aligned {list(self.aligned)})" if self.aligned else "")
                               + "; report it with the output of python -m helpers doctor")
        is_int = np.issubdtype(a.dtype, np.integer)
        axis = self._axis(a.ndim)
        if self.quant == "scale" or (is_int and self.scale):
            a = self._apply(a.astype(np.float64), axis, self.scale, self.zero_point)
        elif self.quant == "shift":
            a = self._apply(a.astype(np.float64), axis, tuple(2.0 ** -s for s in self.shift), ())
        elif is_int:
            raise HelpersError(f"{name} is {a.dtype} with no scale or shift to dequantise it: rebuild the .bin "
                               "without remove_node_type Dequantize (and without set_model_output_int8)")
        if self.layout == "NHWC" and a.ndim == 4:
            a = a.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(a, dtype=np.float32)

    def _axis(self, ndim: int) -> int:
        if self.axis is not None and 0 <= self.axis < ndim:
            return self.axis
        return 3 if (self.layout == "NHWC" and ndim == 4) else min(1, ndim - 1)

    @staticmethod
    def _apply(a: np.ndarray, axis: int, factors: Sequence[float], zero: Sequence[float]) -> np.ndarray:
        f = np.asarray(factors, np.float64)
        if f.size == 0:
            return a
        shape = [1] * a.ndim
        if f.size == 1:
            shape = [1] * a.ndim
        elif a.ndim and f.size == a.shape[axis]:
            shape[axis] = f.size
        else:
            raise HelpersError(f"{f.size} quantisation factors for an axis of {a.shape[axis] if a.ndim else 0}; "
                               "report it with the output of python -m helpers doctor")
        if len(zero):
            a = a - np.asarray(zero, np.float64).reshape(shape if len(zero) == f.size else [1] * a.ndim)
        return a * f.reshape(shape)

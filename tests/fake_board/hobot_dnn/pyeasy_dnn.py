"""Fake ``hobot_dnn.pyeasy_dnn`` (tests only): the surface of D-Robotics' ``dnn_python`` (hobot_dnn 2.x,
the system image), ``dnn_python.cpp``:

* ``load(model_file)`` -> list of ``Model``; a file that does not load raises
  ``RuntimeError("hbDNNInitializeFromFiles failed")``;
* ``Model``: ``name``, ``inputs``, ``outputs``, ``estimate_latency``, ``forward(arg, core_id=0, priority=0)``;
  ``forward`` copies ``dims[0] * dims[1]`` bytes of the array (for a 1-D uint8 array dims[1] reads its
  stride, 1) and returns the output tensors, or None when the inference fails;
* ``pyDNNTensor``: ``name``, ``properties``, ``buffer`` (4-D numpy array of validShape in the tensor's
  type: float32, or int8/int32 raw when quantised);
* ``TensorProperties``: ``tensor_type`` / ``dtype`` (strings: "NV12", "float32", "int8"; ``dtype`` of an
  image type is "uint8"), ``layout`` ("NCHW"/"NHWC"), ``shape`` (validShape), ``scale_data`` (numpy float32).

``FAKE_BOARD_TENSOR_TYPE=NV12_SEPARATE`` makes the input report NV12_SEPARATE.
"""
import os

import numpy as np

from _fake_common import FakeBin

TENSOR_TYPE_ENV = "FAKE_BOARD_TENSOR_TYPE"
#: dnn_python's TensorType[] table (index = hbDNNDataType)
TENSOR_TYPE_NAMES = ("Y", "NV12", "NV12_SEPARATE", "YUV444", "RGB", "BGR", "int4", "uint4", "int8", "uint8",
                     "float16", "int16", "uint16", "float32", "int32", "uint32", "float64", "int64", "uint64")
_SHORT = ("Y", "NV12", "NV12_SEPARATE", "YUV444", "RGB", "BGR", "S4", "U4", "S8", "U8", "F16", "S16", "U16",
          "F32", "S32", "U32", "F64", "S64", "U64")


class TensorProperties:
    def __init__(self, type_name, layout, valid, scale=None, aligned=None, _new_surface=False):
        i = _SHORT.index(type_name)
        self.tensor_type = TENSOR_TYPE_NAMES[i]
        self.dtype = "uint8" if i < 6 else TENSOR_TYPE_NAMES[i]
        self.layout = layout
        self.shape = tuple(valid)
        self.scale_data = np.asarray(scale if scale is not None else [], np.float32)
        if _new_surface:  # hobot-dnn-rdkx5 3.x adds these two
            self.validShape = tuple(valid)
            self.alignedShape = tuple(aligned or valid)


class pyDNNTensor:
    def __init__(self, name, properties, buffer=None):
        self.name, self.properties, self.buffer = name, properties, buffer


class Model:
    _new_surface = False  # hobot_dnn 2.x

    def __init__(self, path):
        self._m = m = FakeBin(path)
        self.name = m.name
        self.estimate_latency = 100
        in_type = os.environ.get(TENSOR_TYPE_ENV, m.input_type) if m.input_type.startswith("NV12") else m.input_type
        self.inputs = [pyDNNTensor("data", TensorProperties(in_type, m.input_layout, m.input_shape,
                                                            _new_surface=self._new_surface))]
        self.outputs = [pyDNNTensor("output", TensorProperties(m.out_type, m.out_layout, m.output_valid, m.scales,
                                                               m.output_aligned, self._new_surface))]

    def _copied(self, arg) -> bytes:
        arr = np.asarray(arg, dtype=np.uint8)  # PyArray_FROM_OTF(arg, NPY_UBYTE, ...) converts silently
        second = arr.shape[1] if arr.ndim > 1 else (arr.strides[0] if arr.ndim == 1 else 1)
        n = int(arr.shape[0] if arr.ndim else 1) * int(second)
        return np.ascontiguousarray(arr).reshape(-1)[:n].tobytes()

    def _outputs(self, raw):
        buf = raw if self._new_surface else self._m.valid_view(raw)
        return [pyDNNTensor(t.name, t.properties, buf) for t in self.outputs]

    def forward(self, arg, core_id=0, priority=0):
        return self._outputs(self._m.run(self._copied(arg)))


def load(model_file):
    if not isinstance(model_file, (str, list)):
        raise TypeError("model_file must be a string or a list")
    files = [model_file] if isinstance(model_file, str) else model_file
    return [Model(f) for f in files]

"""Fake ``bpu_infer_lib`` (tests only), shaped after the symbol strings of the wheel ``bpu_infer_lib_x3``
1.0.3 (pip; ``bpu_infer_lib_x5`` has the same module) and the zoo's notebooks that use it
(D-Robotics/rdk_model_zoo, rdk_x3: demos/classification/MobileNetV1/test_MobileNetV1.ipynb;
main: samples/vision/LPRNet/infer.py):

``Infer(debug)``; ``load_model(path)`` (False when the model does not load); ``inputs`` / ``outputs``
(objects with ``properties`` and ``data``, no ``name``); ``properties`` is a ``Property`` with
``validShape`` / ``alignedShape`` (``TensorShape``: ``dimensionSize`` of 8, ``numDimensions``; not
iterable), ``tensorType``, ``tensorLayout``, ``quantiType`` (0 none, 1 shift, 2 scale), ``quantizeAxis``,
``scale`` (``scaleData``, ``scaleLen``, ``zeroPointData``, ``zeroPointLen``), ``shift`` (``shiftData``,
``shiftLen``), ``alignedByteSize``; ``read_input(arr, idx)``, ``forward()``, ``get_output()`` fills
``outputs[i].data`` with the raw, aligned buffer in the output's own type.

``FAKE_BOARD_ENUMS`` = ``int`` (default), ``pybind`` or ``str``: how ``tensorType``/``tensorLayout`` come back.
"""
import os
import threading

import numpy as np

from _fake_common import FakeBin, enum_value

ENUMS_ENV = "FAKE_BOARD_ENUMS"


class TensorShape:
    def __init__(self, dims):
        self.dimensionSize = np.zeros(8, np.int32)
        self.dimensionSize[: len(dims)] = dims
        self.numDimensions = len(dims)


class _Scale:
    def __init__(self, scales):
        self.scaleData = np.asarray(scales, np.float32)
        self.scaleLen = len(self.scaleData)
        self.zeroPointData = np.zeros(0, np.int8)
        self.zeroPointLen = 0


class _Shift:
    def __init__(self):
        self.shiftData = np.zeros(0, np.uint8)
        self.shiftLen = 0


class Property:
    def __init__(self, type_name, layout, valid, aligned=None, scales=(), itemsize=1):
        form = os.environ.get(ENUMS_ENV, "int")
        self.tensorType = enum_value("type", type_name, form)
        self.tensorLayout = enum_value("layout", layout, form)
        self.validShape = TensorShape(valid)
        self.alignedShape = TensorShape(aligned or valid)
        self.quantiType = 2 if len(scales) else 0
        self.quantizeAxis = 1 if layout == "NCHW" else 3
        self.scale = _Scale(scales)
        self.shift = _Shift()
        self.alignedByteSize = int(np.prod(aligned or valid)) * itemsize


class _Tensor:
    def __init__(self, properties):
        self.properties, self.data = properties, None


class Infer:
    def __init__(self, debug):
        self.debug = bool(debug)
        self._m = None
        self._feed = None
        self._outs = None
        self.inputs, self.outputs = [], []

    def load_model(self, path):
        try:
            self._m = m = FakeBin(path)
        except RuntimeError:
            print("initialization failed")
            return False
        self.inputs = [_Tensor(Property(m.input_type, m.input_layout, m.input_shape))]
        itemsize = {"F32": 4, "S32": 4, "S8": 1}[m.out_type]
        self.outputs = [_Tensor(Property(m.out_type, m.out_layout, m.output_valid, m.output_aligned, m.scales,
                                         itemsize))]
        return True

    def read_input(self, arr, idx):
        if self._m is None:
            raise RuntimeError("fake board: load_model first")
        if idx != 0:
            raise IndexError(f"fake board: input index {idx} out of range")
        self._feed = np.ascontiguousarray(self._m.check_feed(arr)).tobytes()
        self._owner = threading.get_ident()
        return True

    def _check_owner(self):
        # the object holds the input and output between calls: two threads sharing it would mix them up
        if getattr(self, "_owner", None) != threading.get_ident():
            raise RuntimeError("fake board: one Infer object used from two threads at once; use one per thread")

    def forward(self):
        if self._feed is None:
            raise RuntimeError("fake board: read_input before forward")
        self._check_owner()
        self._outs = [self._m.run(self._feed)]
        return True

    def get_output(self):
        if self._outs is None:
            raise RuntimeError("fake board: forward before get_output")
        self._check_owner()
        for t, o in zip(self.outputs, self._outs):
            t.data = o
        return True

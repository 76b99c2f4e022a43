"""Fake ``bpu_infer_lib`` (tests only), shaped after the documented API (pip bpu_infer_lib_x5/_x3).

``Infer(debug)``; ``load_model(path) -> bool``; ``inputs[i].properties.tensorType``
('HB_DNN_IMG_TYPE_NV12'), ``.tensorLayout`` ('HB_DNN_LAYOUT_NCHW'), ``.shape`` ((1, 3, H, W));
``read_input(arr, idx)`` checks type and size; ``forward()``; ``get_output()`` fills
``outputs[i].data`` (float32, (1, 1000, 1, 1)).
"""
from __future__ import annotations

import threading

from _fake_common import FakeModel


class Properties:
    def __init__(self, tensorType, tensorLayout, shape):
        self.tensorType, self.tensorLayout = tensorType, tensorLayout
        self.shape = self.validShape = tuple(shape)


class Tensor:
    def __init__(self, name, properties):
        self.name, self.properties, self.data = name, properties, None


class Infer:
    def __init__(self, debug: bool):
        self.debug = bool(debug)
        self._m = None
        self._feed = None
        self._outs = None
        self.inputs, self.outputs = [], []

    def load_model(self, path) -> bool:
        try:
            self._m = FakeModel(path)
        except (FileNotFoundError, ValueError):
            return False
        m = self._m
        self.inputs = [Tensor(m.input_name, Properties("HB_DNN_IMG_TYPE_NV12", "HB_DNN_LAYOUT_NCHW",
                                                       (1, 3, m.height, m.width)))]
        self.outputs = [Tensor(n, Properties("HB_DNN_TENSOR_TYPE_F32", "HB_DNN_LAYOUT_NCHW", s))
                        for n, s in zip(m.output_names, m.output_shapes)]
        return True

    def read_input(self, arr, idx: int) -> bool:
        if self._m is None:
            raise RuntimeError("fake board: load_model first")
        if idx != 0:
            raise IndexError(f"fake board: input index {idx} out of range")
        self._feed = self._m.check_feed(arr).copy()
        self._owner = threading.get_ident()
        return True

    def _check_owner(self) -> None:
        # the object holds the input and output between calls: two threads sharing it would mix them up
        if getattr(self, "_owner", None) != threading.get_ident():
            raise RuntimeError("fake board: one Infer object used from two threads at once; use one per thread")

    def forward(self) -> bool:
        if self._feed is None:
            raise RuntimeError("fake board: read_input before forward")
        self._check_owner()
        self._outs = self._m.run(self._feed)
        return True

    def get_output(self) -> bool:
        if self._outs is None:
            raise RuntimeError("fake board: forward before get_output")
        self._check_owner()
        for t, o in zip(self.outputs, self._outs):
            t.data = o
        return True

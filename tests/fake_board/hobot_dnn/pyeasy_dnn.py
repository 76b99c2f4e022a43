"""Fake ``hobot_dnn.pyeasy_dnn`` (tests only), shaped after the documented board API.

``load(path)`` -> list of ``Model``; ``Model.inputs[i].properties`` has ``tensor_type`` ('NV12' or
'NV12_SEPARATE'), ``dtype`` ('uint8'), ``layout`` ('NCHW'), ``shape`` ((1, 3, H, W)); outputs report
'float32' / 'NCHW' / (1, 1000, 1, 1); ``Model.forward(flat uint8 NV12)`` returns tensors whose
``buffer`` is a float32 array of that shape.
"""
from __future__ import annotations

from _fake_common import FakeModel, input_tensor_type


class TensorProperties:
    def __init__(self, tensor_type, dtype, layout, shape):
        self.tensor_type, self.dtype, self.layout, self.shape = tensor_type, dtype, layout, tuple(shape)
        self.scale_data = None


class pyDNNTensor:
    def __init__(self, name, properties, buffer=None):
        self.name, self.properties, self.buffer = name, properties, buffer


class Model:
    def __init__(self, path):
        self._m = FakeModel(path)
        self.name = self._m.name
        self.inputs = [pyDNNTensor(self._m.input_name, TensorProperties(
            input_tensor_type(), "uint8", "NCHW", (1, 3, self._m.height, self._m.width)))]
        self.outputs = [pyDNNTensor(n, TensorProperties("float32", "float32", "NCHW", s))
                        for n, s in zip(self._m.output_names, self._m.output_shapes)]

    def forward(self, arg, core_id=0, priority=0):
        if isinstance(arg, (list, tuple)):
            if len(arg) != 1:
                raise ValueError("fake board: this model has one input")
            arg = arg[0]
        outs = self._m.run(arg)
        return [pyDNNTensor(t.name, t.properties, o) for t, o in zip(self.outputs, outs)]


def load(path):
    """Like the real ``load``: a list with one Model (the real one logs and returns nothing on failure)."""
    try:
        return [Model(path)]
    except FileNotFoundError:
        return []

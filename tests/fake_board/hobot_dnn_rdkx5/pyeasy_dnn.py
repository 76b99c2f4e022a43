"""Fake ``hobot_dnn_rdkx5.pyeasy_dnn`` (tests only): the X5 wheel ``hobot-dnn-rdkx5`` 3.x.

Its symbol strings add ``validShape`` and ``alignedShape`` to ``TensorProperties`` and make ``forward``
take a container of numpy arrays ("arg_obj is NOT a container.", "Each element in arg_obj must be a
NumPy array.", "forward execution failed."); here each array is copied whole, and the output buffer
is the aligned one (we do not know whether the real 3.x cuts the padding; the backend handles both).
"""
import numpy as np

from hobot_dnn.pyeasy_dnn import Model as _LegacyModel
from hobot_dnn.pyeasy_dnn import TensorProperties, load as _load, pyDNNTensor  # noqa: F401  (same classes)


class Model(_LegacyModel):
    _new_surface = True

    def forward(self, arg, core_id=0, priority=0):
        if not isinstance(arg, (list, tuple)):
            raise ValueError("arg_obj is NOT a container.")
        if not all(isinstance(a, np.ndarray) for a in arg):
            raise ValueError("Each element in arg_obj must be a NumPy array.")
        data = np.ascontiguousarray(arg[0], dtype=np.uint8).tobytes()
        return self._outputs(self._m.run(data))


def load(model_file):
    files = [model_file] if isinstance(model_file, str) else model_file
    if not isinstance(files, list):
        raise TypeError("model_file must be a string or a list")
    return [Model(f) for f in files]

"""Small things several test files need: a smooth test image, a tiny ONNX classifier, the CLI in a subprocess."""
import os
import subprocess
import sys

import numpy as np


def smooth_image(h=64, w=96, seed=0):
    """A colourful image without sharp chroma edges (so 4:2:0 subsampling loses little)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = 128 + 100 * np.sin(xx / 17.0 + seed)
    g = 128 + 100 * np.cos(yy / 13.0)
    b = 128 + 90 * np.sin((xx + yy) / 23.0)
    return np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8)


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def tiny_onnx(path, h=4, w=4, classes=3):
    """A 1x3xHxW -> 1xC model built with onnx.helper (global average pool + matmul)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    wmat = np.arange(3 * classes, dtype=np.float32).reshape(3, classes) / 10
    g = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["data"], ["p"]),
         helper.make_node("Flatten", ["p"], ["f"]),
         helper.make_node("MatMul", ["f", "w"], ["output"])],
        "tiny", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, classes])],
        [numpy_helper.from_array(wmat, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])
    m.ir_version = 7
    helper.set_model_props(m, {"rdk.mean": "[0.5, 0.5, 0.5]", "rdk.std": "[0.5, 0.5, 0.5]",
                               "rdk.labels": '["a", "b", "c"]', "rdk.weights": "random"})
    onnx.save(m, path)
    return wmat

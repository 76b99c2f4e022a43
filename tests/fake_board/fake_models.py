"""Tiny ONNX models and fake ``.bin`` / ``.hbm`` files for tests (PC only: imports onnx).

``tiny_nv12_model`` has the board-model contract (input ``data`` uint8 (1, H*3/2, W) + our metadata)
but a trivial network: ``logits = mean over the rows of the NV12 buffer @ weight + bias``, so a test
can compute the expected logits in NumPy (:func:`tiny_nv12_reference`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from _fake_common import MAGIC, MARCH, tiny_logits, tiny_weights as _weights


def _save(graph, path, meta: dict, opset: int = 11) -> Path:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    for k, v in meta.items():
        e = model.metadata_props.add()
        e.key, e.value = k, str(v)
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def tiny_nv12_model(path, key: str = "mobileone_s0", size=(224, 224), classes: int = 1000,
                    weights: str = "random", yuv_range: str = "full", seed: int = 0) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    h, w = size
    wt, b = _weights(w, classes, seed)
    nodes = [
        helper.make_node("Cast", ["data"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["f"], ["m"], axes=[1], keepdims=0),
        helper.make_node("MatMul", ["m", "W"], ["mw"]),
        helper.make_node("Add", ["mw", "B"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_nv12",
        [helper.make_tensor_value_info("data", TensorProto.UINT8, [1, h * 3 // 2, w])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, classes])],
        [numpy_helper.from_array(wt, "W"), numpy_helper.from_array(b, "B")])
    return _save(graph, path, {"rdk.model_key": key, "rdk.input_type_rt": "nv12", "rdk.yuv_range": yuv_range,
                               "rdk.weights": weights, "rdk.input_size": json.dumps([h, w])})


def tiny_nv12_reference(nv12_flat: np.ndarray, size=(224, 224), classes: int = 1000, seed: int = 0) -> np.ndarray:
    """What :func:`tiny_nv12_model` (and a fake .bin of the same seed) returns for ``nv12_flat``, in NumPy."""
    return tiny_logits(nv12_flat, size, classes, seed)


def tiny_float_model(path, key: str = "mobileone_s0", size=(224, 224), classes: int = 1000,
                     weights: str = "random", seed: int = 0) -> Path:
    """A float NCHW model (like an exported ONNX): logits = channel-and-row mean @ weight + bias."""
    from onnx import TensorProto, helper, numpy_helper

    h, w = size
    wt, b = _weights(w, classes, seed)
    nodes = [
        helper.make_node("ReduceMean", ["data"], ["m"], axes=[1, 2], keepdims=0),
        helper.make_node("MatMul", ["m", "W"], ["mw"]),
        helper.make_node("Add", ["mw", "B"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_float",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, classes])],
        [numpy_helper.from_array(wt, "W"), numpy_helper.from_array(b, "B")])
    return _save(graph, path, {"rdk.model_key": key, "rdk.weights": weights})


def write_fake_bin(path, board: str = "x5", size=(224, 224), classes: int = 1000, seed: int = 0,
                   input_type: str = "NV12", output: str = "F32", layout: str = "NCHW", align: int = 0,
                   **hbm) -> Path:
    """A fake ``.bin`` (see tests/fake_board/_fake_common.py) built "for" ``board``; NumPy only.

    ``hbm`` are read by the fake ``hbm_runtime`` only (tests/fake_board/hbm_runtime/HB_HBMRuntime.py):
    ``feed`` ("packed", "split" or "multi"), ``packed_shape`` ("nchw": (1, 3, H, W) as the X5 build reports
    it, typed NV12 by ``FAKE_HBM_BUILD=bin`` and U8 by ``FAKE_HBM_BUILD=bin_u8``; "rows": (1, H*3/2, W, 1), "flat"), ``input_names``, ``swap`` (UV listed first), ``input_dtype``,
    ``zero_point`` (per-channel zero points of a quantised output), ``vestigial`` (a SCALE record on a float
    output), ``fixed`` / ``scale`` / ``zp`` (raw output values and their quantisation, given by the test),
    ``output_name``, ``desc`` (model_descs / hbm_descs). ``layout`` may also be "2D" there: (1, classes)."""
    cfg = {"march": MARCH[board], "input": input_type, "size": list(size), "classes": classes, "seed": seed,
           "output": output, "layout": layout, "align": align, **hbm}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(MAGIC + json.dumps(cfg).encode("utf-8") + b"\n")
    return path


def fake_bin(folder, key: str = "mobileone_s0", onnx: bool = True, **kw) -> Path:
    """``<folder>/<bin_stem>.bin`` (a fake) and, with ``onnx``, its twin NV12 ONNX of the same weights
    (``<bin_stem>.onnx``, what a PC runs instead). ``kw`` go to :func:`write_fake_bin`."""
    from helpers.board import registry

    folder = Path(folder)
    stem = registry.get(key).bin_stem
    size = kw.setdefault("size", registry.get(key).input_size)
    if onnx:
        tiny_nv12_model(folder / f"{stem}.onnx", key=key, size=size, seed=kw.get("seed", 0),
                        classes=kw.get("classes", 1000))
    return write_fake_bin(folder / f"{stem}.bin", **kw)


def write_fake_hbm(path, board: str = "s100", output: str = "S8", layout: str = "2D", zero_point: bool = True,
                   **kw) -> Path:
    """A fake S-series ``.hbm``: split NV12 inputs (Y (1,H,W,1) + UV (1,H/2,W/2,2)), by default a quantised
    (1, classes) int8 output with per-channel scales and zero points (see :func:`write_fake_bin` for ``kw``)."""
    kw.setdefault("feed", "split")
    return write_fake_bin(path, board=board, output=output, layout=layout, zero_point=zero_point, **kw)

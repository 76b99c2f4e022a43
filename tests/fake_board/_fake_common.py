"""Shared by the fake ``hobot_dnn`` / ``hobot_dnn_rdkx5`` and ``bpu_infer_lib`` (tests only; NumPy only).

A fake ``X.bin`` is a small text file: :data:`MAGIC` and one JSON object describing a tiny network
(``logits = mean over the rows of the NV12 buffer @ W + b``, W and b from ``seed``; computed in NumPy
so that a "board" without onnxruntime can run it) and how the "runtime" reports it:

``march`` (bayes-e / bernoulli2; nash-e/m/p for a fake ``.hbm``), ``input`` (NV12, NV12_SEPARATE, RGB, ...), ``size`` [H, W],
``classes``, ``seed``, ``output`` (F32, S8 or S32: a quantised output reports per-channel scales),
``layout`` (NCHW or NHWC), ``align`` (pad the last dimension to a multiple of it: alignedShape).

Anything else (no magic, bad JSON) fails to load like a corrupt file; a ``march`` other than the fake
board's (env ``FAKE_BOARD``: x5 by default) fails like a .bin for the other BPU. The enum values and
property names follow the vendor's (see helpers/board/vendor.py for the sources), and
``tests/board/test_fake_surface.py`` checks every name against the symbol strings recorded from the wheels.
"""
import json
import os
from enum import IntEnum
from pathlib import Path

import numpy as np

MAGIC = b"FAKE RDK .bin (tests/fake_board)\n"
BOARD_ENV = "FAKE_BOARD"
MARCH = {"x3": "bernoulli2", "x5": "bayes-e", "s100": "nash-e", "s100p": "nash-m", "s600": "nash-p"}
#: hbDNNDataType in enum order, as hb_dnn.h declares it (the C value is the index)
DATA_TYPES = ("Y", "NV12", "NV12_SEPARATE", "YUV444", "RGB", "BGR", "S4", "U4", "S8", "U8", "F16", "S16",
              "U16", "F32", "S32", "U32", "F64", "S64", "U64")
LAYOUT_VALUE = {"NHWC": 0, "NCHW": 2, "NONE": 255}
NP_TYPE = {"F32": np.float32, "S8": np.int8, "S32": np.int32}
IMAGE_PREFIX = ("Y", "NV12", "NV12_SEPARATE", "YUV444", "RGB", "BGR")

_DataType = IntEnum("hbDNNDataType", [(("HB_DNN_IMG_TYPE_" if n in IMAGE_PREFIX else "HB_DNN_TENSOR_TYPE_") + n, i)
                                      for i, n in enumerate(DATA_TYPES)])
_Layout = IntEnum("hbDNNTensorLayout", [("HB_DNN_LAYOUT_NHWC", 0), ("HB_DNN_LAYOUT_NCHW", 2),
                                        ("HB_DNN_LAYOUT_NONE", 255)])


def enum_value(kind: str, name: str, form: str):
    """The enum ``name`` as bpu_infer_lib might hand it back: ``int``, ``pybind`` (an IntEnum) or ``str``."""
    if kind == "type":
        num = DATA_TYPES.index(name)
        full = _DataType(num)
    else:
        num = LAYOUT_VALUE[name]
        full = _Layout(num)
    return {"int": num, "pybind": full, "str": full.name}[form]


def tiny_weights(width: int, classes: int, seed: int):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((width, classes)) * 0.05).astype(np.float32), \
        (rng.standard_normal(classes) * 0.01).astype(np.float32)


def tiny_logits(nv12_flat, size, classes: int, seed: int) -> np.ndarray:
    """The tiny network on an NV12 buffer (float64 maths, float32 result)."""
    h, w = size
    wt, b = tiny_weights(w, classes, seed)
    rows = np.asarray(nv12_flat, np.float64).reshape(h * 3 // 2, w)
    return (rows.mean(axis=0) @ wt.astype(np.float64) + b).astype(np.float32)


def output_scales(size, classes: int, seed: int, dtype: str) -> np.ndarray:
    """Per-channel scales that never clip: the largest |logit| any NV12 buffer can give, over the type's max."""
    if dtype == "F32":
        return np.zeros(0, np.float32)
    wt, b = tiny_weights(size[1], classes, seed)
    bound = 255.0 * np.abs(wt.astype(np.float64)).sum(axis=0) + np.abs(b)
    top = 127.0 if dtype == "S8" else float(2 ** 31 - 1)
    return (bound / top).astype(np.float32)


class FakeBin:
    """A parsed fake .bin: what it reports and what it computes."""

    def __init__(self, path):
        path = Path(path)
        try:
            raw = path.read_bytes()
        except OSError:
            raise RuntimeError("hbDNNInitializeFromFiles failed") from None
        if not raw.startswith(MAGIC):
            raise RuntimeError("hbDNNInitializeFromFiles failed")
        try:
            cfg = json.loads(raw[len(MAGIC):].decode("utf-8"))
        except ValueError:
            raise RuntimeError("hbDNNInitializeFromFiles failed") from None
        board = os.environ.get(BOARD_ENV, "x5")
        if cfg.get("march") != MARCH[board]:
            raise RuntimeError("hbDNNInitializeFromFiles failed")  # the real runtime rejects another BPU's model
        self.name = path.stem
        self.cfg = cfg
        self.input_type = cfg.get("input", "NV12")
        self.height, self.width = cfg.get("size", [224, 224])
        self.classes = int(cfg.get("classes", 1000))
        self.seed = int(cfg.get("seed", 0))
        self.out_type = cfg.get("output", "F32")
        self.out_layout = cfg.get("layout", "NCHW")
        self.align = int(cfg.get("align", 0))
        self.scales = output_scales((self.height, self.width), self.classes, self.seed, self.out_type)

    # -- how the runtime reports the tensors
    @property
    def input_shape(self):
        h, w = self.height, self.width
        return (1, h, w, 3) if self.input_type in ("RGB", "BGR", "YUV444") else (1, 3, h, w)

    @property
    def input_layout(self) -> str:
        return "NHWC" if self.input_type in ("RGB", "BGR", "YUV444") else "NCHW"

    @property
    def output_valid(self):
        return (1, self.classes, 1, 1) if self.out_layout == "NCHW" else (1, 1, 1, self.classes)

    @property
    def output_aligned(self):
        v = list(self.output_valid)
        if self.align > 1:
            v[-1] = -(-v[-1] // self.align) * self.align
        return tuple(v)

    @property
    def nv12_size(self) -> int:
        return self.height * self.width * 3 // 2

    # -- what it computes
    def check_feed(self, arr) -> np.ndarray:
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8:
            raise TypeError("Input must be a NumPy array of type uint8.")
        return arr

    def run(self, data: bytes) -> np.ndarray:
        """Raw output buffer (aligned shape, the output's own type) for the bytes the runtime copied in."""
        buf = np.zeros(self.nv12_size, np.uint8)  # what the copy did not fill stays as it was: zeros here
        got = np.frombuffer(data, np.uint8)[: self.nv12_size]
        buf[: got.size] = got
        logits = tiny_logits(buf, (self.height, self.width), self.classes, self.seed)
        if self.out_type == "F32":
            vals = logits
        else:
            info = np.iinfo(NP_TYPE[self.out_type])
            vals = np.clip(np.round(logits / self.scales), info.min, info.max).astype(NP_TYPE[self.out_type])
        out = np.zeros(self.output_aligned, NP_TYPE[self.out_type])
        if self.out_layout == "NCHW":
            out[0, : self.classes, 0, 0] = vals
        else:
            out[0, 0, 0, : self.classes] = vals
        return out

    def valid_view(self, raw: np.ndarray) -> np.ndarray:
        v = self.output_valid
        return np.ascontiguousarray(raw[: v[0], : v[1], : v[2], : v[3]])

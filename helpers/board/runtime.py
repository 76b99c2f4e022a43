"""One interface over the inference backends, chosen by the model file. Board-safe.

* ``.onnx`` -> ``onnxruntime`` (PC, or a board's CPU)
* ``.bin``  -> the RDK board runtime: ``hobot_dnn.pyeasy_dnn`` (system image), else ``bpu_infer_lib``

The board backends are written against the documented vendor APIs; here they are tested
against a small fake of those APIs (``tests/fake_board``). Only a real board exercises the real ones.
"""
from __future__ import annotations

import importlib
import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from helpers.errors import HelpersError, first_line
from helpers.board.meta import META_INPUT_TYPE

BACKENDS = ("auto", "onnxruntime", "hobot_dnn", "bpu_infer_lib")
BOARD_BACKENDS = ("hobot_dnn", "bpu_infer_lib")
_MODULE_OF = {"onnxruntime": "onnxruntime", "hobot_dnn": "hobot_dnn.pyeasy_dnn", "bpu_infer_lib": "bpu_infer_lib"}



@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: Tuple[int, ...]   # as the model reports it; NV12 inputs report (1, 3, H, W) like a .bin
    dtype: str               # "float32", "uint8", "int8", ... or "nv12" / "rgb" / "bgr" for image inputs
    layout: str              # "NCHW", "NHWC" or "NONE"

    @property
    def hw(self) -> Tuple[int, int]:
        """(H, W) of an image input."""
        if len(self.shape) != 4:
            raise HelpersError(f"input {self.name!r} has shape {self.shape}; expected a 4-D image tensor")
        return (self.shape[1], self.shape[2]) if self.layout == "NHWC" else (self.shape[2], self.shape[3])

    def __str__(self) -> str:
        # "NONE" is the runtimes' word for a tensor that is not an image (e.g. 1x1000 scores): say that
        layout = self.layout if self.layout != "NONE" else "(not an image: no layout)"
        return f"{self.name}: {self.dtype} {list(self.shape)} {layout}"


def module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name.split(".")[0]) is not None and importlib.import_module(name) is not None
    except ImportError:
        return False


def available_backends() -> List[str]:
    """The backends that can run on this machine, in the order ``auto`` tries them for a .bin."""
    return [b for b in BACKENDS[1:] if module_available(_MODULE_OF[b])]


class Backend(ABC):
    """A loaded model. ``run`` takes the single input's array and returns the outputs."""

    name = "?"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.inputs: List[TensorInfo] = []
        self.outputs: List[TensorInfo] = []
        self.metadata: Dict[str, str] = {}

    @abstractmethod
    def run(self, feed: np.ndarray) -> List[np.ndarray]:
        ...

    @property
    def input(self) -> TensorInfo:
        if len(self.inputs) != 1:
            raise HelpersError(f"{self.path.name} has {len(self.inputs)} inputs; these notebooks handle one")
        return self.inputs[0]

    def describe(self) -> str:
        lines = [f"model   : {self.path.name}", f"backend : {self.name}"]
        lines += [f"input   : {t}" for t in self.inputs]
        lines += [f"output  : {t}" for t in self.outputs]
        return "\n".join(lines)


_ORT_TYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int8)": "int8",
              "tensor(float16)": "float16", "tensor(int64)": "int64", "tensor(int32)": "int32"}


class OrtBackend(Backend):
    name = "onnxruntime"

    def __init__(self, path: Path, threads: Optional[int] = None):
        super().__init__(path)
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            first = first_line(e)
            raise HelpersError(f"{path} is not a valid ONNX model ({first[:160]}); re-export it "
                               "(python -m helpers export KEY)") from None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        kind = self.metadata.get(META_INPUT_TYPE)
        for i, a in enumerate(self.session.get_inputs()):
            shape = tuple(d if isinstance(d, int) else -1 for d in a.shape)
            dtype = _ORT_TYPES.get(a.type, a.type)
            layout = "NCHW" if len(shape) == 4 else "NONE"
            if i == 0 and kind == "nv12":
                # stored as (1, H*3/2, W) uint8; reported like the .bin: (1, 3, H, W) NV12
                shape, dtype, layout = (1, 3, shape[1] * 2 // 3, shape[2]), "nv12", "NCHW"
            elif i == 0 and kind in ("rgb", "bgr"):
                dtype, layout = kind, "NHWC"
            self.inputs.append(TensorInfo(a.name, shape, dtype, layout))
        for o in self.session.get_outputs():
            shape = tuple(d if isinstance(d, int) else -1 for d in o.shape)
            self.outputs.append(TensorInfo(o.name, shape, _ORT_TYPES.get(o.type, o.type),
                                           "NCHW" if len(shape) == 4 else "NONE"))
        self._feed_shape = tuple(self.session.get_inputs()[0].shape)
        self._feed_name = self.session.get_inputs()[0].name

    def run(self, feed: np.ndarray) -> List[np.ndarray]:
        feed = np.asarray(feed)
        if self.inputs[0].dtype == "nv12":
            feed = check_nv12_feed(feed, self.inputs[0]).reshape(self._feed_shape)
        return self.session.run(None, {self._feed_name: feed})


def check_nv12_feed(feed: np.ndarray, info: TensorInfo) -> np.ndarray:
    h, w = info.hw
    need = h * w * 3 // 2
    if feed.dtype != np.uint8 or feed.size != need:
        raise HelpersError(f"NV12 input for {w}x{h} must be {need} uint8 bytes (W*H*3/2); "
                           f"got {feed.size} values of {feed.dtype}")
    return np.ascontiguousarray(feed.reshape(-1))


def _board_dtype(tensor_type: str, dtype: str) -> str:
    t = str(tensor_type).upper().replace("HB_DNN_IMG_TYPE_", "").replace("HB_DNN_TENSOR_TYPE_", "")
    if t.startswith("NV12"):
        return "nv12"
    if t in ("RGB", "BGR"):
        return t.lower()
    return {"F32": "float32", "S8": "int8", "U8": "uint8", "S32": "int32", "F16": "float16"}.get(t, str(dtype or t).lower())


def _board_layout(layout: str) -> str:
    s = str(layout).upper()
    return "NHWC" if "NHWC" in s else "NCHW" if "NCHW" in s else "NONE"


class HobotDnnBackend(Backend):
    """``hobot_dnn.pyeasy_dnn``, preinstalled in the RDK system image (X3 and X5)."""

    name = "hobot_dnn"

    def __init__(self, path: Path):
        super().__init__(path)
        from hobot_dnn import pyeasy_dnn as dnn

        models = dnn.load(str(path))
        if not models:
            raise HelpersError(f"hobot_dnn could not load {path}; is it a .bin built for this board's BPU?")
        self.model = models[0]
        self.inputs = [self._info(t) for t in self.model.inputs]
        self.outputs = [self._info(t) for t in self.model.outputs]

    @staticmethod
    def _info(t) -> TensorInfo:
        p = t.properties
        return TensorInfo(getattr(t, "name", "") or "", tuple(int(d) for d in p.shape),
                          _board_dtype(p.tensor_type, getattr(p, "dtype", "")), _board_layout(p.layout))

    def run(self, feed: np.ndarray) -> List[np.ndarray]:
        info = self.inputs[0]
        feed = check_nv12_feed(np.asarray(feed), info) if info.dtype == "nv12" else np.ascontiguousarray(feed)
        return [np.array(t.buffer) for t in self.model.forward(feed)]


class BpuInferLibBackend(Backend):
    """``bpu_infer_lib`` (pip ``bpu_infer_lib_x5`` / ``bpu_infer_lib_x3``)."""

    name = "bpu_infer_lib"

    def __init__(self, path: Path):
        super().__init__(path)
        import bpu_infer_lib

        self.inf = bpu_infer_lib.Infer(False)
        if self.inf.load_model(str(path)) is False:
            raise HelpersError(f"bpu_infer_lib could not load {path}; is it a .bin built for this board's BPU?")
        self.inputs = [self._info(t, i, "input") for i, t in enumerate(self.inf.inputs)]
        self.outputs = [self._info(t, i, "output") for i, t in enumerate(self.inf.outputs)]

    @staticmethod
    def _info(t, i: int, kind: str) -> TensorInfo:
        p = t.properties
        shape = getattr(p, "shape", None) or getattr(p, "validShape", None)
        return TensorInfo(getattr(t, "name", "") or f"{kind}{i}", tuple(int(d) for d in shape),
                          _board_dtype(p.tensorType, ""), _board_layout(p.tensorLayout))

    def run(self, feed: np.ndarray) -> List[np.ndarray]:
        info = self.inputs[0]
        feed = check_nv12_feed(np.asarray(feed), info) if info.dtype == "nv12" else np.ascontiguousarray(feed)
        self.inf.read_input(feed, 0)
        self.inf.forward()
        self.inf.get_output()
        return [np.array(o.data) for o in self.inf.outputs]


def _check_available(backend: str) -> None:
    if not module_available(_MODULE_OF[backend]):
        have = ", ".join(available_backends()) or "none"
        raise HelpersError(f"backend {backend!r} is not available here (cannot import {_MODULE_OF[backend]}); "
                           f"available: {have}")


def open_model(path, backend: str = "auto", threads: Optional[int] = None) -> Backend:
    """Load ``path`` with ``backend`` (``auto``: by extension, board runtimes in BOARD_BACKENDS order)."""
    path = Path(path)
    if backend not in BACKENDS:
        raise HelpersError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    if not path.exists():
        raise HelpersError(f"model file not found: {path}")
    if path.is_dir():
        raise HelpersError(f"{path} is a directory; give a .onnx or .bin model file")
    ext = path.suffix.lower()
    if ext not in (".onnx", ".bin"):
        raise HelpersError(f"{path.name}: model files must be .onnx (onnxruntime) or .bin (RDK board); "
                           f"got {ext or 'no extension'}")
    if path.stat().st_size == 0:
        raise HelpersError(f"{path} is empty (0 bytes); re-export or re-download it")
    if ext == ".onnx":
        if backend not in ("auto", "onnxruntime"):
            raise HelpersError(f"{path.name} is an ONNX model; backend {backend!r} runs .bin files only")
        _check_available("onnxruntime")
        return OrtBackend(path, threads=threads)
    if backend == "onnxruntime":
        raise HelpersError(f"{path.name} is a board .bin; onnxruntime cannot run it (use the board-model ONNX on a PC)")
    candidates: Sequence[str] = BOARD_BACKENDS if backend == "auto" else (backend,)
    for b in candidates:
        if module_available(_MODULE_OF[b]):
            return HobotDnnBackend(path) if b == "hobot_dnn" else BpuInferLibBackend(path)
    if backend != "auto":
        _check_available(backend)
    raise HelpersError(f"{path.name} needs an RDK board: neither hobot_dnn nor bpu_infer_lib is installed here. "
                       "On a PC, run the NV12 board-model ONNX instead (python -m helpers board-model --help)")



"""One interface over the inference backends, chosen by the model file. Board-safe.

* ``.onnx`` -> ``onnxruntime`` (PC, or a board's CPU)
* ``.hbm``  -> ``hbm_runtime`` only (RDK S100/S100P/S600: split NV12 inputs; :mod:`helpers.board.hbm`)
* ``.bin``  -> the RDK X3/X5 runtime the board's OS provides, tried in this order: ``hbm_runtime`` (the
  RDK X5 image from RDK OS 3.5.0 on, as the model zoo's ``rdk_x5`` samples use it; an ``hbm_runtime`` that
  takes ``.hbm`` files only, such as the wheel on PyPI, is passed over with a one-line note), then
  ``hobot_dnn.pyeasy_dnn`` (the system image; the X5 wheel ``hobot-dnn-rdkx5`` installs it as
  ``hobot_dnn_rdkx5.pyeasy_dnn``), then ``bpu_infer_lib`` (``pip install bpu_infer_lib_x5`` /
  ``bpu_infer_lib_x3``, from the vendor's package index)

The board backends follow the vendor's own surfaces (see :mod:`helpers.board.vendor` for the sources):
both module names, enums as integers or strings, outputs de-padded (``alignedShape`` larger than
``validShape``) and dequantised (int8/int32 outputs of a ``.bin`` built with ``remove_node_type:
Dequantize``), every load and run failure as one line. They are tested against ``tests/fake_board``,
whose names are checked against the symbol strings (and, for ``hbm_runtime``, the stub) recorded from the
vendor wheels; only a real board runs the real ones (``python -m helpers doctor`` reports what it finds there).
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from helpers.board import hbm, registry, vendor
from helpers.errors import HelpersError, first_line
from helpers.board.meta import META_INPUT_TYPE
from helpers.board.backend import (Backend, TensorInfo, board_key_here, check_file_board,  # noqa: F401 (re-exported)
                                   check_nv12_feed)

BACKENDS = ("auto", "onnxruntime", "hbm_runtime", "hobot_dnn", "bpu_infer_lib")
#: the board runtimes, in the order ``auto`` tries them for a .bin
BOARD_BACKENDS = ("hbm_runtime", "hobot_dnn", "bpu_infer_lib")
#: the modules each backend may come as, in the order they are tried
MODULES: Dict[str, Tuple[str, ...]] = {
    "onnxruntime": ("onnxruntime",),
    "hbm_runtime": ("hbm_runtime",),
    "hobot_dnn": ("hobot_dnn.pyeasy_dnn", "hobot_dnn_rdkx5.pyeasy_dnn"),
    "bpu_infer_lib": ("bpu_infer_lib",),
}
#: the pip distributions that install a module, and the board each is built for (None: the system image)
DISTRIBUTIONS = {"hobot_dnn_rdkx5.pyeasy_dnn": ("hobot-dnn-rdkx5", "x5"), "hbm_runtime": ("hbm-runtime", None),
                 "bpu_infer_lib": (("bpu_infer_lib_x5", "x5"), ("bpu_infer_lib_x3", "x3"))}
INSTALL_HINT = ("on an RDK board the system image has hobot_dnn (and hbm_runtime on RDK OS >= 3.5.0 and RDK S); "
                "otherwise pip install bpu_infer_lib_x5 (RDK X5) or bpu_infer_lib_x3 (RDK X3) from the vendor "
                "index (docs/board.md names it)")
#: model suffix -> the backends that run it
SUFFIX_BACKENDS = {".onnx": ("onnxruntime",), ".bin": BOARD_BACKENDS, ".hbm": ("hbm_runtime",)}


def module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name.split(".")[0]) is not None and importlib.import_module(name) is not None
    except (ImportError, RuntimeError, HelpersError):  # hbm_runtime raises RuntimeError when its libraries are missing
        return False


def runtime_module(backend: str) -> Optional[str]:
    """The first importable module of ``backend`` (see :data:`MODULES`), or None."""
    return next((m for m in MODULES[backend] if module_available(m)), None)


def available_backends() -> List[str]:
    """The backends that can run on this machine (onnxruntime, then the board runtimes in ``auto`` order)."""
    return [b for b in BACKENDS[1:] if runtime_module(b)]


def runtime_version(module: str) -> Tuple[str, Optional[str]]:
    """(distribution and version, the board it is built for or None) of an importable runtime module."""
    from importlib import metadata

    cands = DISTRIBUTIONS.get(module)
    if cands is None:
        top = module.split(".")[0]
        cands = ((top.replace("_", "-"), None),)
    elif isinstance(cands[0], str):
        cands = (cands,)
    lib = None
    if module == "hbm_runtime":  # the library says its own version (a board image installs it without pip metadata)
        lib = hbm.library_version(module)
    tail = f", HB_HBMRuntime.version() {lib}" if lib else ""
    for dist, board_key in cands:
        try:
            return f"{dist} {metadata.version(dist)}{tail}", board_key
        except metadata.PackageNotFoundError:
            continue
    if lib:
        return f"{module} {lib} (HB_HBMRuntime.version())", None
    mod = importlib.import_module(module)
    return f"{module} {getattr(mod, '__version__', '(version unknown)')}", None


_ORT_TYPES = {"tensor(float)": "float32", "tensor(uint8)": "uint8", "tensor(int8)": "int8",
              "tensor(float16)": "float16", "tensor(int64)": "int64", "tensor(int32)": "int32"}


#: onnxruntime's ``WeightBiasQuantization`` (basic level, 1.2x+) quantises the float weights of a Conv fed by a
#: DequantizeLinear, per tensor: a node an INT8 preview keeps in float (X3 ``run_on_cpu``) would run with int8
#: weights (on the demo's MobileOne-S0, onnxruntime 1.31.1, one depthwise layer kept float: 57 % top-1 instead of
#: the 95 % of the same graph with optimisations disabled). Off, so a QDQ graph runs as written.
ORT_DISABLED_OPTIMIZERS = ["WeightBiasQuantization"]


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
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"],
                                                disabled_optimizers=ORT_DISABLED_OPTIMIZERS)
        except Exception as e:  # onnxruntime raises its own exception types for bad files
            first = first_line(e)
            raise HelpersError(f"{path} is not a valid ONNX model ({first[:160]}); re-export it "
                               "(python -m helpers export KEY)") from None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        kind = self.metadata.get(META_INPUT_TYPE)
        ins = self.session.get_inputs()
        # an S-series board model (helpers.pc.board_model): y (1,H,W,1) + uv (1,H/2,W/2,2), reported and fed as
        # one packed NV12 input like every NV12 model; run() splits the bytes
        self._split = kind == "nv12" and len(ins) == 2 and len(ins[0].shape) == 4 and ins[0].shape[3] == 1
        if self._split:
            h, w = int(ins[0].shape[1]), int(ins[0].shape[2])
            self.inputs.append(TensorInfo(ins[0].name, (1, 3, h, w), "nv12", "NCHW",
                                          f"split NV12: {ins[0].name} (1,{h},{w},1) + {ins[1].name} (1,{h // 2},{w // 2},2)"))
            self._split_names = (ins[0].name, ins[1].name)
        for i, a in enumerate(ins if not self._split else ()):
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
        if self._split:
            h, w = self.inputs[0].hw
            flat = check_nv12_feed(feed, self.inputs[0])
            y, uv = flat[:h * w].reshape(1, h, w, 1), flat[h * w:].reshape(1, h // 2, w // 2, 2)
            return self.session.run(None, dict(zip(self._split_names, (y, uv))))
        if self.inputs[0].dtype == "nv12":
            feed = check_nv12_feed(feed, self.inputs[0]).reshape(self._feed_shape)
        return self.session.run(None, {self._feed_name: feed})


def _board_info(name: str, tensor_type, valid, lay, note: str = "") -> TensorInfo:
    t = vendor.data_type(tensor_type)
    dtype = vendor.IMAGE_TYPES.get(t) or vendor.NUMPY_OF.get(t, t.lower())
    return TensorInfo(name, tuple(valid), dtype, vendor.layout(lay), note)


def _check_bin_board(path: Path, module: str) -> None:
    """A model file whose folder names another board than this one: one line, before the runtime sees it
    (this board from its identity, else from the board the runtime ``module`` is built for)."""
    check_file_board(path, lambda: runtime_version(module)[1])


def _load_failed(backend: str, path: Path, why: str) -> HelpersError:
    here = board_key_here()
    which = f"this {registry.BOARDS[here].name}'s BPU ({registry.BOARDS[here].march})" if here else "this board's BPU"
    return HelpersError(f"{backend} could not load {path.name} ({why}): a corrupt or truncated file, or a .bin "
                        f"built for another BPU than {which}; re-download it (python -m helpers download) or rebuild "
                        "it with march of this board")


def _nv12_feed(feed, info: TensorInfo) -> np.ndarray:
    return check_nv12_feed(np.asarray(feed), info) if info.dtype == "nv12" else np.ascontiguousarray(feed)


class HobotDnnBackend(Backend):
    """``hobot_dnn.pyeasy_dnn`` (system image, X3 and X5) or ``hobot_dnn_rdkx5.pyeasy_dnn`` (X5 wheel)."""

    name = "hobot_dnn"

    def __init__(self, path: Path, module: Optional[str] = None):
        super().__init__(path)
        self.module = module or runtime_module("hobot_dnn") or MODULES["hobot_dnn"][0]
        _check_bin_board(self.path, self.module)
        dnn = importlib.import_module(self.module)
        try:  # dnn_python: RuntimeError("hbDNNInitializeFromFiles failed") and friends
            models = dnn.load(str(path))
        except (RuntimeError, TypeError, ValueError, OSError) as e:
            raise _load_failed(self.name, self.path, first_line(e)[:120]) from None
        if not models:
            raise _load_failed(self.name, self.path, "load returned no model")
        self.model = models[0]
        # hobot-dnn-rdkx5 3.x (validShape on its properties) takes a list of arrays; 2.x one array
        self._list_feed = all(hasattr(t.properties, "validShape") for t in self.model.inputs)
        self.inputs = [self._info(t) for t in self.model.inputs]
        self.codecs: List[vendor.OutputCodec] = [self._codec(t) for t in self.model.outputs]
        self.outputs = [self._info(t, c) for t, c in zip(self.model.outputs, self.codecs)]

    @staticmethod
    def _codec(t) -> vendor.OutputCodec:
        p = t.properties
        valid = vendor.dims(getattr(p, "validShape", None) or p.shape)
        aligned = vendor.dims(getattr(p, "alignedShape", None))  # hobot-dnn-rdkx5 3.x only
        scale = tuple(float(x) for x in vendor.values(getattr(p, "scale_data", None)))
        return vendor.OutputCodec(valid, aligned, vendor.data_type(p.tensor_type), vendor.layout(p.layout),
                                  "scale" if scale else "none", scale)

    @staticmethod
    def _info(t, codec: Optional[vendor.OutputCodec] = None) -> TensorInfo:
        p = t.properties
        return _board_info(getattr(t, "name", "") or "", p.tensor_type, vendor.dims(p.shape), p.layout,
                           codec.describe() if codec else "")

    def run(self, feed: np.ndarray) -> List[np.ndarray]:
        info = self.inputs[0]
        feed = _nv12_feed(feed, info)
        if info.dtype == "nv12":
            # dnn_python's forward copies dims[0] * dims[1] bytes of the array: give it (H*3/2, W)
            h, w = info.hw
            feed = feed.reshape(h * 3 // 2, w)
        try:
            outs = self.model.forward([feed] if self._list_feed else feed)
        except (RuntimeError, TypeError, ValueError) as e:
            raise HelpersError(f"hobot_dnn could not run {self.path.name}: {first_line(e)[:160]}") from None
        if outs is None:  # dnn_python returns None when hbDNNInfer fails (and prints why)
            raise HelpersError(f"hobot_dnn could not run {self.path.name}: forward returned nothing "
                               "(hbDNNInfer failed; see the lines above)")
        return [c.decode(o.buffer, o_info.name or f"output{i}")
                for i, (c, o, o_info) in enumerate(zip(self.codecs, outs, self.outputs))]


class BpuInferLibBackend(Backend):
    """``bpu_infer_lib`` (pip ``bpu_infer_lib_x5`` / ``bpu_infer_lib_x3``): ``Infer`` with ``Property``
    tensors (``validShape``/``alignedShape`` as ``TensorShape``, enums as integers or pybind enums)."""

    name = "bpu_infer_lib"

    def __init__(self, path: Path):
        super().__init__(path)
        _check_bin_board(self.path, "bpu_infer_lib")
        import bpu_infer_lib

        self.inf = bpu_infer_lib.Infer(False)
        try:
            ok = self.inf.load_model(str(path))
        except (RuntimeError, TypeError, ValueError, OSError) as e:
            raise _load_failed(self.name, self.path, first_line(e)[:120]) from None
        if ok is False or not list(self.inf.inputs):
            raise _load_failed(self.name, self.path, "load_model failed")
        self.inputs = [self._info(t, i, "input") for i, t in enumerate(self.inf.inputs)]
        self.codecs: List[vendor.OutputCodec] = [self._codec(t) for t in self.inf.outputs]
        self.outputs = [self._info(t, i, "output", c) for i, (t, c) in enumerate(zip(self.inf.outputs, self.codecs))]

    @staticmethod
    def _codec(t) -> vendor.OutputCodec:
        p = t.properties
        quant = vendor.quanti_type(getattr(p, "quantiType", 0))
        sc, sh = getattr(p, "scale", None), getattr(p, "shift", None)
        scale = tuple(float(x) for x in vendor.values(getattr(sc, "scaleData", None), getattr(sc, "scaleLen", 0)))
        zero = tuple(float(x) for x in vendor.values(getattr(sc, "zeroPointData", None), getattr(sc, "zeroPointLen", 0)))
        shift = tuple(int(x) for x in vendor.values(getattr(sh, "shiftData", None), getattr(sh, "shiftLen", 0)))
        axis = getattr(p, "quantizeAxis", None)
        return vendor.OutputCodec(vendor.dims(p.validShape), vendor.dims(getattr(p, "alignedShape", None)),
                                  vendor.data_type(p.tensorType), vendor.layout(p.tensorLayout), quant,
                                  scale if quant == "scale" else (), zero if quant == "scale" else (),
                                  shift if quant == "shift" else (), None if axis is None else int(axis))

    @staticmethod
    def _info(t, i: int, kind: str, codec: Optional[vendor.OutputCodec] = None) -> TensorInfo:
        p = t.properties
        return _board_info(getattr(t, "name", "") or f"{kind}{i}", p.tensorType, vendor.dims(p.validShape),
                           p.tensorLayout, codec.describe() if codec else "")

    def run(self, feed: np.ndarray) -> List[np.ndarray]:
        feed = _nv12_feed(feed, self.inputs[0])
        try:
            steps = (self.inf.read_input(feed, 0), self.inf.forward(), self.inf.get_output())
        except (RuntimeError, TypeError, ValueError, IndexError) as e:
            raise HelpersError(f"bpu_infer_lib could not run {self.path.name}: {first_line(e)[:160]}") from None
        if any(r is False for r in steps):
            raise HelpersError(f"bpu_infer_lib could not run {self.path.name}: "
                               f"{('read_input', 'forward', 'get_output')[[r is False for r in steps].index(True)]} "
                               "failed (see the lines above)")
        return [c.decode(o.data, f"output{i}") for i, (c, o) in enumerate(zip(self.codecs, self.inf.outputs))]


def _check_available(backend: str) -> None:
    if backend == "hbm_runtime":
        problem = hbm.start_problem()
        if problem:
            raise HelpersError(problem)
    if not runtime_module(backend):
        have = ", ".join(available_backends()) or "none"
        hint = f"; {INSTALL_HINT}" if backend in BOARD_BACKENDS else " (pip install onnxruntime)"
        raise HelpersError(f"backend {backend!r} is not available here (cannot import "
                           f"{' or '.join(MODULES[backend])}); available: {have}{hint}")


#: the notes already printed (one per file and note, not one per thread of a benchmark)
_NOTED = set()


def _note(backend: Backend, notes: Sequence[str]) -> Backend:
    for n in notes:
        backend.notes.append(n)
        if (str(backend.path), n) not in _NOTED:
            _NOTED.add((str(backend.path), n))
            print(f"note: {n}; running it with {backend.name}", file=sys.stdout)
    return backend


def open_model(path, backend: str = "auto", threads: Optional[int] = None) -> Backend:
    """Load ``path`` with ``backend`` (``auto``: by suffix; a .bin with the first board runtime of
    BOARD_BACKENDS that is importable and takes it)."""
    path = Path(path)
    if backend not in BACKENDS:
        raise HelpersError(f"unknown backend {backend!r}; use one of: {', '.join(BACKENDS)}")
    if not path.exists():
        raise HelpersError(f"model file not found: {path}")
    if path.is_dir():
        raise HelpersError(f"{path} is a directory; give a .onnx, .bin or .hbm model file")
    ext = path.suffix.lower()
    if ext not in SUFFIX_BACKENDS:
        raise HelpersError(f"{path.name}: model files must be .onnx (onnxruntime), .bin (RDK X3/X5) or .hbm "
                           f"(RDK S100/S600); got {ext or 'no extension'}")
    if path.stat().st_size == 0:
        raise HelpersError(f"{path} is empty (0 bytes); re-export or re-download it")
    if backend not in ("auto",) + SUFFIX_BACKENDS[ext]:
        what = {".onnx": "an ONNX model", ".bin": "an RDK X3/X5 .bin", ".hbm": "an RDK S100/S600 .hbm"}[ext]
        runs = ", ".join(SUFFIX_BACKENDS[ext])
        raise HelpersError(f"{path.name} is {what}; backend {backend!r} cannot run it (use {runs})"
                           + (" or, on a PC, the board-model ONNX" if ext != ".onnx" else ""))
    if ext == ".onnx":
        _check_available("onnxruntime")
        return OrtBackend(path, threads=threads)
    hbm.check_suffix_for_board(path)
    if ext == ".hbm":
        if not runtime_module("hbm_runtime"):
            problem = hbm.start_problem()
            raise HelpersError(problem or f"{path.name} is an RDK S100/S600 model and needs hbm_runtime, which is not "
                                          "installed here (the RDK S image has it). On a PC, run the NV12 "
                                          "board-model ONNX instead (python -m helpers board-model --help)")
        return hbm.HbmRuntimeBackend(path)
    candidates: Sequence[str] = BOARD_BACKENDS if backend == "auto" else (backend,)
    notes: List[str] = []
    for b in candidates:
        module = runtime_module(b)
        if not module:
            continue
        if b == "hbm_runtime":
            try:
                return hbm.HbmRuntimeBackend(path, module)
            except hbm.BinRefused as e:
                if backend != "auto":
                    raise
                notes.append(str(e).split(" or backend=")[0])  # the next backend is the alternative
                continue
        return _note(HobotDnnBackend(path, module) if b == "hobot_dnn" else BpuInferLibBackend(path), notes)
    if backend != "auto":
        _check_available(backend)
    raise HelpersError(f"{path.name} needs an RDK board runtime and none "
                       f"{'takes it' if notes else 'is installed'} here ({notes[0] if notes else INSTALL_HINT}). "
                       "On a PC, run the NV12 board-model ONNX instead (python -m helpers board-model --help)")

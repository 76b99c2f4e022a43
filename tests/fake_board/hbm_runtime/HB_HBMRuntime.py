"""Fake ``hbm_runtime.HB_HBMRuntime`` (tests only; NumPy only): the surface of the wheel's stub
``hbm_runtime/HB_HBMRuntime.pyi`` (hbm-runtime 0.1.0.post1), over the fake model files of
tests/fake_board/fake_models.py (``write_fake_hbm``; a fake ``.bin`` too, for the X5 build).

What it reports, per model name: ``input_names``/``output_names`` (lists), ``input_shapes``, ``input_dtypes``
(``hbDNNDataType`` members: pybind11 enums, with ``name`` and ``value``), ``input_quants``/``output_quants``
(``QuantParams``: ``quant_type``, ``axis``, ``scale``, ``zero_point``), ``input_strides``/``output_strides``
(bytes per step of each dimension), counts, descriptions and ``sched_params``. ``run`` takes an array, a
``{input: array}`` dict or ``{model: {input: array}}`` and returns ``{model: {output: array}}``; outputs come
back raw (integers of a quantised output are not dequantised).

Two builds (env ``FAKE_HBM_BUILD``):

* ``hbm`` (default): the wheel on the package index. Its binary refuses any file but ``.hbm``
  ("Invalid model file extension. Only .hbm supported.", a string of ``HB_HBMRuntime.so``); its enum has
  no image types, so an NV12 model is two uint8 inputs, Y ``(1, H, W, 1)`` and UV ``(1, H/2, W/2, 2)``.
* ``bin``: the ``hbm_runtime`` of the RDK X5 image (RDK OS >= 3.5.0), which the model zoo's ``rdk_x5`` samples
  use to load ``.bin`` files. The zoo reports its packed input as dtype ``NV12``, shape ``(1, 3, H, W)``, and
  feeds it the flat Y+UV bytes (``samples/_shared/cls_binding.py``, ``runtime_meta.py``, ``tensor_io.py`` of
  D-Robotics/rdk_model_zoo); its enum therefore has an ``NV12`` member, the one name this fake offers beyond
  the recorded wheel (tests/board/test_fake_surface.py allows exactly that).
* ``bin_u8``: the same X5 build, but reporting that packed input as plain ``U8`` ``(1, 3, H, W)`` (no
  ``NV12`` member, nothing beyond the recorded wheel) while it still takes the H*W*3/2 packed bytes: the
  zoo's X5 contract accepts a uint8 or NV12 dtype for that input (``_validate_input_dtype(..., packed=True)``
  in ``samples/_shared/cls_binding.py``), so a real X5 image may report either.

Checks as the wheel's binary words them: a numpy dtype other than the input's raises ``TypeError`` ("Data
type mismatch for input tensor ..."), a shape other than the reported one ``RuntimeError`` ("Mismatch in
tensor dimensions for model: ..."); ``run`` never casts. A packed NV12 input takes any array of the right
byte count (the zoo fed ``(1, H*3/2, W, 1)`` first, a flat buffer now). Other switches: ``FAKE_HBM_OUTPUT=
padded`` returns an output as its padded buffer (default: a view of the valid shape over the padded buffer,
as numpy strides allow); ``FAKE_HBM_RUN_ERROR=dnn|ucp`` makes ``run`` fail like the library does;
``FAKE_HBM_ENUMS=int`` reports dtypes and quant types as plain integers (how the stub annotates them).
"""
import os
from pathlib import Path

import numpy as np

from _fake_common import FakeBin, tiny_logits, tiny_weights

BUILD_ENV = "FAKE_HBM_BUILD"
OUTPUT_ENV = "FAKE_HBM_OUTPUT"
RUN_ERROR_ENV = "FAKE_HBM_RUN_ERROR"
ENUM_ENV = "FAKE_HBM_ENUMS"
#: the members of hbDNNDataType in the stub's order (hbm-runtime 0.1.0.post1); the X5 build adds NV12
_TYPES = ("S4", "U4", "S8", "U8", "F16", "S16", "U16", "F32", "S32", "U32", "F64", "S64", "U64", "BOOL8", "MAX")
_NUMPY = {"S8": np.int8, "U8": np.uint8, "F32": np.float32, "S32": np.int32, "F16": np.float16}


def _build() -> str:
    return os.environ.get(BUILD_ENV, "hbm")


def _x5() -> bool:
    """The X5 image's build (loads .bin files), whichever way it names the packed input's type."""
    return _build() in ("bin", "bin_u8")


class _Enum:
    """A pybind11 enum member: ``name``, ``value``, ``int()``, equal to its value."""

    def __init__(self, name, value):
        self.name, self.value = name, value

    def __int__(self):
        return self.value

    def __index__(self):
        return self.value

    def __eq__(self, other):
        return int(other) == self.value if isinstance(other, (int, _Enum)) else NotImplemented

    def __hash__(self):
        return hash(self.value)

    def __repr__(self):
        return f"<{type(self).__name__}.{self.name}: {self.value}>"


class hbDNNDataType(_Enum):
    pass


class hbDNNQuantiType(_Enum):
    pass


for _i, _n in enumerate(_TYPES):
    setattr(hbDNNDataType, _n, hbDNNDataType(_n, _i))
hbDNNQuantiType.NONE = hbDNNQuantiType("NONE", 0)
hbDNNQuantiType.SCALE = hbDNNQuantiType("SCALE", 1)


def _dtype(name):
    if name == "NV12" and _build() == "bin":
        member = hbDNNDataType("NV12", len(_TYPES))
    else:
        member = getattr(hbDNNDataType, name)
    return member.value if os.environ.get(ENUM_ENV) == "int" else member


class QuantParams:
    def __init__(self, quant_type, axis=0, scale=(), zero_point=()):
        self.quant_type = quant_type.value if os.environ.get(ENUM_ENV) == "int" else quant_type
        self.axis = int(axis)
        self.scale = np.asarray(scale, np.float32)
        self.zero_point = np.asarray(zero_point, np.int32)


class SchedParam:
    def __init__(self):
        self.priority = 0
        self.customId = 0
        self.bpu_cores = [0]
        self.deviceId = 0


def _strides(shape, itemsize):
    out, step = [], itemsize
    for d in reversed(shape):
        out.append(step)
        step *= d
    return list(reversed(out))


class _Model:
    """One loaded fake model: what it reports and computes."""

    def __init__(self, path):
        self.fake = m = FakeBin(path)  # RuntimeError("hbDNNInitializeFromFiles failed") for a bad file
        cfg = m.cfg
        h, w = m.height, m.width
        self.name = m.name
        self.desc = cfg.get("desc", "")
        feed = cfg.get("feed", "split" if Path(path).suffix == ".hbm" else "packed")
        names = cfg.get("input_names")
        if feed == "split":
            names = names or ["input_y", "input_uv"]
            self.inputs = {names[0]: ((1, h, w, 1), "U8"), names[1]: ((1, h // 2, w // 2, 2), "U8")}
            if cfg.get("swap"):  # the runtime lists UV first: matching goes by shape
                self.inputs = dict(reversed(list(self.inputs.items())))
        elif feed == "packed":
            shape = {"nchw": (1, 3, h, w), "rows": (1, h * 3 // 2, w, 1), "flat": (h * w * 3 // 2,)}[
                cfg.get("packed_shape", "nchw")]
            nchw = len(shape) == 4 and shape[1] == 3
            self.inputs = {(names or ["images"])[0]: (shape, "NV12" if nchw and _build() != "bin_u8" else "U8")}
            self.packed_u8 = nchw and _build() == "bin_u8"
        else:  # "multi": three inputs that are not an NV12 pair
            self.inputs = {n: ((1, 3, h, w), "F32") for n in (names or ["a", "b", "c"])}
        if cfg.get("input_dtype"):
            self.inputs = {n: (s, cfg["input_dtype"]) for n, (s, _) in self.inputs.items()}
        if feed != "packed" or cfg.get("input_dtype"):
            self.packed_u8 = False
        self.feed = feed
        self.fixed = cfg.get("fixed")
        self.classes = len(self.fixed) if self.fixed else m.classes
        c = self.classes
        self.out_type = m.out_type
        lay = m.out_layout
        self.valid = {"NCHW": (1, c, 1, 1), "NHWC": (1, 1, 1, c), "2D": (1, c)}[lay]
        self.axis = 3 if lay == "NHWC" else 1
        aligned = list(self.valid)
        if m.align > 1:
            aligned[-1] = -(-aligned[-1] // m.align) * m.align
        self.aligned = tuple(aligned)
        self.out_name = cfg.get("output_name", "output")
        if self.fixed:
            self.scale = np.asarray(cfg.get("scale", [1.0] * c), np.float32)
            self.zero = np.asarray(cfg.get("zp", [0] * c), np.int32)
        elif self.out_type == "F32":
            self.scale, self.zero = np.ones(c, np.float32), np.zeros(c, np.int32)
        else:  # scales that never clip, zero points -3..3 when asked for
            wt, b = tiny_weights(w, c, m.seed)
            bound = 255.0 * np.abs(wt.astype(np.float64)).sum(axis=0) + np.abs(b)
            top = 120.0 if self.out_type == "S8" else float(2 ** 31 - 64)
            self.scale = (bound / top).astype(np.float32)
            self.zero = ((np.arange(c) % 7) - 3).astype(np.int32) if cfg.get("zero_point") else np.zeros(c, np.int32)
        self.quantised = self.out_type != "F32" or bool(cfg.get("vestigial"))

    def out_quant(self):
        if not self.quantised:
            return QuantParams(hbDNNQuantiType.NONE)
        return QuantParams(hbDNNQuantiType.SCALE, self.axis, self.scale, self.zero)

    def compute(self, arrays):
        if self.feed == "multi":
            logits = np.zeros(self.classes, np.float32)
        else:
            flat = np.concatenate([np.asarray(arrays[n]).reshape(-1) for n in self._nv12_order()])
            logits = tiny_logits(flat, (self.fake.height, self.fake.width), self.classes, self.fake.seed)
        np_type = _NUMPY[self.out_type]
        if self.fixed:
            vals = np.asarray(self.fixed).astype(np_type)
        elif self.out_type == "F32":
            vals = logits
        else:
            info = np.iinfo(np_type)
            vals = np.clip(np.round(logits.astype(np.float64) / self.scale) + self.zero, info.min, info.max)
            vals = vals.astype(np_type)
        buf = np.zeros(self.aligned, np_type)
        idx = [0] * len(self.aligned)
        idx[self.axis] = slice(0, self.classes)
        buf[tuple(idx)] = vals
        if os.environ.get(OUTPUT_ENV) == "padded":
            return buf
        return buf[tuple(slice(0, v) for v in self.valid)]  # a strided view of the valid part

    def _nv12_order(self):
        if self.feed == "packed":
            return list(self.inputs)
        return sorted(self.inputs, key=lambda n: self.inputs[n][0][-1])  # Y (last dim 1) before UV (2)


class HB_HBMRuntime:
    def __init__(self, model_file):
        if isinstance(model_file, (str, os.PathLike)):
            files = [str(model_file)]
        elif isinstance(model_file, list) and model_file:
            files = [str(f) for f in model_file]
        elif isinstance(model_file, list):
            raise RuntimeError("No input hbm model files provided.")
        else:
            raise TypeError("__init__(): incompatible constructor arguments.")
        self._models = {}
        for f in files:
            if not Path(f).exists():
                raise RuntimeError(f"The input hbm model {f} does not exist.")
            if _build() == "hbm" and not f.endswith(".hbm"):
                raise RuntimeError("Invalid model file extension. Only .hbm supported.")
            try:
                m = _Model(f)
            except RuntimeError:
                raise RuntimeError(f"hbDNN initialize from {f} file failed.") from None
            self._models[m.name] = m
        self._sched = {n: SchedParam() for n in self._models}

    @staticmethod
    def version():
        return "3.7.0-fake" if _x5() else "1.24.5-fake"

    # -- what the runtime reports
    @property
    def model_names(self):
        return list(self._models)

    @property
    def model_count(self):
        return len(self._models)

    @property
    def input_counts(self):
        return {n: len(m.inputs) for n, m in self._models.items()}

    @property
    def output_counts(self):
        return {n: 1 for n in self._models}

    @property
    def input_names(self):
        return {n: list(m.inputs) for n, m in self._models.items()}

    @property
    def output_names(self):
        return {n: [m.out_name] for n, m in self._models.items()}

    @property
    def input_descs(self):
        return {n: {i: "" for i in m.inputs} for n, m in self._models.items()}

    @property
    def output_descs(self):
        return {n: {m.out_name: ""} for n, m in self._models.items()}

    @property
    def input_shapes(self):
        return {n: {i: list(s) for i, (s, _) in m.inputs.items()} for n, m in self._models.items()}

    @property
    def output_shapes(self):
        return {n: {m.out_name: list(m.valid)} for n, m in self._models.items()}

    @property
    def input_dtypes(self):
        return {n: {i: _dtype(t) for i, (_, t) in m.inputs.items()} for n, m in self._models.items()}

    @property
    def output_dtypes(self):
        return {n: {m.out_name: _dtype(m.out_type)} for n, m in self._models.items()}

    @property
    def input_quants(self):
        return {n: {i: QuantParams(hbDNNQuantiType.NONE) for i in m.inputs} for n, m in self._models.items()}

    @property
    def output_quants(self):
        return {n: {m.out_name: m.out_quant()} for n, m in self._models.items()}

    @property
    def input_strides(self):
        return {n: {i: _strides(s, 4 if t == "F32" else 1) for i, (s, t) in m.inputs.items()}
                for n, m in self._models.items()}

    @property
    def output_strides(self):
        return {n: {m.out_name: _strides(m.aligned, np.dtype(_NUMPY[m.out_type]).itemsize)}
                for n, m in self._models.items()}

    @property
    def model_descs(self):
        return {n: m.desc for n, m in self._models.items()}

    @property
    def hbm_descs(self):
        return {n: m.desc for n, m in self._models.items()}

    @property
    def sched_params(self):
        return dict(self._sched)

    def set_scheduling_params(self, priority=None, bpu_cores=None, custom_id=None, device_id=None):
        for what, values in (("priority", priority), ("bpu_cores", bpu_cores), ("custom_id", custom_id),
                             ("device_id", device_id)):
            for name in (values or {}):
                if name not in self._models:
                    raise RuntimeError(f'Invalid model name in {what} setting: "{name}". '
                                       "This model is not in the loaded model list.")
        for name, p in (priority or {}).items():
            self._sched[name].priority = int(p)
        for name, cores in (bpu_cores or {}).items():
            self._sched[name].bpu_cores = list(cores)

    # -- inference
    def run(self, *args, **kwargs):
        if len(args) != 1:
            raise TypeError("run(): incompatible function arguments.")
        arg = args[0]
        if isinstance(arg, np.ndarray):
            if len(self._models) != 1 or len(next(iter(self._models.values())).inputs) != 1:
                raise RuntimeError("a single array runs a single-input model only")
            m = next(iter(self._models.values()))
            per_model = {m.name: {next(iter(m.inputs)): arg}}
        elif isinstance(arg, dict) and arg and all(isinstance(v, dict) for v in arg.values()):
            per_model = arg
        elif isinstance(arg, dict):
            if len(self._models) != 1:
                raise RuntimeError("extra_args does not provide model_name, but multiple models are loaded")
            per_model = {next(iter(self._models)): arg}
        else:
            raise TypeError("run(): incompatible function arguments.")
        err = os.environ.get(RUN_ERROR_ENV)
        if err == "dnn":
            raise RuntimeError("DNN Error (code: -6000129, desc: hbDNNInferV2 failed)")
        if err == "ucp":
            raise RuntimeError("UCP Error (code: -200013, desc: hbUCPWaitTaskDone failed)")
        out = {}
        for name, arrays in per_model.items():
            if name not in self._models:
                raise RuntimeError(f'Model name "{name}" is not in the registered model_names.')
            m = self._models[name]
            if set(arrays) != set(m.inputs):
                raise RuntimeError(f'Input names for model "{name}" are not registered.')
            for i, arr in arrays.items():
                if i not in m.inputs:
                    raise RuntimeError(f'Input name "{i}" is invalid for model "{name}"')
                self._check(name, i, m.inputs[i], arr, m.packed_u8)
            out[name] = {m.out_name: m.compute(arrays)}
        return out

    @staticmethod
    def _check(model, name, spec, arr, packed_u8=False):
        shape, t = spec
        want = np.dtype(np.uint8 if t in ("NV12", "U8") else _NUMPY[t])
        if not isinstance(arr, np.ndarray) or arr.dtype != want:
            got = arr.dtype.char if isinstance(arr, np.ndarray) else type(arr).__name__
            raise TypeError(f"Data type mismatch for input tensor '{name}' in model '{model}': expected numpy "
                            f"dtype format '{want.char}', but received '{got}'")
        if t == "NV12" or packed_u8:  # the packed input: the byte count is what matters (see the module docstring)
            need = shape[2] * shape[3] * 3 // 2 if len(shape) == 4 and shape[1] == 3 else int(np.prod(shape))
            if arr.size != need:
                raise RuntimeError(f"Mismatch in tensor dimensions for model: {model}, input: {name}, "
                                   f"input data size = {arr.size}, model expects {need}")
            return
        if arr.ndim != len(shape):
            raise RuntimeError(f"Mismatch in tensor dimensions for model: {model}, input: {name}, "
                               f"input data ndim = {arr.ndim}, model numDimensions = {len(shape)}")
        for k, (a, b) in enumerate(zip(arr.shape, shape)):
            if a != b:
                raise RuntimeError(f"Mismatch in tensor dimension at index {k}. input data dim = {a}, "
                                   f"model expected dim = {b}")

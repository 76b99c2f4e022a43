"""The ``hbm_runtime`` backend: D-Robotics' current Python runtime, ``hbm_runtime.HB_HBMRuntime``. Board-safe.

Which board runs what, from the vendor's material:

* RDK S100/S100P/S600 run ``.hbm`` files with ``hbm_runtime`` (board package ``hobot-dnn``, library
  ``libhbucp``); an NV12 model has two inputs, Y ``(1, H, W, 1)`` and UV ``(1, H/2, W/2, 2)`` (D-Robotics/rdk_doc
  ``docs/04_Algorithm_Application/01_model_zoo/infer_api_ref.md``; rdk_model_zoo ``samples/_shared/cls_binding.py``
  matches the two by these shapes, not by order or name). The wheel ``hbm-runtime`` 0.1.0.post1 on PyPI is
  this build: its ``__init__`` requires ``libhbucp.so`` and ``libdnn.so`` and its binary refuses any file but
  ``.hbm`` ("Invalid model file extension. Only .hbm supported.", a string of ``HB_HBMRuntime.so``).
* RDK X5 runs ``.bin`` files with the ``hbm_runtime`` of its image from RDK OS 3.5.0 on (package
  ``hobot-spdev``, library ``libdnn``): the zoo's branch ``rdk_x5`` uses it in every Python sample (rdk_doc
  ``.../01_model_zoo/rdk_x5_guide.md``: "RDK OS >= 3.5.0"). It reports one packed input, type ``NV12``, shape
  ``(1, 3, H, W)`` (``cls_binding.py``, ``runtime_meta.py``), fed the Y plane then the interleaved UV as one
  flat uint8 buffer (``samples/_shared/tensor_io.py``: ``as_packed``; the earlier samples passed the same
  bytes as ``(1, H*3/2, W, 1)``). Older X5 images and the X3 have ``hobot_dnn.pyeasy_dnn`` only.

So the feed is built from what the runtime reports: a packed input takes its reported shape when that holds
H*W*3/2 bytes, else the flat buffer; a split pair is found by its shapes (and refused when the names say the
opposite). ``run`` does not cast, so the dtype and shape are checked first. Outputs come back raw:
an integer output is dequantised from ``output_quants`` (``QuantParams``: ``quant_type`` SCALE, ``scale`` and
``zero_point`` along ``axis``: ``(q - zero_point) * scale``, as the zoo's ``samples/_shared/quantization.py``
does), a float output is used as it is even when a SCALE record rides along (the zoo found such records on
real X5 float outputs and ignores them), and padding is cut where ``output_strides`` (bytes per step) say
the buffer is wider than the shape. The surface used here is the wheel's stub ``HB_HBMRuntime.pyi``,
recorded in ``tests/fake_board/vendor_surface.json``; ``tests/fake_board/hbm_runtime`` is checked against it.
"""
from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from helpers.board import registry, vendor
from helpers.board.backend import Backend, TensorInfo, board_key_here, check_file_board, check_nv12_feed
from helpers.errors import HelpersError, first_line

MODULE = "hbm_runtime"
#: the BPU of each board key (the shared contract; ``registry.BOARDS`` is asked first)
MARCHES = {"x3": "bernoulli2", "x5": "bayes-e", "s100": "nash-e", "s100p": "nash-m", "s600": "nash-p"}
_INTEGER = ("S4", "U4", "S8", "U8", "S16", "U16", "S32", "U32", "S64", "U64")
_NUMPY = dict(vendor.NUMPY_OF, NV12="uint8", BOOL8="bool")
#: what the wheel's binary says when it is given another file than an .hbm
ONLY_HBM = "Only .hbm supported"


class BinRefused(HelpersError):
    """This ``hbm_runtime`` loads ``.hbm`` files only (the S-series build): ``auto`` falls back to hobot_dnn."""


def _board(key: str) -> Tuple[str, str]:
    """(name, march) of a board key, whether or not the registry lists it yet."""
    b = registry.BOARDS.get(key)
    return (b.name, b.march) if b else (f"RDK {key.upper()}", MARCHES.get(key, "?"))


def is_s_board(key: Optional[str]) -> bool:
    return bool(key) and key.startswith("s")


def start_error(e: Exception) -> HelpersError:
    """The one line for an ``hbm_runtime`` whose import fails (its __init__: runtime libraries missing)."""
    libs = re.findall(r"(lib\w+\.so)\s*\(", str(e))
    what = f"{' and '.join(libs)} missing" if libs else first_line(e)[:120]
    here = board_key_here()
    if here in ("x3", "x5"):
        fix = ("this is the RDK S-series build (like the hbm-runtime wheel on PyPI), which an "
               f"{_board(here)[0]} cannot use: pip uninstall hbm-runtime; on an RDK X5 upgrade to RDK OS >= 3.5.0, "
               "whose image brings its own hbm_runtime (package hobot-spdev), or use backend='hobot_dnn'")
    else:
        fix = ("install the board's runtime: sudo apt-get update && sudo apt-get install -y hobot-dnn "
               "(RDK S100/S600), or on an RDK X5 upgrade to RDK OS >= 3.5.0; else use backend='hobot_dnn'")
    return HelpersError(f"hbm_runtime is installed but cannot start ({what}): {fix}")


def import_runtime(module: str = MODULE):
    try:
        return importlib.import_module(module)
    except RuntimeError as e:  # hbm_runtime/__init__.py: RuntimeError("Missing Horizon runtime libraries ...")
        raise start_error(e) from None


def start_problem(module: str = MODULE) -> Optional[str]:
    """Why an installed ``hbm_runtime`` cannot be imported (one line), or None (importable or not installed)."""
    if importlib.util.find_spec(module) is None:
        return None
    try:
        importlib.import_module(module)
    except HelpersError as e:
        return str(e)
    except RuntimeError as e:
        return str(start_error(e))
    except ImportError as e:
        return f"hbm_runtime cannot be imported ({first_line(e)[:120]})"
    return None


def library_version(module: str = MODULE) -> Optional[str]:
    """``HB_HBMRuntime.version()`` of an importable ``hbm_runtime``, or None."""
    try:
        return str(importlib.import_module(module).HB_HBMRuntime.version())
    except Exception:  # any failure only means "unknown" here
        return None


def check_suffix_for_board(path: Path) -> None:
    """A ``.hbm`` on an RDK X3/X5 or a ``.bin`` on an RDK S board: one line before any runtime sees it."""
    here = board_key_here()
    if not here:
        return
    name, march = _board(here)
    ext = path.suffix.lower()
    if ext == ".hbm" and not is_s_board(here):
        raise HelpersError(f"{path.name} is an .hbm (RDK S100/S600, nash BPU) but this is an {name} ({march}), "
                           f"which runs .bin files: use the .bin for {march} (python -m helpers download --board {here})")
    if ext == ".bin" and is_s_board(here):
        raise HelpersError(f"{path.name} is a .bin (RDK X3/X5 BPU) but this is an {name} ({march}), which runs "
                           f".hbm files with hbm_runtime: use the .hbm built for {march} "
                           f"(python -m helpers download --board {here})")


def type_name(mod, value, enum: str = "hbDNNDataType") -> str:
    """An enum of the runtime as its member name ("S8", "NV12", "SCALE"): a pybind11 enum (``name``), a plain
    integer (looked up in the module's own enum class: the numbering differs between builds) or a string."""
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return name.upper()
    if isinstance(value, (int, np.integer)):
        cls = getattr(mod, enum, None)
        for n in dir(cls) if cls is not None else ():
            if n.startswith("_") or n == "MAX":
                continue
            try:
                if int(getattr(cls, n)) == int(value):
                    return n.upper()
            except (TypeError, ValueError):
                continue
        raise HelpersError(f"hbm_runtime reported {enum} {int(value)}, which its {enum} does not name; "
                           "report it with the output of python -m helpers doctor")
    return str(value).strip("<>").split(":")[0].rsplit(".", 1)[-1].strip().upper()


def aligned_shape(shape: Tuple[int, ...], strides, itemsize: int) -> Tuple[int, ...]:
    """The buffer's shape that byte ``strides`` imply (() when they say nothing usable): a last dimension
    padded to 16 makes ``strides[-2] / strides[-1]`` 16 or more while ``shape[-1]`` stays the valid size."""
    try:
        st = [int(s) for s in strides]
    except TypeError:
        return ()
    if len(st) != len(shape) or not st or st[-1] != itemsize or any(s <= 0 for s in st):
        return ()
    out = [shape[0]]
    for a, b in zip(st[:-1], st[1:]):
        if a % b:
            return ()
        out.append(a // b)
    if any(o < v for o, v in zip(out, shape)):
        return ()
    return tuple(out)


def _names_say(name: str) -> Optional[str]:
    low = name.lower()
    if "uv" in low:
        return "uv"
    return "y" if re.search(r"(^|[^a-z])y($|[^a-z])", low) else None


def _packed_hw(name: str, shape: Tuple[int, ...], kind: str, path: Path) -> Optional[Tuple[int, int]]:
    """(H, W) of a single packed NV12 input, from its reported shape (or the file name for a flat one).

    ``(1, 3, H, W)`` typed ``NV12``, or ``U8`` in a ``.bin``, is the X5 build's packed input: the model zoo's
    X5 contract takes that shape with a uint8 or NV12 dtype and feeds it the H*W*3/2 bytes
    (``samples/_shared/cls_binding.py``, ``_validate_input_dtype(..., packed=True)``; ``tensor_io.py``,
    ``validate_input_tensors``, D-Robotics/rdk_model_zoo). A ``.bin`` is an X3/X5 file, and every ``.bin``
    these notebooks build or download is NV12; an RGB/BGR ``.bin`` reporting U8 (1, 3, H, W) would have its
    feed refused by the runtime's byte count (H*W*3 against H*W*3/2), a one-line error at ``run``."""
    if len(shape) == 4 and shape[1] == 3 and (kind == "NV12" or (kind == "U8" and path.suffix.lower() == ".bin")):
        return shape[2], shape[3]                              # (1, 3, H, W): the X5 build's report
    rows = [d for d in shape if d != 1]
    nv12_named = kind == "NV12" or "nv12" in path.name.lower()  # a plain uint8 (1, H*3/2, W, 1): the zoo's names
    if nv12_named and len(rows) == 2 and len(shape) >= 3 and shape[-1] in (1, rows[1]) \
            and rows[0] * 2 % 3 == 0:
        return rows[0] * 2 // 3, rows[1]                       # (1, H*3/2, W, 1) or (1, H*3/2, W)
    if nv12_named and len(rows) == 1:                       # a flat buffer: the size is in the file name
        m = re.search(r"(\d+)x(\d+)", path.stem)
        if m and int(m.group(1)) * int(m.group(2)) * 3 // 2 == rows[0]:
            return int(m.group(1)), int(m.group(2))
        raise HelpersError(f"{path.name}: input {name!r} is a flat NV12 buffer of {rows[0]} bytes and neither the "
                           "runtime nor the file name (..._HxW_...) gives its height and width")
    return None


class HbmRuntimeBackend(Backend):
    """``hbm_runtime.HB_HBMRuntime``: one model per file; ``run`` takes the packed NV12 bytes (or the single
    input's array) and returns float32 outputs (dequantised, padding cut)."""

    name = "hbm_runtime"

    def __init__(self, path: Path, module: str = MODULE):
        super().__init__(path)
        self.module = module
        self.notes: List[str] = []
        check_suffix_for_board(self.path)
        check_file_board(self.path)  # a .bin under model/<Arch>/rdk_x3/ on an X5, an S600 .hbm on an S100
        mod = import_runtime(module)
        self.library = library_version(module)
        try:
            self.rt = mod.HB_HBMRuntime(str(self.path))
        except (RuntimeError, TypeError, ValueError, OSError) as e:
            why = first_line(e)
            if ONLY_HBM in why and self.path.suffix.lower() != ".hbm":
                raise BinRefused(
                    f"this hbm_runtime ({self.library or 'version unknown'}) loads .hbm files only, the RDK "
                    f"S-series build (like the hbm-runtime wheel on PyPI), and {self.path.name} is an RDK X3/X5 "
                    ".bin: on an RDK X5 use the hbm_runtime of RDK OS >= 3.5.0 or backend='hobot_dnn'") from None
            raise self._load_failed(why[:120]) from None
        names = list(self.rt.model_names)
        if len(names) != 1:
            raise HelpersError(f"{self.path.name} holds {len(names)} models ({', '.join(map(str, names))}); "
                               "these notebooks run a file with one model")
        self.model_name = m = str(names[0])
        self._check_march(mod)
        self.metadata = {"model_name": m}
        self._read_inputs(mod, m)
        self._read_outputs(mod, m)

    # -- loading
    def _load_failed(self, why: str) -> HelpersError:
        here = board_key_here()
        which = "{} ({})".format(*_board(here)) if here else "this board's"
        return HelpersError(f"hbm_runtime could not load {self.path.name} ({why}): a corrupt or truncated file, or "
                            f"a model compiled for another BPU than {which}; re-download it "
                            "(python -m helpers download) or rebuild it with the march of this board")

    def _check_march(self, mod) -> None:
        """The march a file says it was compiled for (``model_descs`` / ``hbm_descs``), against this board."""
        texts = []
        for prop in ("hbm_descs", "model_descs"):
            try:
                texts.append(str(getattr(self.rt, prop).get(self.model_name, "") or ""))
            except Exception:  # descriptions are optional; a runtime that cannot give them says nothing
                continue
        found = [march for march in MARCHES.values() if re.search(rf"\b{re.escape(march)}\b", " ".join(texts), re.I)]
        here = board_key_here()
        if len(set(found)) == 1 and here and _board(here)[1] not in found:
            name, march = _board(here)
            raise HelpersError(f"{self.path.name} was compiled for {found[0]} (its hbm_descs / model_descs say so) "
                               f"but this {name} has {march}: use the file built for {march} "
                               f"(python -m helpers download --board {here})")

    def _read_inputs(self, mod, m: str) -> None:
        names = [str(n) for n in self.rt.input_names[m]]
        shapes = {n: tuple(int(d) for d in self.rt.input_shapes[m][n]) for n in names}
        kinds = {n: type_name(mod, self.rt.input_dtypes[m][n]) for n in names}
        self._split: Optional[Tuple[str, str]] = None
        self._feed_shape: Tuple[int, ...] = ()
        if len(names) == 1:
            n = names[0]
            hw = _packed_hw(n, shapes[n], kinds[n], self.path)
            if hw:
                h, w = hw
                need = h * w * 3 // 2
                self._feed_shape = shapes[n] if int(np.prod(shapes[n])) == need else (need,)
                self.inputs = [TensorInfo(n, (1, 3, h, w), "nv12", "NCHW",
                                          f"packed: {kinds[n]} {list(shapes[n])}")]
                if kinds[n] == "U8" and len(shapes[n]) == 4 and shapes[n][1] == 3:
                    self.notes.append(f"input {n!r} reported as U8 {list(shapes[n])}: fed as packed NV12 "
                                      f"({need} bytes), as for any (1,3,H,W) uint8 input of a .bin")
                return
            s = shapes[n]
            layout = "NCHW" if len(s) == 4 and s[1] in (1, 3) else "NHWC" if len(s) == 4 and s[3] in (1, 3) else "NONE"
            dtype = _NUMPY.get(kinds[n])
            if dtype is None:
                raise HelpersError(f"{self.path.name}: input {n!r} is {kinds[n]}, a type numpy cannot hold")
            self.inputs = [TensorInfo(n, s, dtype, layout)]
            return
        pair = self._split_pair(names, shapes, kinds) if len(names) == 2 else None
        if pair is None:
            desc = ", ".join(f"{n} {kinds[n]} {list(shapes[n])}" for n in names)
            raise HelpersError(f"{self.path.name} has {len(names)} inputs ({desc}), not one NV12 image: these "
                               "notebooks feed one packed NV12 input (RDK X5 .bin) or a split pair y (1,H,W,1) + "
                               "uv (1,H/2,W/2,2) (RDK S .hbm); rebuild it with input_type_rt: nv12")
        y, uv = pair
        h, w = shapes[y][1], shapes[y][2]
        self._split = (y, uv)
        self.inputs = [TensorInfo(f"{y}+{uv}", (1, 3, h, w), "nv12", "NCHW",
                                  f"split: {y} {list(shapes[y])} + {uv} {list(shapes[uv])}")]

    def _split_pair(self, names, shapes, kinds) -> Optional[Tuple[str, str]]:
        def is_y(s):
            return len(s) == 4 and s[0] == 1 and s[3] == 1

        def is_uv(s, y):
            return len(s) == 4 and s[0] == 1 and s[3] == 2 and (s[1] * 2, s[2] * 2) == (y[1], y[2])

        for y, uv in (names, names[::-1]):
            if is_y(shapes[y]) and is_uv(shapes[uv], shapes[y]):
                if _names_say(y) == "uv" or _names_say(uv) == "y":
                    raise HelpersError(f"{self.path.name}: input {y!r} has the Y shape {list(shapes[y])} and {uv!r} "
                                       f"the UV shape {list(shapes[uv])}, but their names say the opposite; "
                                       "report it with the output of python -m helpers doctor")
                bad = [n for n in (y, uv) if kinds[n] not in ("U8", "NV12")]
                if bad:
                    raise HelpersError(f"{self.path.name}: NV12 input {bad[0]!r} is {kinds[bad[0]]}, not uint8; "
                                       "rebuild it with input_type_rt: nv12")
                return y, uv
        return None

    def _read_outputs(self, mod, m: str) -> None:
        quants = self.rt.output_quants[m]
        strides = self.rt.output_strides[m]
        self.output_names = [str(n) for n in self.rt.output_names[m]]
        self.codecs: List[vendor.OutputCodec] = []
        for n in self.output_names:
            shape = tuple(int(d) for d in self.rt.output_shapes[m][n])
            kind = type_name(mod, self.rt.output_dtypes[m][n])
            if kind not in _NUMPY or kind == "NV12":
                raise HelpersError(f"{self.path.name}: output {n!r} is {kind}, which these notebooks cannot read")
            q = quants.get(n) if hasattr(quants, "get") else None
            qtype = type_name(mod, q.quant_type, "hbDNNQuantiType") if q is not None else "NONE"
            scaled = qtype == "SCALE" and kind in _INTEGER  # a SCALE record on a float output is ignored
            axis = None
            scale: Tuple[float, ...] = ()
            zero: Tuple[float, ...] = ()
            if scaled:
                scale = tuple(float(x) for x in np.asarray(q.scale, np.float64).reshape(-1))
                zero = tuple(float(x) for x in np.asarray(q.zero_point, np.float64).reshape(-1))
                axis = int(q.axis) + (len(shape) if int(q.axis) < 0 else 0)
            itemsize = np.dtype(_NUMPY[kind]).itemsize
            codec = vendor.OutputCodec(shape, aligned_shape(shape, strides.get(n, ()), itemsize), kind, "NONE",
                                       "scale" if scaled else "none", scale, zero, (), axis)
            self.codecs.append(codec)
            note = codec.describe() + (f" along axis {axis}" if scaled else "") + \
                (f", zero point(s) {len(zero)}" if scaled and any(zero) else "")
            self.outputs.append(TensorInfo(n, shape, _NUMPY[kind], "NONE", note))

    # -- running
    def feed_dict(self, feed) -> Dict[str, np.ndarray]:
        """``{input name: array}`` as ``run`` hands it to the runtime: the packed NV12 bytes reshaped or split
        into what the runtime reports; any other input checked for dtype and shape (the runtime casts nothing)."""
        info = self.inputs[0]
        if info.dtype == "nv12":
            flat = check_nv12_feed(np.asarray(feed), info)
            if self._split:
                h, w = info.hw
                y, uv = self._split
                return {y: flat[: h * w].reshape(1, h, w, 1), uv: flat[h * w:].reshape(1, h // 2, w // 2, 2)}
            return {info.name: flat.reshape(self._feed_shape)}
        arr = np.asarray(feed)
        want = np.dtype(info.dtype)
        if arr.dtype != want:
            raise HelpersError(f"input {info.name!r} of {self.path.name} is {want} and got {arr.dtype}: hbm_runtime "
                               f"does not convert, so convert it first (x.astype(np.{want}))")
        if tuple(arr.shape) != tuple(info.shape):
            if arr.size != int(np.prod(info.shape)):
                raise HelpersError(f"input {info.name!r} of {self.path.name} is {list(info.shape)} and got "
                                   f"{list(arr.shape)}: resize the input to that shape")
            arr = arr.reshape(info.shape)
        return {info.name: np.ascontiguousarray(arr)}

    def run(self, feed: np.ndarray) -> List[np.ndarray]:
        arrays = self.feed_dict(feed)
        try:
            res = self.rt.run({self.model_name: arrays})
        except (RuntimeError, TypeError, ValueError) as e:
            text = first_line(e)
            hint = ""
            if text.startswith(("DNN Error", "UCP Error")):
                hint = ("; the BPU runtime refused the inference: check the file is for this board and report "
                        "it with the output of python -m helpers doctor")
            elif "mismatch" in text.lower():
                hint = "; the feed does not match what the model reports: report it with python -m helpers doctor"
                if any("fed as packed NV12" in n for n in self.notes):
                    hint = ("; this .bin takes packed NV12 only if it was compiled with input_type_rt: nv12 "
                            "(check its yaml), which these notebooks need")
            raise HelpersError(f"hbm_runtime could not run {self.path.name}: {text[:160]}{hint}") from None
        outs = res.get(self.model_name) if hasattr(res, "get") else None
        if outs is None:
            raise HelpersError(f"hbm_runtime returned no outputs for model {self.model_name!r} of {self.path.name}")
        return [c.decode(outs.get(n), n) for c, n in zip(self.codecs, self.output_names)]

    def describe(self) -> str:
        lines = super().describe().splitlines()
        lines.insert(2, f"runtime : hbm_runtime {self.library or '(version unknown)'}; model {self.model_name!r}")
        return "\n".join(lines + [f"note    : {n}" for n in self.notes])

"""Mapper yaml files: generate them from the registry, read them, and check them.

The vendor mapper (``hb_mapper makertbin``) turns our float ONNX into a board ``.bin`` from a yaml
with four sections. Which keys each toolchain generation accepts, and where that comes from:

* X3 / Ultra generation (``march`` ``bernoulli2`` / ``bayes``): the official PTQ guide, D-Robotics
  rdk_doc ``docs/07_Advanced_development/04_toolchain_development/intermediate/ptq_process.md``,
  section "yaml config parameters" (full key list and allowed values).
* X5 generation (``march`` ``bayes-e``, OE 1.2.x): the same keys, as used by D-Robotics' own X5
  configs (rdk_model_zoo ``demos/classification/MobileOne/yaml/MobileOne_S0_config.yaml`` and
  ``samples/vision/mobilenetv2/conversion/ptq_x5.yaml``), plus the node-level keys of the Bayes
  generation. The X5-only ``balance`` compile mode / ``balance_factor``, ``core_num`` 1 only and
  the extra ``cal_data_type`` values come from a secondary summary of the OE 1.2.8 manual (not
  confirmed from the primary document), so check-yaml accepts them for bayes-e only.

What we generate is the intersection: keys and values both generations accept, as in the vendor's
own files (``input_space_and_range`` is spelled out although it is the default, to make the range
explicit). Paths in the committed files are relative to the yaml's folder; run ``hb_mapper`` there.

``input_space_and_range`` (official guide): ``regular`` = NV12 in [0, 255] (full range, the default),
``bt601_video`` = [16, 235] (limited / video range); only meaningful when ``input_type_rt`` is nv12.
The colour maths for both lives in :mod:`helpers.board.nv12`.

Board-safe to import (PyYAML only); nothing here imports onnx or torch.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from helpers.board import nv12, registry
from helpers.errors import HelpersError, brief
from helpers.pc import nash, ptq_rules
from helpers.pc.ptq_rules import INPUT_TYPES_RT, INPUT_TYPES_TRAIN
from helpers.board.files import atomic_write_text, rel_to_repo

#: largest input height/width a yaml may state (the BPU toolchains' inputs are far smaller)
MAX_INPUT_SIDE = 4096
SECTIONS = ("model_parameters", "input_parameters", "calibration_parameters", "compiler_parameters")
#: sections every consumer (board model, calibration, bundle) needs; check-yaml reports the rest
LOAD_REQUIRED_SECTIONS = ("model_parameters", "input_parameters")

# --- keys each toolchain generation accepts (see the module docstring for the sources) ----------
_XJ3_KEYS: Dict[str, Tuple[str, ...]] = {
    "model_parameters": ("prototxt", "caffe_model", "onnx_model", "march", "output_model_file_prefix",
                         "working_dir", "layer_out_dump", "output_nodes", "remove_node_type",
                         "remove_node_name", "debug_mode"),
    "input_parameters": ("input_name", "input_type_train", "input_layout_train", "input_shape",
                         "input_batch", "norm_type", "mean_value", "scale_value", "input_type_rt",
                         "input_space_and_range", "input_layout_rt"),
    "calibration_parameters": ("cal_data_dir", "cal_data_type", "preprocess_on", "calibration_type",
                               "max_percentile", "run_on_cpu", "run_on_bpu", "per_channel",
                               "optimization"),
    "compiler_parameters": ("compile_mode", "debug", "core_num", "optimize_level", "input_source",
                            "max_time_per_fc", "jobs"),
    # optional section of the vendor template for user-registered operators
    "custom_op": ("custom_op_method", "op_register_files", "custom_op_dir"),
}
_BAYES_E_EXTRA: Dict[str, Tuple[str, ...]] = {
    "model_parameters": ("set_node_data_type", "node_info"),
    "compiler_parameters": ("balance_factor",),
}


def _merge(base, extra):
    return {s: tuple(base[s]) + tuple(extra.get(s, ())) for s in base}


#: accepted keys per toolchain generation, by ``march``
ACCEPTED_KEYS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "bernoulli2": _XJ3_KEYS,
    "bayes": _merge(_XJ3_KEYS, {"model_parameters": ("set_node_data_type", "node_info")}),
    "bayes-e": _merge(_XJ3_KEYS, _BAYES_E_EXTRA),
    # RDK S100 / S100P / S600: hb_compile (helpers.pc.nash holds the keys and their sources)
    **{m: dict(nash.ACCEPTED_KEYS, custom_op=()) for m in nash.MARCHES},
}
MARCHES = tuple(ACCEPTED_KEYS)
MARCH_BOARD_NAME = {"bernoulli2": "RDK X3", "bayes": "RDK Ultra", "bayes-e": "RDK X5",
                    **{m: nash.board_of_march(m).name for m in nash.MARCHES}}
#: what an error names as the valid marches
MARCH_CHOICES = ", ".join(f"'{m}' ({MARCH_BOARD_NAME[m]})" for m in MARCHES)

# --- allowed values (official guide; X5 additions marked) --------------------------------------
LAYOUTS = ("NCHW", "NHWC")
NORM_TYPES = ("data_mean_and_scale", "data_mean", "data_scale", "no_preprocess")
CAL_DATA_TYPES = {"bernoulli2": ("float32", "uint8"), "bayes": ("float32", "uint8"),
                  "bayes-e": ("float32", "uint8", "int32", "int16", "int8"),
                  **{m: nash.CAL_DATA_TYPES for m in nash.MARCHES}}
CALIBRATION_TYPES = ("default", "mix", "kl", "max", "load", "skip")
COMPILE_MODES = {"bernoulli2": ("latency", "bandwidth"), "bayes": ("latency", "bandwidth"),
                 "bayes-e": ("latency", "bandwidth", "balance"), **{m: nash.COMPILE_MODES for m in nash.MARCHES}}
OPTIMIZE_LEVELS = ("O0", "O1", "O2", "O3")
CORE_NUMS = {"bernoulli2": (1, 2), "bayes": (1,), "bayes-e": (1,), **{m: nash.CORE_NUMS for m in nash.MARCHES}}

#: the folder name the mapper bundle uses for calibration data (``_f32``: float32, see calib.py)
BUNDLE_CAL_DIR = "calibration_data_rgb_f32"


def _rel(target: Path, start: Path) -> str:
    rel = os.path.relpath(target, start).replace(os.sep, "/")
    return rel if rel.startswith(".") else f"./{rel}"


# ------------------------------------------------------------------------------------------------
# generation
# ------------------------------------------------------------------------------------------------
def mean_value(key: str) -> Tuple[float, ...]:
    """The yaml's ``mean_value``: registry mean (0..1 units) x 255, because the mapper feeds 0..255 pixels."""
    return tuple(m * 255.0 for m in registry.get(key).mean)


def scale_value(key: str) -> Tuple[float, ...]:
    """The yaml's ``scale_value``: 1 / (registry std x 255)."""
    return tuple(1.0 / (s * 255.0) for s in registry.get(key).std)


def _fmt_values(values: Sequence[float]) -> str:
    return " ".join(f"{v:.12g}" for v in values)


def generate_yaml(key: str, board, yuv_range: Optional[str] = None,
                  onnx_model: Optional[str] = None, cal_data_dir: Optional[str] = None,
                  working_dir: Optional[str] = None, run_from: Optional[str] = None,
                  command: Optional[str] = None, calib_hint: Optional[str] = None, input_name: str = "data",
                  keep_nodes: Sequence[str] = ()) -> str:
    """The mapper yaml for ``key`` on ``board`` (a key or a :class:`~helpers.board.registry.Board`), as text
    with explanatory comments; for an S board the ``hb_compile`` config (:func:`helpers.pc.nash.yaml_text`).
    ``yuv_range`` defaults to the board's (full for X3/X5, limited = bt601_video for the S boards).

    ``input_name`` is the float ONNX's input (our export calls it ``data``; the bundle reads it from the file).

    Paths default to the repository layout, relative to the yaml's own folder
    (``yaml/<Arch>/``): ``onnx_model`` -> ``model/<Arch>/<key>.onnx``, ``cal_data_dir`` ->
    ``data/calib/<key>_f32``, ``working_dir`` -> ``build/<Arch>/<key>_<board>``. ``run_from``
    is the folder the header tells the user to run ``hb_mapper`` in (default: the yaml's folder);
    ``command`` / ``calib_hint`` replace the header's "generated by" command and calibration line.
    ``keep_nodes``: ONNX nodes kept above int8 (:mod:`helpers.pc.node_info`: int16 ``node_info`` on
    X5, ``run_on_cpu`` on X3), e.g. the ones ``python -m helpers sensitivity`` ranks first.
    """
    from helpers.pc import node_info

    spec = registry.get(key)
    b = registry.board(board)
    board = b.key
    yuv_range = nv12.check_range(yuv_range or default_range(b))
    if board not in spec.boards:
        raise HelpersError(f"{key} is not deployed on {b.name}; its boards are: {', '.join(spec.boards)}")
    here = spec.yaml_path(b).parent
    onnx_model = onnx_model or _rel(spec.float_onnx_path, here)
    cal_data_dir = cal_data_dir or _rel(spec.calib_dir, here)
    working_dir = working_dir or _rel(spec.working_dir(b), here)
    if run_from is None:
        run_from = f"cd {rel_to_repo(here)}   # paths below are relative to this folder"
    if b.is_s:
        return nash.yaml_text(key, b, onnx_model, cal_data_dir, working_dir, run_from, yuv_range,
                              _fmt_values(mean_value(key)), _fmt_values(scale_value(key)), input_name=input_name,
                              command=command, calib_hint=calib_hint, keep_nodes=keep_nodes)
    h, w = spec.input_size
    nv12.check_even(h, w)
    space = nv12.YAML_SPACE_AND_RANGE[yuv_range]
    name = f"{key}_{board}.yaml"
    other = "limited" if yuv_range == "full" else "full"
    keep_model, keep_calib = node_info.yaml_lines(b.march, keep_nodes)
    lines = [
        f"# {b.name} ({b.march}) mapper config for {key}: float ONNX -> {spec.bin_stem}.bin",
        f"# GENERATED by `{command or f'python -m helpers yaml {key} --board {board}'}` from helpers/board/registry.py;",
        "# do not edit by hand (`python -m helpers yaml --all` regenerates every file; a test checks drift)."
        if command is None else "# do not edit by hand; regenerate the bundle instead.",
        "#",
        "# Run the vendor toolchain (inside its docker image) from the folder holding this file:",
        f"#   {run_from}",
        f"#   hb_mapper checker --model-type onnx --march {b.march} --model {onnx_model} "
        f"--input-shape {input_name} 1x3x{h}x{w}",
        f"#   hb_mapper makertbin --config {name} --model-type onnx",
        f"# Calibration data (cal_data_dir): {calib_hint or f'python -m helpers calib {key} --images DIR'}",
        "",
        "model_parameters:",
        f"  onnx_model: '{onnx_model}'",
        f"  march: '{b.march}'",
        "  layer_out_dump: False",
        f"  working_dir: '{working_dir}'",
        f"  output_model_file_prefix: '{spec.bin_stem}'",
        *keep_model,
        "",
        "input_parameters:",
        f"  input_name: '{input_name}'",
        "  # the board feeds NV12 uint8; the training-side input is RGB NCHW float, 0..255",
        "  input_type_rt: 'nv12'",
        "  # NV12 value range the .bin expects. Vendor PTQ guide: 'regular' = [0,255] (the default),",
        "  # 'bt601_video' = [16,235]. OpenCV's COLOR_BGR2YUV_I420 produces the limited (video)",
        "  # range, so a board pipeline feeding cv2 I420 needs 'bt601_video'; our board code",
        f"  # (helpers/board/nv12.py) produces the {yuv_range} range, hence '{space}'.",
        f"  # Use `--yuv-range {other}` to generate '{nv12.YAML_SPACE_AND_RANGE[other]}'.",
        f"  input_space_and_range: '{space}'",
        "  input_type_train: 'rgb'",
        "  input_layout_train: 'NCHW'",
        f"  input_shape: '1x3x{h}x{w}'",
        "  # (pixel - mean_value) * scale_value on 0..255 pixels:",
        "  # mean_value = registry mean x 255, scale_value = 1 / (registry std x 255)",
        "  norm_type: 'data_mean_and_scale'",
        f"  mean_value: '{_fmt_values(mean_value(key))}'",
        f"  scale_value: '{_fmt_values(scale_value(key))}'",
        "",
        "calibration_parameters:",
        "  # raw float32 RGB NCHW 0..255 files written with numpy.tofile (python -m helpers calib)",
        f"  cal_data_dir: '{cal_data_dir}'",
        "  cal_data_type: 'float32'",
        "  calibration_type: 'default'",
        *keep_calib,
        "",
        "compiler_parameters:",
        "  compile_mode: 'latency'",
        "  debug: False",
        "  optimize_level: 'O3'",
        "  core_num: 1",
        "",
    ]
    return "\n".join(lines)


default_range = nash.default_range


def write_yaml(key: str, board, out=None, overwrite: bool = False,
               yuv_range: Optional[str] = None) -> Path:
    """Generate and write atomically; ``out`` defaults to :func:`yaml_path` (paths stay relative to it)."""
    default = registry.get(key).yaml_path(board)
    out = Path(out) if out is not None else default
    if out.resolve() != default.resolve():
        here = out.resolve().parent
        text = generate_yaml(key, board, yuv_range,
                             onnx_model=_rel(registry.get(key).float_onnx_path, here),
                             cal_data_dir=_rel(registry.get(key).calib_dir, here),
                             working_dir=_rel(registry.get(key).working_dir(board), here),
                             run_from=f"cd {rel_to_repo(here)}")
    else:
        text = generate_yaml(key, board, yuv_range)
    return atomic_write_text(out, text, overwrite=overwrite)


def all_yaml_targets() -> List[Tuple[str, str]]:
    return [(k, b) for k, m in registry.MODELS.items() for b in m.boards]


# ------------------------------------------------------------------------------------------------
# reading
# ------------------------------------------------------------------------------------------------
def read_yaml(path) -> Dict[str, Any]:
    """Safe-load ``path`` (bounded: :mod:`helpers.board.safe_read`); a one-line HelpersError if it is
    missing, not a regular file, too large, not yaml or not a mapping."""
    from helpers.board.safe_read import load_yaml

    path = Path(path)
    cfg = load_yaml(path, "mapper .yaml file", fix="fix the syntax or regenerate it "
                    "(python -m helpers yaml KEY --board x3|x5|s100|s100p|s600)")
    if not isinstance(cfg, dict):
        raise HelpersError(f"{path} is not a mapper yaml: its top level is "
                           f"{type(cfg).__name__}, not a mapping of sections ({', '.join(SECTIONS)})")
    return cfg


def load_config(path) -> Dict[str, Any]:
    """Safe-load a mapper yaml and check it has the sections every consumer needs."""
    cfg = read_yaml(path)
    missing = [s for s in LOAD_REQUIRED_SECTIONS if not isinstance(cfg.get(s), dict)]
    if missing:
        raise HelpersError(f"{path} has no {' / '.join(missing)} section; a mapper yaml needs "
                           f"{', '.join(SECTIONS)} (python -m helpers check-yaml {path})")
    return cfg


@dataclass(frozen=True)
class Preprocess:
    """What the mapper folds into the .bin, read from a yaml's ``input_parameters``."""

    input_name: str
    input_type_rt: str
    input_type_train: str
    input_layout_train: str
    norm_type: str
    mean_value: Tuple[float, ...]     # 0..255 units, one per channel (or one for all)
    scale_value: Tuple[float, ...]
    yuv_range: str                    # "full" (regular) / "limited" (bt601_video)
    input_shape: Optional[Tuple[int, int]]  # (H, W) when the yaml states it

    @property
    def space_and_range(self) -> str:
        return nv12.YAML_SPACE_AND_RANGE[self.yuv_range]


def parse_values(value: Any, what: str) -> Tuple[float, ...]:
    """A mean/scale value: number, list, or space/comma separated string (one input only).

    ``scale_value`` must be positive: the mapper multiplies the pixels by it (0 makes every output
    the same, a negative one inverts the image).
    """
    if isinstance(value, bool) or value is None:
        raise HelpersError(f"{what} is {brief(value)}; give numbers, e.g. '123.675 116.28 103.53'")
    if isinstance(value, (int, float)):
        items = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        text = str(value).strip()
        if ";" in text.strip(";"):
            raise HelpersError(f"{what} {brief(text)} has several inputs (';'); these notebooks handle one input")
        items = [t for t in re.split(r"[\s,;]+", text) if t]
    if len(items) > 3:
        raise HelpersError(f"{what} has {len(items)} values; give 1 or 3 (one per channel)")
    try:
        out = tuple(float(v) for v in items)
    except (TypeError, ValueError, OverflowError):
        raise HelpersError(f"{what} {brief(value)} is not a list of numbers; e.g. '123.675 116.28 103.53'") from None
    if not out or any(not math.isfinite(v) for v in out):
        raise HelpersError(f"{what} {brief(value)} needs finite numbers, e.g. '123.675 116.28 103.53'")
    if what == "scale_value" and any(v <= 0 for v in out):
        raise HelpersError(f"scale_value {brief(value)} must be positive (the mapper multiplies the pixels by it; "
                           "0 makes the output constant): use 1/(std x 255), e.g. '0.0171248 0.017507 0.0174292'")
    return out


def parse_shape(value: Any, layout: str) -> Optional[Tuple[int, int]]:
    """``'1x3x224x224'`` -> (224, 224) for NCHW (NHWC: ``1x224x224x3``); empty -> None.

    H and W must lie in 2..:data:`MAX_INPUT_SIDE` (a 100000x100000 input is a typo, not a model).
    """
    if value in (None, ""):
        return None
    text = str(value).strip()
    if ";" in text:
        raise HelpersError(f"input_shape {brief(text)} has several inputs (';'); these notebooks handle one input")
    try:
        dims = [int(d) for d in text.lower().split("x")] if len(text) <= 40 else []
    except ValueError:
        raise HelpersError(f"input_shape {brief(text)} is not of the form 1x3xHxW") from None
    if len(dims) != 4 or any(d <= 0 for d in dims):
        raise HelpersError(f"input_shape {brief(text)} must have 4 positive dimensions, e.g. 1x3x224x224")
    hw = (dims[1], dims[2]) if layout == "NHWC" else (dims[2], dims[3])
    if not all(2 <= v <= MAX_INPUT_SIDE for v in hw):
        raise HelpersError(f"input_shape {brief(text)}: H and W must be 2..{MAX_INPUT_SIDE} pixels, e.g. 1x3x224x224")
    return hw


def range_of(space: Any) -> str:
    """yaml ``input_space_and_range`` -> "full"/"limited"; absent -> the vendor default (regular)."""
    if space in (None, ""):
        return nv12.RANGE_FROM_YAML["regular"]
    if space not in nv12.RANGE_FROM_YAML:
        raise HelpersError(f"input_space_and_range {brief(space)} is not valid; use 'regular' (NV12 0..255, "
                           "the default) or 'bt601_video' (NV12 16..235)")
    return nv12.RANGE_FROM_YAML[space]


def preprocess_of(cfg: Dict[str, Any]) -> Preprocess:
    """The input contract a loaded yaml describes (one input)."""
    ip = cfg.get("input_parameters")
    if not isinstance(ip, dict):
        raise HelpersError("the yaml has no input_parameters section; regenerate it "
                           "(python -m helpers yaml KEY --board x3|x5|s100|s100p|s600)")

    def choice(name: str, allowed: Sequence[str], default: Optional[str] = None) -> str:
        value = ip.get(name, default)
        if value is None:
            raise HelpersError(f"input_parameters.{name} is missing; one of: {', '.join(allowed)}")
        if str(value) not in allowed:
            raise HelpersError(f"input_parameters.{name} {brief(value)} is not valid; use one of: {', '.join(allowed)}")
        return str(value)

    rt = choice("input_type_rt", INPUT_TYPES_RT)
    train = choice("input_type_train", INPUT_TYPES_TRAIN)
    layout = choice("input_layout_train", LAYOUTS)
    norm = choice("norm_type", NORM_TYPES)
    mean: Tuple[float, ...] = (0.0,)
    scale: Tuple[float, ...] = (1.0,)
    if norm in ("data_mean_and_scale", "data_mean"):
        if ip.get("mean_value") is None:
            raise HelpersError(f"norm_type {norm} needs input_parameters.mean_value")
        mean = parse_values(ip["mean_value"], "mean_value")
    if norm in ("data_mean_and_scale", "data_scale"):
        if ip.get("scale_value") is None:
            raise HelpersError(f"norm_type {norm} needs input_parameters.scale_value")
        scale = parse_values(ip["scale_value"], "scale_value")
    for name, vals in (("mean_value", mean), ("scale_value", scale)):
        if len(vals) not in (1, 3):
            raise HelpersError(f"{name} has {len(vals)} values; give 1 or 3 (one per channel)")
    return Preprocess(
        input_name=str(ip.get("input_name") or ""),
        input_type_rt=rt, input_type_train=train, input_layout_train=layout, norm_type=norm,
        mean_value=mean, scale_value=scale, yuv_range=range_of(ip.get("input_space_and_range")),
        input_shape=parse_shape(ip.get("input_shape"), layout),
    )


# ------------------------------------------------------------------------------------------------
# checking
# ------------------------------------------------------------------------------------------------
GENERATED_MARK = "# GENERATED by `python -m helpers yaml"


@dataclass(frozen=True)
class Finding:
    level: str      # "error" or "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


_BOARD_SUFFIX = re.compile("_(" + "|".join(sorted(registry.BOARDS, key=len, reverse=True)) + ")$")


def board_from_name(path) -> Optional[str]:
    """The board key when the file name ends in ``_<board>`` (our naming: ``_x5``, ``_s100``), else None."""
    m = _BOARD_SUFFIX.search(Path(path).stem)
    return m.group(1) if m else None


def _key_candidates(path, cfg) -> Dict[str, str]:
    """Which registry model the file names, and where it says so."""
    found: Dict[str, str] = {}
    stem = Path(path).stem
    base = _BOARD_SUFFIX.sub("", stem)
    if base in registry.MODELS:
        found["file name"] = base
    mp = cfg.get("model_parameters") if isinstance(cfg.get("model_parameters"), dict) else {}
    onnx_model = mp.get("onnx_model")
    if isinstance(onnx_model, str) and onnx_model:
        s = Path(onnx_model).stem
        if s in registry.MODELS:
            found["onnx_model"] = s
    prefix = mp.get("output_model_file_prefix")
    for k, m in registry.MODELS.items():
        if prefix == m.bin_stem:
            found["output_model_file_prefix"] = k
    return found


def _close(a: Sequence[float], b: Sequence[float], rel: float = 1e-3) -> bool:
    if len(a) == 1 and len(b) == 3:
        a = a * 3
    return len(a) == len(b) and all(abs(x - y) <= rel * max(abs(y), 1e-12) for x, y in zip(a, b))


def _fmt(v: Sequence[float]) -> str:
    return " ".join(f"{x:.8g}" for x in v)


def _check_norm(key: str, pre_mean, pre_scale, train: str) -> List[Finding]:
    """Compare mean_value / scale_value with the registry, naming the usual mistakes."""
    out: List[Finding] = []
    want_m, want_s = mean_value(key), scale_value(key)
    if train == "bgr":  # the mapper applies mean/scale in the training order (the zoo's S configs are BGR)
        want_m, want_s = want_m[::-1], want_s[::-1]
    spec = registry.get(key)
    if pre_mean is not None and not _close(pre_mean, want_m):
        if _close(pre_mean, tuple(x / 255.0 for x in want_m)):
            msg = (f"mean_value {_fmt(pre_mean)} is the registry mean in 0..1 units, off by a factor 255: "
                   f"the mapper subtracts it from 0..255 pixels, use mean x 255 = '{_fmt(want_m)}'")
        elif train == "rgb" and _close(pre_mean, want_m[::-1]) and want_m != want_m[::-1]:
            msg = (f"mean_value {_fmt(pre_mean)} is in BGR order but input_type_train is rgb: "
                   f"use '{_fmt(want_m)}'")
        else:
            msg = (f"mean_value {_fmt(pre_mean)} does not match {key}'s mean {spec.mean} x 255 = "
                   f"'{_fmt(want_m)}'")
        out.append(Finding("error", msg))
    if pre_scale is not None and not _close(pre_scale, want_s):
        if _close(pre_scale, tuple(x * 255.0 for x in want_s)):
            msg = (f"scale_value {_fmt(pre_scale)} is 1/std for 0..1 inputs, off by a factor 255 (255x too "
                   f"large): the mapper scales 0..255 pixels, use 1/(std x 255) = '{_fmt(want_s)}'")
        elif _close(pre_scale, tuple(x / 255.0 for x in want_s)):
            msg = (f"scale_value {_fmt(pre_scale)} is off by a factor 255 (255x too small): "
                   f"use 1/(std x 255) = '{_fmt(want_s)}'")
        elif _close(pre_scale, tuple(1.0 / x for x in want_s)) or _close(pre_scale, spec.std):
            msg = (f"scale_value {_fmt(pre_scale)} is a standard deviation, but the mapper multiplies by it: "
                   f"use 1/(std x 255) = '{_fmt(want_s)}'")
        elif train == "rgb" and _close(pre_scale, want_s[::-1]) and want_s != want_s[::-1]:
            msg = f"scale_value {_fmt(pre_scale)} is in BGR order but input_type_train is rgb: use '{_fmt(want_s)}'"
        else:
            msg = (f"scale_value {_fmt(pre_scale)} does not match {key}'s 1/(std x 255) with std {spec.std}: "
                   f"use '{_fmt(want_s)}'")
        out.append(Finding("error", msg))
    return out


def _suggest(word: str, options) -> str:
    import difflib

    close = difflib.get_close_matches(str(word), list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_config(path, strict: bool = False, for_board=None) -> List[Finding]:
    """Everything wrong with a mapper yaml, one finding per problem.

    Errors: not yaml, unknown/missing sections or keys, invalid values, a march unknown or
    inconsistent with the board the file name names, mean/scale/input size inconsistent with the
    registry model the file names. Warnings: files it points to that do not exist yet (onnx,
    calibration folder) - the committed yamls point at files you create later with ``export`` and
    ``calib``; ``strict=True`` (use it right before running the mapper) makes them errors.
    ``for_board``: the board the file is meant for (else the one its name ends in).
    """
    path = Path(path)
    try:
        cfg = read_yaml(path)
    except HelpersError as e:
        return [Finding("error", str(e))]
    F: List[Finding] = []
    err = lambda m: F.append(Finding("error", m))  # noqa: E731
    warn = lambda m: F.append(Finding("error" if strict else "warning", m))  # noqa: E731
    note = lambda m: F.append(Finding("warning", m))  # noqa: E731

    for s in SECTIONS:
        if s not in cfg:
            err(f"missing section {s}: a mapper yaml needs {', '.join(SECTIONS)}")
        elif not isinstance(cfg[s], dict):
            err(f"section {s} is {type(cfg[s]).__name__}, not a mapping of keys")
    sec = {s: (cfg.get(s) if isinstance(cfg.get(s), dict) else {}) for s in set(SECTIONS) | set(cfg)}
    mp, ip, cp, kp = (sec[s] for s in SECTIONS)

    # march, and the board the file name names
    march = mp.get("march")
    board = registry.board(for_board).key if for_board is not None else board_from_name(path)
    why = "as asked" if for_board is not None else f"'_{board}' in its name"
    if "model_parameters" in cfg and march is None:
        err(f"model_parameters.march is missing; use one of {MARCH_CHOICES}")
    elif march is not None and march not in MARCHES:
        err(f"unknown march {march!r}{_suggest(march, MARCHES)}; use one of {MARCH_CHOICES}")
    elif march is not None and board is not None and march != registry.BOARDS[board].march:
        b = registry.BOARDS[board]
        if b.is_s != nash.is_nash(march):  # an X-series yaml for an S board, or the other way round
            named = sorted(set(_key_candidates(path, cfg).values()))
            err(f"this is an {MARCH_BOARD_NAME[march]} config (march {march!r}) but the file is for {b.name} ({why}), "
                f"which needs {'an hb_compile config' if b.is_s else 'a mapper yaml'} with march '{b.march}': "
                f"python -m helpers yaml {named[0] if len(named) == 1 else 'KEY'} --board {b.key}")
        else:
            err(f"march {march!r} is the {MARCH_BOARD_NAME[march]} BPU, but this file is for {b.name} "
                f"({why}): use march '{b.march}'")
    gen = march if march in MARCHES else None

    # unknown / misplaced keys
    for s in cfg:
        if s not in ACCEPTED_KEYS["bayes-e"]:
            err(f"unknown section {s!r}{_suggest(s, SECTIONS)}; sections are {', '.join(SECTIONS)}")
            continue
        for k in sec[s]:
            ok = ACCEPTED_KEYS[gen][s] if gen else tuple(set().union(*(a[s] for a in ACCEPTED_KEYS.values())))
            if k in ok:
                continue
            other = [m for m in MARCHES if k in ACCEPTED_KEYS[m][s]]
            if other:
                err(f"{s}.{k} is accepted by the {' / '.join(other)} toolchain but not by {gen} "
                    f"({MARCH_BOARD_NAME[gen]}); remove it")
                continue
            elsewhere = [t for t in SECTIONS if k in ACCEPTED_KEYS["bayes-e"][t]]
            where = f" (it belongs in {elsewhere[0]})" if elsewhere else _suggest(k, ACCEPTED_KEYS["bayes-e"][s])
            err(f"unknown key {s}.{k}{where}")

    # required keys and values
    if "model_parameters" in cfg and not mp.get("onnx_model") and not mp.get("caffe_model"):
        err("model_parameters.onnx_model is missing; give the float ONNX path")

    def one_of(section: Dict[str, Any], sname: str, k: str, allowed, required: bool) -> Optional[str]:
        v = section.get(k)
        if v is None or v == "":
            if required and sname in cfg:
                err(f"{sname}.{k} is missing; one of: {', '.join(map(str, allowed))}")
            return None
        if v not in allowed:
            err(f"{sname}.{k} {v!r} is not valid{_suggest(v, map(str, allowed))}; one of: "
                f"{', '.join(map(str, allowed))}")
            return None
        return v

    g = gen or "bayes-e"
    rt = one_of(ip, "input_parameters", "input_type_rt", INPUT_TYPES_RT, True)
    train = one_of(ip, "input_parameters", "input_type_train", INPUT_TYPES_TRAIN, True)
    layout = one_of(ip, "input_parameters", "input_layout_train", LAYOUTS, True)
    norm = one_of(ip, "input_parameters", "norm_type", NORM_TYPES, True)
    layout_rt = one_of(ip, "input_parameters", "input_layout_rt", LAYOUTS, False)
    for m in ptq_rules.input_type_errors(rt, train, layout_rt, gen):
        err(m)
    space = ip.get("input_space_and_range")
    if space not in (None, "") and space not in nv12.RANGE_FROM_YAML:
        err(f"input_parameters.input_space_and_range {space!r} is not valid{_suggest(space, nv12.RANGE_FROM_YAML)}; "
            "use 'regular' (NV12 0..255, the default) or 'bt601_video' (NV12 16..235)")
    elif space not in (None, "") and rt is not None and rt != "nv12":
        note(f"input_space_and_range only applies when input_type_rt is nv12 (here {rt}); it is ignored")
    if rt == "nv12" and ip.get("input_layout_rt") not in (None, ""):
        note("input_layout_rt is not needed when input_type_rt is nv12 (vendor guide); it is ignored")
    vals: Dict[str, Optional[Tuple[float, ...]]] = {"mean_value": None, "scale_value": None}
    for k, needed in (("mean_value", ("data_mean_and_scale", "data_mean")),
                      ("scale_value", ("data_mean_and_scale", "data_scale"))):
        if ip.get(k) is None:
            if norm in needed:
                err(f"input_parameters.{k} is missing but norm_type is {norm}")
            continue
        try:
            vals[k] = parse_values(ip[k], k)
            if len(vals[k]) not in (1, 3):
                err(f"input_parameters.{k} has {len(vals[k])} values; give 1 or 3 (one per channel)")
                vals[k] = None
        except HelpersError as e:
            err(f"input_parameters.{e}")
    hw = None
    try:
        hw = parse_shape(ip.get("input_shape"), layout or "NCHW")
    except HelpersError as e:
        err(f"input_parameters.{e}")
    if hw and rt in ("nv12", "yuv444") and (hw[0] % 2 or hw[1] % 2):
        err(f"input_shape {ip.get('input_shape')} has an odd size; nv12/yuv444 inputs need even H and W")
    calib_type = one_of(cp, "calibration_parameters", "calibration_type", CALIBRATION_TYPES, False)
    cal_type = one_of(cp, "calibration_parameters", "cal_data_type", CAL_DATA_TYPES[g], False)
    one_of(kp, "compiler_parameters", "compile_mode", COMPILE_MODES[g], False)
    if nash.is_nash(gen) and kp.get("optimize_level") not in (None, ""):
        msg = nash.optimize_level_error(kp["optimize_level"], MARCH_BOARD_NAME[gen])
        if msg:
            err(msg)
    else:
        one_of(kp, "compiler_parameters", "optimize_level", OPTIMIZE_LEVELS, False)
    one_of(kp, "compiler_parameters", "core_num", CORE_NUMS[g], False)
    for s, d, k in (("compiler_parameters", kp, "debug"), ("model_parameters", mp, "layer_out_dump"),
                    ("calibration_parameters", cp, "preprocess_on")):
        if k in d and not isinstance(d[k], bool):
            err(f"{s}.{k} {d[k]!r} is not a boolean; use True or False")

    # the registry model the file names
    cands = _key_candidates(path, cfg)
    keys = sorted(set(cands.values()))
    if len(keys) > 1:
        err("the file names different models: " + ", ".join(f"{w} -> {k}" for w, k in cands.items()))
    elif keys:
        key = keys[0]
        spec = registry.get(key)
        if norm not in (None, "data_mean_and_scale"):
            err(f"norm_type {norm} drops part of {key}'s normalisation; use data_mean_and_scale")
        F.extend(_check_norm(key, vals["mean_value"], vals["scale_value"], train or "rgb"))
        if hw and hw != spec.input_size:
            err(f"input_shape {ip.get('input_shape')} does not match {key}'s deployed size "
                f"{spec.input_size[1]}x{spec.input_size[0]}")
        prefix = mp.get("output_model_file_prefix")
        if prefix and prefix != spec.bin_stem:
            note(f"output_model_file_prefix {prefix!r} differs from {spec.bin_stem!r}, the name the "
                 "notebooks look for")
        if board and board not in spec.boards:
            err(f"{key} is not deployed on {registry.BOARDS[board].name}")
    else:
        note("cannot tell which registry model this file is for (file name, onnx_model and "
             "output_model_file_prefix name none); mean/scale not checked")

    # files it points to (relative paths: relative to the yaml's folder, where hb_mapper is run)
    here = path.resolve().parent
    onnx_model = mp.get("onnx_model")
    if isinstance(onnx_model, str) and onnx_model:
        p = ((here / onnx_model) if not Path(onnx_model).is_absolute() else Path(onnx_model)).resolve()
        if not p.is_file():
            hint = "python -m helpers export KEY --out FILE"
            if len(keys) == 1:
                hint = f"python -m helpers export {keys[0]}" + (
                    "" if p == registry.get(keys[0]).float_onnx_path.resolve() else f" --out {rel_to_repo(p)}")
            warn(f"onnx_model {onnx_model} not found (looked for {rel_to_repo(p)}); create it: {hint}")
    cal_dir = cp.get("cal_data_dir")
    if calib_type != "skip" and "calibration_parameters" in cfg:
        if not cal_dir:
            err("calibration_parameters.cal_data_dir is missing (needed unless calibration_type is skip)")
        else:
            p = ((here / str(cal_dir)) if not Path(str(cal_dir)).is_absolute() else Path(str(cal_dir))).resolve()
            hint = "python -m helpers calib KEY --images DIR --out DIR"
            if len(keys) == 1:
                hint = f"python -m helpers calib {keys[0]} --images DIR" + (
                    "" if p == registry.get(keys[0]).calib_dir.resolve() else f" --out {rel_to_repo(p)}")
            if not p.is_dir():
                warn(f"cal_data_dir {cal_dir} not found (looked for {rel_to_repo(p)}); create it: {hint}")
            else:
                files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
                if not files:
                    warn(f"cal_data_dir {cal_dir} is empty; create the samples: {hint}")
                elif hw:
                    dtype = cal_type or ("float32" if str(cal_dir).rstrip("/").endswith("_f32") else "uint8")
                    size = 3 * hw[0] * hw[1] * {"float32": 4, "int32": 4, "int16": 2}.get(dtype, 1)
                    bad = [f.name for f in files if f.stat().st_size != size]
                    if bad:
                        err(f"{len(bad)} of {len(files)} files in cal_data_dir are not {size} bytes "
                            f"(1x3x{hw[0]}x{hw[1]} {dtype}), e.g. {bad[0]}; regenerate them: {hint}")
        if cal_dir and not cal_type and not str(cal_dir).rstrip("/").endswith("_f32"):
            note("cal_data_type is not set and cal_data_dir does not end in _f32, so the mapper reads "
                 "the samples as uint8; set cal_data_type: 'float32' for our calibration data")
    # per-node precision (node_info / run_on_cpu): syntax, march, names in the ONNX
    from helpers.pc import node_info

    onnx_file = ((here / onnx_model) if not Path(onnx_model).is_absolute() else Path(onnx_model)) \
        if isinstance(onnx_model, str) and onnx_model else None
    for level, msg in node_info.check(cfg, gen, onnx_file) + (nash.check(cfg, gen) if nash.is_nash(gen) else []):
        (err if level == "error" else note)(msg)
    return F


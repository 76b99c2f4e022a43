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

import dataclasses
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
                  keep_nodes: Sequence[str] = (), input_size: Optional[Tuple[int, int]] = None,
                  config_name: Optional[str] = None) -> str:
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
    ``input_size`` ``(h, w)``: build the model at another size than the registry's (the demo's digits);
    the input shape, the output file and the header follow it. ``config_name``: the file name the header's
    build command names (default ``<key>_<board>.yaml``).
    """
    from helpers.pc import node_info

    spec = registry.get(key)
    if input_size is not None:
        spec = dataclasses.replace(spec, input_size=(int(input_size[0]), int(input_size[1])))
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
                              command=command, calib_hint=calib_hint, keep_nodes=keep_nodes, spec=spec,
                              config_name=config_name)
    h, w = spec.input_size
    nv12.check_even(h, w)
    space = nv12.YAML_SPACE_AND_RANGE[yuv_range]
    name = config_name or spec.yaml_name(board)
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


#: the first line of every yaml we generate (``check-yaml`` and ``yaml`` tell ours from a user's by it);
#: checking a yaml is :mod:`helpers.pc.mapper_check`
GENERATED_MARK = "# GENERATED by `python -m helpers yaml"

"""The S-series toolchain (RDK S100 / S100P / S600, BPU Nash): ``hb_compile`` configs, their keys and rules.

``hb_compile --config X.yaml`` (OpenExplorer S) turns our float ONNX into an ``.hbm``; its yaml has the
four sections of the X-series mapper yaml (:mod:`helpers.pc.mapper`). What it accepts, and where from
(D-Robotics/rdk_model_zoo unless named):

* the published S configs: ``samples/vision/mobilenetv4/conversion/ptq_s.yaml`` and
  ``samples/vision/mobilenetv1/conversion/ptq_s_100.yaml`` (OE S v3.7.0: ``march`` nash-e / nash-m /
  nash-p, ``optimize_level: O2``, ``compile_mode: latency``, ``core_num: 1``, ``jobs``, ``advice``,
  ``balance_factor``, ``max_time_per_fc``, ``cache_mode``, ``cache_path``, ``std_value``,
  ``separate_batch``, ``calibration_parameters.quant_config``, ``input_space_and_range: bt601_video``),
  ``samples/vision/mobilenetv3/conversion/mobilenetv3_s_config.yaml`` and
  ``mobilenetv4/conversion/mobilenetv4_{small,medium}_config.yaml`` (nash-e: ``layer_out_dump``,
  ``node_info`` with int16 inputs/outputs, ``optimize_level: 'O2'``);
* ``calibration_parameters.optimization: set_all_nodes_int16`` with hb_compile: the zoo's S PaddleOCR
  recogniser config (``yaml_rec_configs100.yaml`` in its README) and its S EfficientSAM yamls;
* ``optimize_level``: O0, O1, O2 only. ``hb_compile`` refuses O3 on nash ("The specified optimize_level 'O3'
  is invalid, it can only be specified as values in ['O0', 'O1', 'O2']"): D-Robotics/rdk_model_zoo_s issue 16
  (https://github.com/D-Robotics/rdk_model_zoo_s/issues/16, RDK S100, hb_compile 3.3.22).

The model check the toolchain offers before a build: ``hb_compile --model X.onnx --march nash-e`` (the
rdk_s MobileNetV4 README, "模型检查"); after it, ``hb_perf`` and, on the board, ``hrt_model_exec perf``
(``samples/vision/mobilenetv4/conversion/README.md``, "Validation").

The published ``.hbm`` files take NV12 in the limited (video) range (``bt601_video``, the comment in
ptq_s.yaml: OpenCV's I420 is limited range), so our S configs say the same and our board model and NV12
encoder follow the yaml's range (:mod:`helpers.board.nv12`). Board-safe (no onnx/torch).
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from helpers.board import nv12, registry
from helpers.errors import HelpersError

MARCHES: Tuple[str, ...] = tuple(b.march for b in registry.BOARDS.values() if b.is_s)

ACCEPTED_KEYS: Dict[str, Tuple[str, ...]] = {
    "model_parameters": ("onnx_model", "march", "working_dir", "output_model_file_prefix", "layer_out_dump",
                         "debug_mode", "output_nodes", "remove_node_type", "remove_node_name", "node_info"),
    "input_parameters": ("input_name", "input_type_rt", "input_type_train", "input_layout_train", "input_shape",
                         "input_batch", "separate_batch", "norm_type", "mean_value", "scale_value", "std_value",
                         "input_space_and_range", "input_layout_rt"),
    "calibration_parameters": ("cal_data_dir", "cal_data_type", "calibration_type", "quant_config",
                               "optimization", "max_percentile", "per_channel", "run_on_cpu", "run_on_bpu"),
    "compiler_parameters": ("compile_mode", "debug", "core_num", "optimize_level", "input_source", "jobs",
                            "advice", "balance_factor", "max_time_per_fc", "cache_mode", "cache_path"),
}
OPTIMIZE_LEVELS = ("O0", "O1", "O2")
COMPILE_MODES = ("latency", "bandwidth", "balance")
CAL_DATA_TYPES = ("float32", "uint8")
CORE_NUMS = (1,)
#: the optimisation that quantises every node in int16 (the S PaddleOCR / EfficientSAM configs)
ALL_INT16 = "set_all_nodes_int16"
ISSUE_O3 = "https://github.com/D-Robotics/rdk_model_zoo_s/issues/16"
#: the range of the S configs WE generate: bt601_video, as the zoo's current S recipe
#: (samples/vision/mobilenetv4/conversion/ptq_s.yaml) names it, so that OpenCV's I420 conversion, which the
#: zoo's S samples feed (samples/_shared/tensor_io.py -> samples/_shared/image.py), matches. Not the range of
#: every published .hbm: each published file's range is in registry.Published.yuv_range, with its source.
DEFAULT_RANGE = "limited"


def default_range(board) -> str:
    """The NV12 range a board's config names unless told otherwise: bt601_video (limited,
    :data:`DEFAULT_RANGE`) for the configs we generate for the S boards, X3/X5 our default (full, 'regular')."""
    return DEFAULT_RANGE if registry.board(board).is_s else nv12.DEFAULT_RANGE


def is_nash(march) -> bool:
    return march in MARCHES


def board_of_march(march: str) -> Optional[registry.Board]:
    found = [b for b in registry.BOARDS.values() if b.march == march]
    return found[0] if found else None


def optimize_level_error(level, board_name: str) -> Optional[str]:
    """One line when ``level`` is not one hb_compile takes on nash, else None."""
    if level in OPTIMIZE_LEVELS:
        return None
    if level == "O3":
        return (f"compiler_parameters.optimize_level 'O3' is refused by hb_compile on nash ({board_name}: only "
                f"O0, O1, O2; {ISSUE_O3}): use optimize_level: 'O2'")
    return f"compiler_parameters.optimize_level {level!r} is not valid on nash; use 'O0', 'O1' or 'O2' ('O2' is the zoo's)"


def require_s_keys(cfg: Dict, board) -> None:
    """Refuse, in one line, a config that is not an hb_compile config for the S board ``board``
    (an X5 mapper yaml given for an S100, O3, a wrong march)."""
    b = registry.board(board)
    mp = cfg.get("model_parameters") if isinstance(cfg.get("model_parameters"), dict) else {}
    kp = cfg.get("compiler_parameters") if isinstance(cfg.get("compiler_parameters"), dict) else {}
    march = mp.get("march")
    other = board_of_march(str(march)) if march else None
    if other is not None and not other.is_s:
        raise HelpersError(f"this is an {other.name} mapper yaml (march {march!r}, {other.compiler}); {b.name} "
                           f"needs an hb_compile config with march '{b.march}': python -m helpers yaml KEY --board {b.key}")
    if march != b.march:
        raise HelpersError(f"the config's march is {march!r} but {b.name} is '{b.march}': set march: '{b.march}' "
                           f"or regenerate it (python -m helpers yaml KEY --board {b.key})")
    msg = optimize_level_error(kp.get("optimize_level", "O2"), b.name)
    if msg:
        raise HelpersError(msg)


def yaml_text(key: str, board, onnx_model: str, cal_data_dir: str, working_dir: str, run_from: str,
              yuv_range: str, mean_value: str, scale_value: str, input_name: str = "data",
              command: Optional[str] = None, calib_hint: Optional[str] = None, keep_nodes: Sequence[str] = (),
              spec: Optional[registry.ModelSpec] = None, config_name: Optional[str] = None) -> str:
    """The hb_compile config for ``key`` on the S board ``board``, as text with explanatory comments
    (``mean_value`` / ``scale_value``: the yaml values, as :func:`helpers.pc.mapper.generate_yaml` writes them;
    ``spec``: ``key``'s registry entry at another input size; ``config_name``: the file name the header names)."""
    from helpers.pc import node_info

    spec, b = spec or registry.get(key), registry.board(board)
    if not b.is_s:
        raise HelpersError(f"{b.name} is not an S-series board; its config is a mapper yaml (helpers.pc.mapper)")
    nv12.check_range(yuv_range)
    h, w = spec.input_size
    nv12.check_even(h, w)
    space = nv12.YAML_SPACE_AND_RANGE[yuv_range]
    other = "full" if yuv_range == "limited" else "limited"
    name = config_name or spec.yaml_name(b)
    keep_model, _ = node_info.yaml_lines(b.march, keep_nodes)
    pub = spec.published_for(b.key)
    lines: List[str] = [
        f"# {b.name} ({b.march}) hb_compile config for {key}: float ONNX -> {spec.bin_stem}{b.suffix}",
        f"# GENERATED by `{command or f'python -m helpers yaml {key} --board {b.key}'}` from helpers/board/registry.py;",
        "# do not edit by hand (`python -m helpers yaml --all` regenerates every file; a test checks drift)."
        if command is None else "# do not edit by hand; regenerate the bundle instead.",
        "#",
        f"# Run the S-series toolchain ({b.toolchain_version.split(' (')[0]}, inside its docker image) from the "
        "folder holding this file:",
        f"#   {run_from}",
        f"#   hb_compile --model {onnx_model} --march {b.march}    # the model check",
        f"#   hb_compile --config {name}",
        f"# Calibration data (cal_data_dir): {calib_hint or f'python -m helpers calib {key} --images DIR'}",
        "# Modelled on the zoo's S config (rdk_model_zoo samples/vision/mobilenetv4/conversion/ptq_s.yaml);",
        "# nash takes optimize_level O0-O2 only (O3 is refused: rdk_model_zoo_s issue 16).",
    ]
    if pub is not None and pub.input_size != spec.input_size:
        lines.append(f"# Note: the zoo's {b.name} file {pub.bin_name} takes {pub.input_size[1]}x{pub.input_size[0]}; "
                     f"this config builds ours at {w}x{h}.")
    lines += [
        "",
        "model_parameters:",
        f"  onnx_model: '{onnx_model}'",
        f"  march: '{b.march}'",
        f"  working_dir: '{working_dir}'",
        f"  output_model_file_prefix: '{spec.bin_stem}'",
        *keep_model,
        "",
        "input_parameters:",
        f"  input_name: '{input_name}'",
        "  # the board feeds NV12 uint8, split into y (1,H,W,1) and uv (1,H/2,W/2,2) by the runtime",
        "  input_type_rt: 'nv12'",
        "  # NV12 value range the .hbm expects: 'bt601_video' = [16,235] (the zoo's S files),",
        "  # 'regular' = [0,255]. Our board code (helpers/board/nv12.py) encodes the range this file names.",
        f"  # Use `--yuv-range {other}` to generate '{nv12.YAML_SPACE_AND_RANGE[other]}'.",
        f"  input_space_and_range: '{space}'",
        "  input_type_train: 'rgb'",
        "  input_layout_train: 'NCHW'",
        f"  input_shape: '1x3x{h}x{w}'",
        "  # (pixel - mean_value) * scale_value on 0..255 pixels:",
        "  # mean_value = registry mean x 255, scale_value = 1 / (registry std x 255)",
        "  norm_type: 'data_mean_and_scale'",
        f"  mean_value: '{mean_value}'",
        f"  scale_value: '{scale_value}'",
        "",
        "calibration_parameters:",
        "  # raw float32 RGB NCHW 0..255 files written with numpy.tofile (python -m helpers calib)",
        f"  cal_data_dir: '{cal_data_dir}'",
        "  cal_data_type: 'float32'",
        "  calibration_type: 'default'",
        "",
        "compiler_parameters:",
        "  compile_mode: 'latency'",
        "  optimize_level: 'O2'",
        "  core_num: 1",
        "",
    ]
    return "\n".join(lines)


def check(cfg: Dict, march: str) -> List[Tuple[str, str]]:
    """``[(level, message)]``: the nash-only rules check-yaml adds for an S config (values of keys the
    X-series check does not know: optimization, quant_config, std_value)."""
    out: List[Tuple[str, str]] = []
    ip = cfg.get("input_parameters") if isinstance(cfg.get("input_parameters"), dict) else {}
    cp = cfg.get("calibration_parameters") if isinstance(cfg.get("calibration_parameters"), dict) else {}
    opt = cp.get("optimization")
    if opt not in (None, "") and opt != ALL_INT16:
        out.append(("warning", f"calibration_parameters.optimization {opt!r}: the S configs we know use only "
                               f"'{ALL_INT16}'; check the OE S manual"))
    qc = cp.get("quant_config")
    if qc not in (None, "") and not isinstance(qc, dict):
        out.append(("error", f"calibration_parameters.quant_config is {type(qc).__name__}; give a mapping "
                             "({} for none, as the zoo's ptq_s.yaml)"))
    if ip.get("std_value") not in (None, "") and ip.get("norm_type") == "data_mean_and_scale":
        out.append(("warning", "std_value is set but norm_type is data_mean_and_scale (scale_value is used); "
                               "leave std_value ''"))
    return out

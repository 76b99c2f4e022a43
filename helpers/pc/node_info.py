"""Per-node precision in a mapper yaml: ``node_info`` (int16 / BPU / CPU) and ``run_on_cpu``.

What each board's toolchain offers, and where that comes from:

* **RDK X5** (``march: bayes-e``) and **RDK Ultra** (``bayes``): ``model_parameters.node_info`` keeps
  chosen nodes' inputs and outputs in int16 and/or pins them to the BPU or the CPU. The PTQ guide
  (D-Robotics rdk_doc ``docs/07_Advanced_development/04_toolchain_development/intermediate/ptq_process.md``,
  "model parameters" table and "RDK Ultra int16 configuration") documents it for RDK Ultra (``bayes``);
  D-Robotics' own X5 configs use the same syntax with ``march: "bayes-e"`` - rdk_model_zoo
  ``samples/vision/classification/MobileNetV3/yaml/MobileNetV3_config.yaml`` (branch main; also
  ``samples/vision/mobilenetv3/conversion/MobileNetV3_config.yaml`` on rdk_x5) keeps four nodes in
  int16 that way::

      node_info: {"/blocks/blocks.0/blocks.0.0/conv_dw/Conv": {'ON': 'BPU', 'InputType': 'int16',
                                                              'OutputType': 'int16'}, ...}

  Keys (guide): ``ON`` (``BPU`` / ``CPU``), ``InputType`` (all inputs) or ``InputType0``,
  ``InputType1``, ... (one input), ``OutputType`` (all outputs; ``OutputType0`` etc. are *not*
  supported). The short form ``'name1:int16;name2:int16'`` sets data types only. The toolchain
  falls back to int8 where a neighbour cannot take int16 (guide: "the upstream/downstream op must
  support int16 ... otherwise it falls back to int8 and logs it").
* **RDK X3** (``bernoulli2``): no int16 ("RDK X3 不支持算子int16计算", same guide, accuracy-debug
  tip), no ``node_info`` (the X3 branch of the zoo keeps it commented out:
  ``demos/detect/YOLOv10/ptq_yamls/yolov10_detect_bernoulli2_640x640_nv12.yaml``). What it offers
  instead is ``calibration_parameters.run_on_cpu: 'node1; node2'``: those nodes run in float on the
  CPU (guide: "the CPU is slower than the BPU but computes in float"; "usually only 1-2 output-side
  ops", because every CPU node splits the BPU graph).

* **RDK S100 / S100P / S600** (``nash-e`` / ``nash-m`` / ``nash-p``, ``hb_compile``): ``node_info`` with
  int16 inputs/outputs on the BPU, in the same syntax - the zoo's S MobileNetV3 config keeps six nodes
  that way (rdk_model_zoo ``samples/vision/mobilenetv3/conversion/mobilenetv3_s_config.yaml``). The whole
  model in int16 is ``calibration_parameters.optimization: set_all_nodes_int16`` (the zoo's S PaddleOCR
  and EfficientSAM configs; on X5 too, its YOLO mapper): :data:`ALL_INT16_LINE`, which is what the
  sensitivity "ceiling" (every layer kept) previews.

This module writes and checks both. PyYAML-free; reading node names needs ``onnx`` (PC only).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from helpers.errors import HelpersError

#: marches whose toolchain takes ``node_info`` (see the module docstring for the sources)
NODE_INFO_MARCHES = ("bayes", "bayes-e", "nash-e", "nash-m", "nash-p")
DATA_TYPES = ("int8", "int16")
PLACES = ("BPU", "CPU")
_INPUT_KEY = re.compile(r"InputType\d*")
#: what a kept layer becomes, per march: int16 on the BPU (node_info) or float on the CPU (run_on_cpu)
KEEP_AS = {"bayes": "int16", "bayes-e": "int16", "bernoulli2": "float",
           # RDK S100/S100P/S600: node_info with int16 on nash-e (rdk_model_zoo
           # samples/vision/mobilenetv3/conversion/mobilenetv3_s_config.yaml, hb_compile)
           "nash-e": "int16", "nash-m": "int16", "nash-p": "int16"}


#: the yaml line that quantises every node in int16, for the marches whose toolchain takes it
ALL_INT16_LINE = "calibration_parameters.optimization: set_all_nodes_int16"
ALL_INT16_MARCHES = ("bayes-e", "nash-e", "nash-m", "nash-p")


def keep_as(march: str) -> str:
    if march not in KEEP_AS:
        raise HelpersError(f"unknown march {march!r}; use 'bernoulli2' (RDK X3), 'bayes-e' (RDK X5) or "
                           "'nash-e' / 'nash-m' / 'nash-p' (RDK S100 / S100P / S600)")
    return KEEP_AS[march]


def yaml_lines(march: str, nodes: Sequence[str], indent: str = "  ") -> Tuple[List[str], List[str]]:
    """``(model_parameters lines, calibration_parameters lines)`` that keep ``nodes`` at higher precision.

    bayes / bayes-e: ``node_info`` with ``ON: BPU`` and int16 inputs and outputs, in the zoo's syntax.
    bernoulli2: ``run_on_cpu`` (float on the CPU), the only per-node precision the X3 toolchain has.
    """
    nodes = [str(n) for n in nodes]
    if not nodes:
        return [], []
    for n in nodes:
        if "'" in n or '"' in n or ";" in n:
            raise HelpersError(f"node name {n!r} contains a quote or ';', which the mapper's syntax cannot carry")
    if keep_as(march) == "int16":
        body = [f'{indent}  "{n}": {{\'ON\': \'BPU\', \'InputType\': \'int16\', \'OutputType\': \'int16\'}},'
                for n in nodes]
        return ([f"{indent}# keep these nodes' inputs and outputs in int16 on the BPU (PTQ guide: node_info)",
                 f"{indent}node_info: {{"] + body + [f"{indent}}}"], [])
    return [], [f"{indent}# RDK X3 has no int16: run these nodes in float on the CPU (PTQ guide: run_on_cpu)",
                f"{indent}run_on_cpu: '{'; '.join(nodes)}'"]


def apply(cfg: Dict[str, Any], march: str, nodes: Sequence[str]) -> Dict[str, Any]:
    """``cfg`` (a loaded mapper yaml) with ``nodes`` kept as :func:`yaml_lines` would write them."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in cfg.items()}
    if not nodes:
        return out
    if keep_as(march) == "int16":
        out.setdefault("model_parameters", {})["node_info"] = {
            str(n): {"ON": "BPU", "InputType": "int16", "OutputType": "int16"} for n in nodes}
    else:
        out.setdefault("calibration_parameters", {})["run_on_cpu"] = "; ".join(map(str, nodes))
    return out


def split_names(value: Any) -> List[str]:
    """``'a; b;c'`` or a list -> ``['a', 'b', 'c']`` (the guide's multi-value syntax)."""
    if value is None or value == "":
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(";")
    return [str(x).strip() for x in items if str(x).strip()]


def parse_node_info(value: Any) -> Tuple[Dict[str, Dict[str, str]], List[str]]:
    """``(nodes -> settings, problems)`` of a ``node_info`` value (mapping or ``'n:int16;...'``)."""
    problems: List[str] = []
    nodes: Dict[str, Dict[str, str]] = {}
    if isinstance(value, str):
        for item in split_names(value):
            name, sep, dtype = item.rpartition(":")
            if not sep or not name.strip():
                problems.append(f"node_info item {item!r} is not 'node_name:int16'")
            elif dtype.strip() not in DATA_TYPES:
                problems.append(f"node_info {name.strip()!r}: data type {dtype.strip()!r} is not one of {', '.join(DATA_TYPES)}")
            else:
                nodes[name.strip()] = {"InputType": dtype.strip(), "OutputType": dtype.strip()}
        return nodes, problems
    if not isinstance(value, dict):
        return {}, [f"node_info is {type(value).__name__}; give a mapping "
                    "{\"node\": {'ON': 'BPU', 'InputType': 'int16', 'OutputType': 'int16'}} or 'node:int16;...'"]
    for name, settings in value.items():
        if not isinstance(settings, dict):
            problems.append(f"node_info {name!r}: settings are {type(settings).__name__}, not a mapping of "
                            "ON / InputType / OutputType")
            continue
        for k, v in settings.items():
            if k == "ON":
                if v not in PLACES:
                    problems.append(f"node_info {name!r}: ON {v!r} is not BPU or CPU")
            elif k == "OutputType" or _INPUT_KEY.fullmatch(str(k)):
                if v not in DATA_TYPES:
                    problems.append(f"node_info {name!r}: {k} {v!r} is not one of {', '.join(DATA_TYPES)}")
            elif re.fullmatch(r"OutputType\d+", str(k)):
                problems.append(f"node_info {name!r}: {k} is not supported (PTQ guide: OutputType applies to "
                                "all outputs; use OutputType)")
            else:
                problems.append(f"node_info {name!r}: unknown key {k!r}; keys are ON, InputType (or InputType0, "
                                "InputType1, ...) and OutputType")
        nodes[str(name)] = {str(k): str(v) for k, v in settings.items()}
    return nodes, problems


def kept_nodes(cfg: Dict[str, Any]) -> Tuple[List[str], List[str]]:
    """``(int16 nodes, CPU nodes)`` a mapper yaml asks for (``node_info``, ``run_on_cpu``)."""
    mp = cfg.get("model_parameters") if isinstance(cfg.get("model_parameters"), dict) else {}
    cp = cfg.get("calibration_parameters") if isinstance(cfg.get("calibration_parameters"), dict) else {}
    nodes, problems = parse_node_info(mp.get("node_info")) if mp.get("node_info") not in (None, "") else ({}, [])
    if problems:
        raise HelpersError(f"the yaml's node_info is not valid: {problems[0]} (python -m helpers check-yaml FILE)")
    cpu = [n for n, s in nodes.items() if s.get("ON") == "CPU"] + split_names(cp.get("run_on_cpu"))
    int16 = [n for n, s in nodes.items() if n not in cpu and "int16" in (v for k, v in s.items() if k != "ON")]
    return int16, list(dict.fromkeys(cpu))


def onnx_node_names(path) -> Optional[List[str]]:
    """The node names of an ONNX file; ``None`` when onnx is not installed (on a board)."""
    try:
        import onnx
    except ImportError:
        return None
    return [n.name for n in onnx.load(str(path), load_external_data=False).graph.node]


def check(cfg: Dict[str, Any], march: Optional[str], onnx_file: Optional[Path]) -> List[Tuple[str, str]]:
    """``[(level, message)]`` for ``node_info`` / ``run_on_cpu`` / ``run_on_bpu`` of a mapper yaml.

    Values must be in the guide's syntax, the names must be nodes of the ONNX (when it exists), and
    ``node_info`` asks for a march that takes it (X3: use ``run_on_cpu``).
    """
    out: List[Tuple[str, str]] = []
    mp = cfg.get("model_parameters") if isinstance(cfg.get("model_parameters"), dict) else {}
    cp = cfg.get("calibration_parameters") if isinstance(cfg.get("calibration_parameters"), dict) else {}
    named: Dict[str, List[str]] = {}
    if "set_all_nodes_int16" in str(cp.get("optimization") or "") and march is not None \
            and march not in ALL_INT16_MARCHES:
        out.append(("error", f"optimization set_all_nodes_int16 is not available for march {march!r}: the RDK X3 "
                             "toolchain has no int16 (PTQ guide); remove it (keep sensitive nodes in float with "
                             "calibration_parameters.run_on_cpu)"))
    if mp.get("node_info") not in (None, ""):
        if march is not None and march not in NODE_INFO_MARCHES:
            out.append(("error", f"node_info is not available for march {march!r}: the RDK X3 toolchain has no "
                                 "int16 (PTQ guide); keep sensitive nodes in float with "
                                 "calibration_parameters.run_on_cpu: 'node1; node2' instead"))
        nodes, problems = parse_node_info(mp["node_info"])
        out += [("error", p) for p in problems]
        named["model_parameters.node_info"] = list(nodes)
    for k in ("run_on_cpu", "run_on_bpu"):
        if cp.get(k) not in (None, ""):
            named[f"calibration_parameters.{k}"] = split_names(cp[k])
    if not named:
        return out
    if onnx_file is None or not Path(onnx_file).is_file():
        out.append(("warning", f"{', '.join(named)} names nodes, but the onnx_model is not there to check them"))
        return out
    names = onnx_node_names(onnx_file)
    if names is None:
        out.append(("warning", f"{', '.join(named)}: node names not checked (the onnx package is not installed)"))
        return out
    known = set(names)
    for where, ns in named.items():
        missing = [n for n in ns if n not in known]
        if missing:
            import difflib

            close = difflib.get_close_matches(missing[0], names, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            out.append(("error", f"{where}: {len(missing)} node(s) are not in {Path(onnx_file).name}, e.g. "
                                 f"{missing[0]!r}{hint}; names are the ONNX node names (netron shows them)"))
    return out

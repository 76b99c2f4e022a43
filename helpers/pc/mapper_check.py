"""``python -m helpers check-yaml``: everything wrong with a mapper / hb_compile yaml, one finding per problem.

:func:`check_config` runs its checks as named steps over one :class:`_Check` (the parsed file and the
findings so far): sections, march and board, unknown keys, input values, compiler and calibration values,
the registry model the file names, the files it points to, per-node precision. The vendor facts behind
each rule (keys per march, value choices, the nash rules) live in :mod:`helpers.pc.mapper`,
:mod:`helpers.pc.ptq_rules` and :mod:`helpers.pc.nash`, with their sources.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from helpers.board import nv12, registry
from helpers.board.files import rel_to_repo
from helpers.errors import HelpersError
from helpers.pc import nash, ptq_rules
from helpers.pc.mapper import (ACCEPTED_KEYS, CAL_DATA_TYPES, CALIBRATION_TYPES, COMPILE_MODES, CORE_NUMS, LAYOUTS,
                               MARCH_BOARD_NAME, MARCH_CHOICES, MARCHES, NORM_TYPES, OPTIMIZE_LEVELS, SECTIONS,
                               mean_value, parse_shape, parse_values, read_yaml, scale_value)
from helpers.pc.ptq_rules import INPUT_TYPES_RT, INPUT_TYPES_TRAIN


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


@dataclass
class _Check:
    """One file being checked: its path and parsed sections, what earlier steps found, and the findings."""

    path: Path
    cfg: Dict[str, Any]
    strict: bool
    findings: List[Finding] = field(default_factory=list)
    sec: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    gen: Optional[str] = None           # the march, when it is one we know
    board: Optional[str] = None         # the board the file is for
    values: Dict[str, Any] = field(default_factory=dict)
    keys: List[str] = field(default_factory=list)

    def err(self, message: str) -> None:
        self.findings.append(Finding("error", message))

    def warn(self, message: str) -> None:
        """A file that does not exist yet: an error only with ``strict`` (right before the toolchain runs)."""
        self.findings.append(Finding("error" if self.strict else "warning", message))

    def note(self, message: str) -> None:
        self.findings.append(Finding("warning", message))

    def one_of(self, sname: str, k: str, allowed, required: bool) -> Optional[str]:
        v = self.sec[sname].get(k)
        if v is None or v == "":
            if required and sname in self.cfg:
                self.err(f"{sname}.{k} is missing; one of: {', '.join(map(str, allowed))}")
            return None
        if v not in allowed:
            self.err(f"{sname}.{k} {v!r} is not valid{_suggest(v, map(str, allowed))}; one of: "
                     f"{', '.join(map(str, allowed))}")
            return None
        return v


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
    c = _Check(path, cfg, strict)
    _sections(c)
    _march(c, for_board)
    _unknown_keys(c)
    _input_values(c)
    _compiler_and_calibration_values(c)
    _registry_model(c)
    _onnx_file(c)
    _calibration_data(c)
    _node_precision(c)
    return c.findings


def _sections(c: _Check) -> None:
    for s in SECTIONS:
        if s not in c.cfg:
            c.err(f"missing section {s}: a mapper yaml needs {', '.join(SECTIONS)}")
        elif not isinstance(c.cfg[s], dict):
            c.err(f"section {s} is {type(c.cfg[s]).__name__}, not a mapping of keys")
    c.sec = {s: (c.cfg.get(s) if isinstance(c.cfg.get(s), dict) else {}) for s in set(SECTIONS) | set(c.cfg)}


def _march(c: _Check, for_board) -> None:
    """The march, and the board the file is for (asked, or named by the file name)."""
    march = c.sec["model_parameters"].get("march")
    board = registry.board(for_board).key if for_board is not None else board_from_name(c.path)
    why = "as asked" if for_board is not None else f"'_{board}' in its name"
    if "model_parameters" in c.cfg and march is None:
        c.err(f"model_parameters.march is missing; use one of {MARCH_CHOICES}")
    elif march is not None and march not in MARCHES:
        c.err(f"unknown march {march!r}{_suggest(march, MARCHES)}; use one of {MARCH_CHOICES}")
    elif march is not None and board is not None and march != registry.BOARDS[board].march:
        b = registry.BOARDS[board]
        if b.is_s != nash.is_nash(march):  # an X-series yaml for an S board, or the other way round
            named = sorted(set(_key_candidates(c.path, c.cfg).values()))
            c.err(f"this is an {MARCH_BOARD_NAME[march]} config (march {march!r}) but the file is for {b.name} "
                  f"({why}), which needs {'an hb_compile config' if b.is_s else 'a mapper yaml'} with march "
                  f"'{b.march}': python -m helpers yaml {named[0] if len(named) == 1 else 'KEY'} --board {b.key}")
        else:
            c.err(f"march {march!r} is the {MARCH_BOARD_NAME[march]} BPU, but this file is for {b.name} "
                  f"({why}): use march '{b.march}'")
    c.gen = march if march in MARCHES else None
    c.board = board


def _unknown_keys(c: _Check) -> None:
    """Sections and keys the toolchain of this march does not accept (and where a misplaced key belongs)."""
    gen = c.gen
    for s in c.cfg:
        if s not in ACCEPTED_KEYS["bayes-e"]:
            c.err(f"unknown section {s!r}{_suggest(s, SECTIONS)}; sections are {', '.join(SECTIONS)}")
            continue
        for k in c.sec[s]:
            ok = ACCEPTED_KEYS[gen][s] if gen else tuple(set().union(*(a[s] for a in ACCEPTED_KEYS.values())))
            if k in ok:
                continue
            other = [m for m in MARCHES if k in ACCEPTED_KEYS[m][s]]
            if other:
                c.err(f"{s}.{k} is accepted by the {' / '.join(other)} toolchain but not by {gen} "
                      f"({MARCH_BOARD_NAME[gen]}); remove it")
                continue
            elsewhere = [t for t in SECTIONS if k in ACCEPTED_KEYS["bayes-e"][t]]
            where = f" (it belongs in {elsewhere[0]})" if elsewhere else _suggest(k, ACCEPTED_KEYS["bayes-e"][s])
            c.err(f"unknown key {s}.{k}{where}")


def _input_values(c: _Check) -> None:
    """input_parameters: types, layouts, range, mean/scale, shape (kept in ``c.values`` for later steps)."""
    mp, ip = c.sec["model_parameters"], c.sec["input_parameters"]
    if "model_parameters" in c.cfg and not mp.get("onnx_model") and not mp.get("caffe_model"):
        c.err("model_parameters.onnx_model is missing; give the float ONNX path")
    s = "input_parameters"
    rt = c.one_of(s, "input_type_rt", INPUT_TYPES_RT, True)
    train = c.one_of(s, "input_type_train", INPUT_TYPES_TRAIN, True)
    layout = c.one_of(s, "input_layout_train", LAYOUTS, True)
    norm = c.one_of(s, "norm_type", NORM_TYPES, True)
    layout_rt = c.one_of(s, "input_layout_rt", LAYOUTS, False)
    for m in ptq_rules.input_type_errors(rt, train, layout_rt, c.gen):
        c.err(m)
    space = ip.get("input_space_and_range")
    if space not in (None, "") and space not in nv12.RANGE_FROM_YAML:
        c.err(f"input_parameters.input_space_and_range {space!r} is not valid"
              f"{_suggest(space, nv12.RANGE_FROM_YAML)}; use 'regular' (NV12 0..255, the default) or "
              "'bt601_video' (NV12 16..235)")
    elif space not in (None, "") and rt is not None and rt != "nv12":
        c.note(f"input_space_and_range only applies when input_type_rt is nv12 (here {rt}); it is ignored")
    if rt == "nv12" and ip.get("input_layout_rt") not in (None, ""):
        c.note("input_layout_rt is not needed when input_type_rt is nv12 (vendor guide); it is ignored")
    vals: Dict[str, Optional[Tuple[float, ...]]] = {"mean_value": None, "scale_value": None}
    for k, needed in (("mean_value", ("data_mean_and_scale", "data_mean")),
                      ("scale_value", ("data_mean_and_scale", "data_scale"))):
        if ip.get(k) is None:
            if norm in needed:
                c.err(f"input_parameters.{k} is missing but norm_type is {norm}")
            continue
        try:
            vals[k] = parse_values(ip[k], k)
            if len(vals[k]) not in (1, 3):
                c.err(f"input_parameters.{k} has {len(vals[k])} values; give 1 or 3 (one per channel)")
                vals[k] = None
        except HelpersError as e:
            c.err(f"input_parameters.{e}")
    hw = None
    try:
        hw = parse_shape(ip.get("input_shape"), layout or "NCHW")
    except HelpersError as e:
        c.err(f"input_parameters.{e}")
    if hw and rt in ("nv12", "yuv444") and (hw[0] % 2 or hw[1] % 2):
        c.err(f"input_shape {ip.get('input_shape')} has an odd size; nv12/yuv444 inputs need even H and W")
    c.values.update(rt=rt, train=train, norm=norm, hw=hw, **vals)


def _compiler_and_calibration_values(c: _Check) -> None:
    g = c.gen or "bayes-e"
    kp = c.sec["compiler_parameters"]
    c.values["calib_type"] = c.one_of("calibration_parameters", "calibration_type", CALIBRATION_TYPES, False)
    c.values["cal_type"] = c.one_of("calibration_parameters", "cal_data_type", CAL_DATA_TYPES[g], False)
    c.one_of("compiler_parameters", "compile_mode", COMPILE_MODES[g], False)
    if nash.is_nash(c.gen) and kp.get("optimize_level") not in (None, ""):
        msg = nash.optimize_level_error(kp["optimize_level"], MARCH_BOARD_NAME[c.gen])
        if msg:
            c.err(msg)
    else:
        c.one_of("compiler_parameters", "optimize_level", OPTIMIZE_LEVELS, False)
    c.one_of("compiler_parameters", "core_num", CORE_NUMS[g], False)
    for s, k in (("compiler_parameters", "debug"), ("model_parameters", "layer_out_dump"),
                 ("calibration_parameters", "preprocess_on")):
        d = c.sec[s]
        if k in d and not isinstance(d[k], bool):
            c.err(f"{s}.{k} {d[k]!r} is not a boolean; use True or False")


def _registry_model(c: _Check) -> None:
    """The registry model the file names: its normalisation, input size, name and boards."""
    ip, mp, v = c.sec["input_parameters"], c.sec["model_parameters"], c.values
    cands = _key_candidates(c.path, c.cfg)
    c.keys = sorted(set(cands.values()))
    if len(c.keys) > 1:
        c.err("the file names different models: " + ", ".join(f"{w} -> {k}" for w, k in cands.items()))
        return
    if not c.keys:
        c.note("cannot tell which registry model this file is for (file name, onnx_model and "
               "output_model_file_prefix name none); mean/scale not checked")
        return
    key = c.keys[0]
    spec = registry.get(key)
    if v["norm"] not in (None, "data_mean_and_scale"):
        c.err(f"norm_type {v['norm']} drops part of {key}'s normalisation; use data_mean_and_scale")
    c.findings.extend(_check_norm(key, v["mean_value"], v["scale_value"], v["train"] or "rgb"))
    if v["hw"] and v["hw"] != spec.input_size:
        c.err(f"input_shape {ip.get('input_shape')} does not match {key}'s deployed size "
              f"{spec.input_size[1]}x{spec.input_size[0]}")
    prefix = mp.get("output_model_file_prefix")
    if prefix and prefix != spec.bin_stem:
        c.note(f"output_model_file_prefix {prefix!r} differs from {spec.bin_stem!r}, the name the "
               "notebooks look for")
    if c.board and c.board not in spec.boards:
        c.err(f"{key} is not deployed on {registry.BOARDS[c.board].name}")


def _resolve(c: _Check, value) -> Path:
    """A path the yaml names: relative paths are relative to the yaml's folder, where the toolchain runs."""
    p = Path(str(value))
    return (p if p.is_absolute() else c.path.resolve().parent / p).resolve()


def _onnx_file(c: _Check) -> None:
    onnx_model = c.sec["model_parameters"].get("onnx_model")
    if not (isinstance(onnx_model, str) and onnx_model):
        return
    p = _resolve(c, onnx_model)
    if not p.is_file():
        hint = "python -m helpers export KEY --out FILE"
        if len(c.keys) == 1:
            hint = f"python -m helpers export {c.keys[0]}" + (
                "" if p == registry.get(c.keys[0]).float_onnx_path.resolve() else f" --out {rel_to_repo(p)}")
        c.warn(f"onnx_model {onnx_model} not found (looked for {rel_to_repo(p)}); create it: {hint}")


def _calibration_data(c: _Check) -> None:
    """cal_data_dir: present, not empty, every sample of the size the input shape and data type give."""
    cp, v = c.sec["calibration_parameters"], c.values
    cal_dir = cp.get("cal_data_dir")
    if v["calib_type"] == "skip" or "calibration_parameters" not in c.cfg:
        return
    if not cal_dir:
        c.err("calibration_parameters.cal_data_dir is missing (needed unless calibration_type is skip)")
    else:
        p = _resolve(c, cal_dir)
        hint = "python -m helpers calib KEY --images DIR --out DIR"
        if len(c.keys) == 1:
            hint = f"python -m helpers calib {c.keys[0]} --images DIR" + (
                "" if p == registry.get(c.keys[0]).calib_dir.resolve() else f" --out {rel_to_repo(p)}")
        if not p.is_dir():
            c.warn(f"cal_data_dir {cal_dir} not found (looked for {rel_to_repo(p)}); create it: {hint}")
        else:
            files = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
            hw = v["hw"]
            if not files:
                c.warn(f"cal_data_dir {cal_dir} is empty; create the samples: {hint}")
            elif hw:
                dtype = v["cal_type"] or ("float32" if str(cal_dir).rstrip("/").endswith("_f32") else "uint8")
                size = 3 * hw[0] * hw[1] * {"float32": 4, "int32": 4, "int16": 2}.get(dtype, 1)
                bad = [f.name for f in files if f.stat().st_size != size]
                if bad:
                    c.err(f"{len(bad)} of {len(files)} files in cal_data_dir are not {size} bytes "
                          f"(1x3x{hw[0]}x{hw[1]} {dtype}), e.g. {bad[0]}; regenerate them: {hint}")
    if cal_dir and not v["cal_type"] and not str(cal_dir).rstrip("/").endswith("_f32"):
        c.note("cal_data_type is not set and cal_data_dir does not end in _f32, so the mapper reads "
               "the samples as uint8; set cal_data_type: 'float32' for our calibration data")


def _node_precision(c: _Check) -> None:
    """Per-node precision (node_info / run_on_cpu, and the nash keys): syntax, march, names in the ONNX."""
    from helpers.pc import node_info

    onnx_model = c.sec["model_parameters"].get("onnx_model")
    onnx_file = ((c.path.resolve().parent / onnx_model) if not Path(onnx_model).is_absolute()
                 else Path(onnx_model)) if isinstance(onnx_model, str) and onnx_model else None
    found = node_info.check(c.cfg, c.gen, onnx_file) + (nash.check(c.cfg, c.gen) if nash.is_nash(c.gen) else [])
    for level, msg in found:
        (c.err if level == "error" else c.note)(msg)

"""``python -m helpers doctor``: what the board runtime really reports, in a form to paste into an issue.

On an RDK board it prints the runtime modules found (``hbm_runtime``, ``hobot_dnn``, ``bpu_infer_lib``: their
distributions and versions, and ``HB_HBMRuntime.version()``; an ``hbm_runtime`` that is installed but cannot
start says why), the board and its BPU, then for every ``.bin`` / ``.hbm`` under ``model/``: the input and output properties as the runtime reports them
(type, shape, layout, alignment, dequantisation), one inference on a mid-grey NV12 frame, the median
latency of a few more, and a verdict. On a PC it says what it would check and which files it found.
The output is how the real runtime reaches our tests (tests/fake_board is written from it and from the
vendor's sources): the README asks board users to paste it into an issue. Board-safe.
"""
from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

from helpers.board import files, registry
from helpers.board.hbm import start_problem
from helpers.board.runtime import (BOARD_BACKENDS, MODULES, board_key_here, module_available, open_model,
                                   runtime_version)
from helpers.errors import HelpersError

RUNS = 10


def _device() -> Optional[str]:
    from helpers.board.identity import device_model

    return device_model()


def runtimes() -> List[str]:
    """Lines: every board runtime module importable here, with its distribution, version and board."""
    out = []
    for backend in BOARD_BACKENDS:
        for module in MODULES[backend]:
            if module_available(module):
                dist, board = runtime_version(module)
                out.append(f"{module} ({dist}{', built for ' + registry.BOARDS[board].name if board else ''})")
            elif backend == "hbm_runtime" and start_problem(module):
                out.append(f"{module} (installed but not usable: {start_problem(module)})")
    return out


def usable(found: List[str]) -> bool:
    return any("not usable" not in line for line in found)


def bins(root: Optional[Path] = None) -> List[Path]:
    """The board model files (.bin for RDK X3/X5, .hbm for RDK S) under ``root``."""
    root = Path(root or files.MODEL_DIR)
    suffixes = {b.suffix for b in registry.BOARDS.values()}  # .bin (X3/X5) and .hbm (S100/S100P/S600)
    return sorted(p for p in root.rglob("*") if p.suffix in suffixes and p.is_file()) if root.is_dir() else []


def _published(path: Path) -> str:
    board = registry.board_of_path(path)
    for key, p in registry.published_files():
        if p.bin_name == path.name and board in (None, p.board):
            return f"published {key} for {registry.BOARDS[p.board].name}"
    for key, spec in registry.MODELS.items():
        if path.stem == spec.bin_stem and path.suffix in (".bin", ".hbm"):
            return f"built from {key}"
    return "not a registry file name"


def check_bin(path: Path, runs: int = RUNS) -> List[str]:
    """The report lines for one .bin: properties, one inference, latency, verdict."""
    lines = [f"{files.rel_to_repo(path)}  ({path.stat().st_size:,} bytes; {_published(path)})"]
    try:
        rt = open_model(path)
        module = getattr(rt, "module", rt.name)
        lines += [f"  runtime : {rt.name} ({module}, {runtime_version(module)[0]})"]
        lines += [f"  note    : {n}" for n in rt.notes]
        lines += [f"  input   : {t}" for t in rt.inputs] + [f"  output  : {t}" for t in rt.outputs]
        info = rt.input
        if info.dtype != "nv12":
            raise HelpersError(f"input is {info.dtype}, not NV12: these notebooks feed NV12")
        h, w = info.hw
        feed = np.full(h * w * 3 // 2, 128, np.uint8)
        outs = rt.run(feed)
        out = np.asarray(outs[0], np.float32).reshape(-1)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            rt.run(feed)
            times.append((time.perf_counter() - t0) * 1e3)
        finite = bool(np.all(np.isfinite(out)))
        lines.append(f"  run     : {len(outs)} output(s); first {out.size} values, min {out.min():.4g}, "
                     f"max {out.max():.4g}, argmax {int(out.argmax())} (mid-grey frame)")
        lines.append(f"  latency : median {float(np.median(times)):.2f} ms over {runs} runs (this call, 1 thread)")
        lines.append("  verdict : OK" if finite else "  verdict : FAILED: the outputs are not finite")
    except HelpersError as e:
        lines.append(f"  verdict : FAILED: {e}")
    return lines


def report(root: Optional[Path] = None, runs: int = RUNS) -> str:
    dev = _device()
    here = board_key_here()
    found = runtimes()
    lines = ["python -m helpers doctor  (paste this whole output into an issue)",
             f"machine : {platform.system()} {platform.machine()}, Python {platform.python_version()}",
             f"device  : {dev or 'no device-tree model or boardinfo SoC name (not an RDK board?)'}"]
    if here:
        b = registry.BOARDS[here]
        lines.append(f"board   : {b.name}: BPU {b.bpu}, march {b.march}, runs {b.suffix} files "
                     f"({b.nv12_inputs} NV12 input) built by {b.compiler}")
    lines.append(f"runtime : {'; '.join(found) if found else 'none'}")
    paths = bins(root)
    where = files.rel_to_repo(Path(root or files.MODEL_DIR))
    if not usable(found):
        lines += ["",
                  "No board runtime (hbm_runtime, hobot_dnn.pyeasy_dnn, hobot_dnn_rdkx5.pyeasy_dnn or bpu_infer_lib)",
                  "is importable: this is a PC, or the runtime is not installed.",
                  f"On an RDK board this command loads every .bin (RDK X3/X5) and .hbm (RDK S) under {where}/,",
                  "prints its input and output properties as the runtime reports them (type, shape, layout,",
                  "alignment, scales), runs one inference, times a few more and gives a verdict per file.",
                  f".bin/.hbm files found under {where}/: {len(paths)}"]
        lines += [f"  {files.rel_to_repo(p)}  ({_published(p)})" for p in paths]
        return "\n".join(lines)
    lines.append(f".bin/.hbm files under {where}/: {len(paths)}"
                 + ("" if paths else " (python -m helpers download, or copy your own build there)"))
    for p in paths:
        lines += [""] + check_bin(p, runs)
    return "\n".join(lines)


def cmd_doctor(args) -> int:
    text = report(args.model_dir, runs=args.runs)
    print(text)
    return 1 if "verdict : FAILED" in text else 0


def register(sub) -> None:
    p = sub.add_parser("doctor", help="on a board: the runtime, the BPU and every .bin under model/ as the "
                                      "runtime reports them (paste the output into an issue)")
    p.add_argument("--model-dir", help="look for .bin files here (default: model/)")
    p.add_argument("--runs", type=int, default=RUNS, help=f"timed runs per file (default {RUNS})")
    p.set_defaults(func=cmd_doctor)

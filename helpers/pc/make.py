"""Make the model files a notebook needs when they are missing (PC only): the float ONNX, then the NV12 board model.

Nothing is rebuilt silently: an existing file is used as it is, with a note when it was made from
other weights or is older than its sources, and the command that would rebuild it. Board-safe to
import (torch, timm and onnx are imported only when a file has to be made), so the notebooks can
call it on either machine.
"""
from __future__ import annotations

import importlib.util
import time
import warnings
from pathlib import Path
from typing import Callable, List, Optional

from helpers.board import registry
from helpers.board.files import rel_to_repo
from helpers.board.meta import META_WEIGHTS
from helpers.board.runtime import module_available
from helpers.errors import HelpersError, RandomWeightsWarning


class Steps(list):
    """The list of what was made; ``on_step(text)`` is called as each step finishes (a progress bar)."""

    def __init__(self, on_step: Optional[Callable[[str], None]] = None):
        super().__init__()
        self.on_step = on_step

    def append(self, text: str) -> None:
        super().append(text)
        if self.on_step is not None:
            self.on_step(text)


def missing_steps(key: str, board: str, kind: str = "board-onnx") -> List[str]:
    """What :func:`ensure_board_onnx` (``kind`` board-onnx) or :func:`ensure_float_onnx` would make, in order."""
    spec = registry.get(key)
    steps = []
    need_board = kind == "board-onnx" and not spec.board_onnx_for(board).exists()
    if (need_board or kind == "float-onnx") and not spec.float_onnx_path.exists():
        steps.append(f"export {rel_to_repo(spec.float_onnx_path)} (timm -> ONNX, simplify, parity check)")
    if need_board:
        steps.append(f"build {rel_to_repo(spec.board_onnx_for(board))} from {rel_to_repo(spec.yaml_path(board))}")
    return steps


def can_make_models() -> bool:
    """True where the PC toolchain (torch, timm, onnx) is installed, i.e. missing ONNX files can be made."""
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "timm", "onnx"))


def _weights_of(path: Path) -> Optional[str]:
    """``rdk.weights`` of an ONNX file (None when unreadable or absent)."""
    if not module_available("onnxruntime"):
        return None
    import onnxruntime as ort

    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        s = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception:
        return None
    return s.get_modelmeta().custom_metadata_map.get(META_WEIGHTS)


def _make_hint(key: str, board: str) -> str:
    return (f"on a PC run `python -m helpers export {key}` then `python -m helpers board-model "
            f"model/{registry.get(key).arch}/{key}.onnx yaml/{registry.get(key).arch}/{key}_{board}.yaml`")


def ensure_float_onnx(key: str, weights: str, made: List[str], notes: List[str]) -> Path:
    """The float ONNX of ``key``; exported (PC only) when missing."""
    path = registry.get(key).float_onnx_path
    if path.exists():
        _note_weights(path, weights, notes, key)
        return path
    if not can_make_models():
        raise HelpersError(f"{rel_to_repo(path)} is missing and this machine cannot export it (no torch/timm/onnx); "
                           + _make_hint(key, "x5"))
    from helpers.pc.export import export_onnx

    t0 = time.perf_counter()
    with warnings.catch_warnings():  # the notebook shows its own random-weights box, once
        warnings.simplefilter("ignore", RandomWeightsWarning)
        result = export_onnx(key, weights=weights, out=path)
    made.append(f"exported {key} with {weights} weights -> {rel_to_repo(result.path)} "
                f"({time.perf_counter() - t0:.1f} s, helpers.pc.export.export_onnx)")
    return Path(result.path)


def ensure_board_onnx(key: str, board: str, weights: str, made: List[str], notes: List[str]) -> Path:
    """The NV12 board-model ONNX of ``key`` (yaml of ``board``); built (PC only) when missing."""
    path = registry.get(key).board_onnx_for(board)
    if path.exists():
        _note_weights(path, weights, notes, key)
        reason = stale_reason(key, board)
        if reason:
            notes.append(reason)
        return path
    if not can_make_models():
        raise HelpersError(f"{rel_to_repo(path)} is missing and this machine cannot build it (no torch/timm/onnx); "
                           + _make_hint(key, board))
    from helpers.pc.board_model import build_board_model

    src = ensure_float_onnx(key, weights, made, notes)
    yml = registry.get(key).yaml_path(board)
    t0 = time.perf_counter()
    out = build_board_model(src, yml, out=path)
    made.append(f"built the NV12 board model from {rel_to_repo(src)} + {rel_to_repo(yml)} -> {rel_to_repo(out)} "
                f"({time.perf_counter() - t0:.1f} s, helpers.pc.board_model.build_board_model)")
    return Path(out)


def stale_reason(key: str, board: str) -> Optional[str]:
    """Why the board model may not match its sources (float ONNX or yaml changed after it was built), or None.

    We do not rebuild it silently (it may be a file you made on purpose); we say so and how to rebuild.
    """

    path = registry.get(key).board_onnx_for(board)
    if not path.exists():
        return None
    built = path.stat().st_mtime
    newer = [p for p in (registry.get(key).float_onnx_path, registry.get(key).yaml_path(board)) if p.exists() and p.stat().st_mtime > built]
    if not newer:
        return None
    return (f"{rel_to_repo(path)} is older than {' and '.join(rel_to_repo(p) for p in newer)}, so it may not match "
            f"them; rebuild it: python -m helpers board-model {rel_to_repo(registry.get(key).float_onnx_path)} "
            f"{rel_to_repo(registry.get(key).yaml_path(board))} --overwrite")


def _note_weights(path: Path, wanted: str, notes: List[str], key: str) -> None:
    have = _weights_of(path)
    if have is not None and have != wanted:
        notes.append(f"{rel_to_repo(path)} already exists with {have} weights (you asked for {wanted}); using it. "
                     f"To replace it: python -m helpers export {key} --weights {wanted} --overwrite, then rebuild "
                     "the board model with --overwrite")

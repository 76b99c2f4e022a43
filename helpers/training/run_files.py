"""The files of a training run and how they are read back (PC only; torch/safetensors imported inside functions).

A run folder holds ``last.safetensors`` (the unfused weights after the latest epoch, metadata: key,
classes, image size, epoch), ``last_state.pt`` (optimizer, EMA, RNG, history: plain tensors and
numbers, loadable with ``torch.load(weights_only=True)``), at the end ``model.safetensors`` (the
final weights, re-parameterised for MobileOne) and ``train.json`` (the history).
:mod:`helpers.training.train` writes them (its atomic writers); ``eval``, ``export`` and the demo read them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from helpers.board import registry
from helpers.board.files import rel_to_repo
from helpers.board.meta import META_CLASSES, META_CONV_BRANCHES, META_EPOCH, META_EPOCHS, META_IMG_SIZE, META_INIT_WEIGHTS, META_KEY, META_REPARAMETERIZED
from helpers.errors import HelpersError, brief, first_line
from helpers.pc.models import create_model

LAST = "last.safetensors"
STATE = "last_state.pt"
FINAL = "model.safetensors"
HISTORY = "train.json"

META_VAL_TOP1 = "rdk.val_top1"


@dataclass
class CheckpointInfo:
    path: Path
    key: str
    classes: List[str]
    img_size: int
    epoch: int
    epochs: int
    reparameterized: bool
    val_top1: Optional[float]
    init_weights: str
    conv_branches: Optional[int] = None


def read_checkpoint_info(path) -> CheckpointInfo:
    """The metadata ``train`` writes into its safetensors files; a clear error for other files."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise HelpersError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for bad headers
        raise HelpersError(f"{path.name} is not a readable safetensors file ({first_line(e, 120)})") from None
    if META_KEY not in meta:
        raise HelpersError(f"{path.name} carries no {META_KEY} metadata: not a checkpoint written by "
                           "`python -m helpers train` (export other checkpoints with: python -m helpers export KEY --weights PATH)")
    return CheckpointInfo(path, meta[META_KEY], json.loads(meta.get(META_CLASSES, "[]")), int(meta.get(META_IMG_SIZE, 0)),
                          int(meta.get(META_EPOCH, 0)), int(meta.get(META_EPOCHS, 0)), meta.get(META_REPARAMETERIZED) == "true",
                          float(meta[META_VAL_TOP1]) if meta.get(META_VAL_TOP1) else None, meta.get(META_INIT_WEIGHTS, ""),
                          int(meta[META_CONV_BRANCHES]) if meta.get(META_CONV_BRANCHES) else None)


def load_trained_model(path, expect_key: Optional[str] = None):
    """(model in eval mode, CheckpointInfo) from a ``train`` checkpoint (fused or not)."""
    info = read_checkpoint_info(path)
    if expect_key is not None and info.key != expect_key:
        raise HelpersError(f"{Path(path).name} is a checkpoint of {info.key}, not {expect_key}; "
                           f"use KEY {info.key} or another checkpoint")
    spec = registry.get(info.key)
    model = create_model(spec.key, str(path), num_classes=len(info.classes) or None)
    return model.eval(), info


def load_state(path: Path) -> Dict:
    """The optimizer/RNG state ``train`` saved; anything else (e.g. an arbitrary pickle) is refused, never run."""
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols before refusing them
            warnings.simplefilter("ignore")
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # weights_only refuses pickled objects (UnpicklingError); others: not a torch file
        raise HelpersError(f"{rel_to_repo(path)} is not a training state written by `python -m helpers train` "
                           f"(torch.load(weights_only=True) refused it: {brief(first_line(e, 80), 90)}); it was not "
                           "loaded - start again with --overwrite") from None
    if not isinstance(state, dict) or not isinstance(state.get("optimizer"), dict):
        raise HelpersError(f"{rel_to_repo(path)} holds no optimizer state; it is not a {STATE} written by "
                           "`python -m helpers train` - start again with --overwrite")
    return state

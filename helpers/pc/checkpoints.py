"""Read a checkpoint file safely and name its layout; map MobileOne layouts onto timm's names.

The layouts are recognised by their key names (never by key order, so a re-saved dict or a
``.safetensors`` file, whose keys load sorted, reads the same):

========================  =================================================  ==============================
layout                    a block of it (stage 2, block 0)                   source
========================  =================================================  ==============================
timm                      ``stages.1.0.conv_kxk.0.conv`` / ``reparam_conv``  timm ``models/byobnet.py``
Apple, unfused            ``stage2.0.rbr_conv.0.conv``, ``rbr_scale``,       apple/ml-mobileone
                          ``rbr_skip``, ``se.reduce``/``se.expand``,         ``mobileone.py``
                          head ``linear``
Apple, re-parameterised   ``stage2.0.reparam_conv``                          same (``reparameterize_model``)
mmpretrain, training      ``backbone.stage2.0.branch_conv_list.0.{conv,norm}``,  open-mmlab/mmpretrain
                          ``branch_scale``, ``branch_norm``,                 ``mmpretrain/models/backbones/
                          ``se.conv1.conv``/``se.conv2.conv``, ``head.fc``    mobileone.py``, ``utils/se_layer.py``
mmpretrain, deploy        ``backbone.stage2.0.branch_reparam``               ``tools/model_converters/
                                                                             reparameterize_model.py``
========================  =================================================  ==============================

Apple and mmpretrain number the stem ``stage0`` and the stages ``stage1..4``; timm has ``stem`` and
``stages.0..3``. The tensors are wrapped as the projects save them: a bare state dict (Apple), or a
dict with ``state_dict`` (mmengine; with its ``EMAHook`` this holds the EMA weights), ``model`` or
``ema_state_dict`` (mmengine's averaged model: ``module.`` prefix and a ``steps`` counter); a DDP
``module.`` prefix is removed.

mmengine's full training state (``meta``, ``message_hub``, ``optimizer``, ``param_schedulers``) pickles
a few objects besides tensors (``HistoryBuffer`` and the numpy arrays inside it). ``torch.load`` with
``weights_only=True`` refuses them; we allow exactly those names and map every one of them to an inert
stand-in (:class:`_Discarded`) that ignores its arguments and state, so no code of the file's classes
runs and their content is dropped. Any other object is refused with a one-line extract command.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from helpers.errors import HelpersError, first_line

CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".pth.tar", ".bin")

#: wrappers around the state dict, in the order they are looked for
WRAPPERS = ("state_dict", "model", "ema_state_dict")

#: pickled globals of an mmengine checkpoint that we read as inert stand-ins (their content is dropped):
#: mmengine/logging/history_buffer.py (message_hub.log_scalars) and numpy's array/scalar pickles
#: (numpy 1 ``numpy.core``, numpy 2 ``numpy._core``).
DISCARDED_GLOBALS = (
    "mmengine.logging.history_buffer.HistoryBuffer",
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "numpy.ndarray", "numpy.dtype",
)

TIMM = "timm"
APPLE = "Apple ml-mobileone"
MMPRETRAIN = "mmpretrain"


@dataclass(frozen=True)
class Layout:
    project: str              # TIMM, APPLE or MMPRETRAIN
    fused: bool               # re-parameterised (one convolution per block)
    mobileone: bool = True    # False: a plain timm state dict of any model

    def __str__(self) -> str:
        if not self.mobileone:
            return "timm"
        form = {APPLE: ("unfused", "re-parameterised"), MMPRETRAIN: ("training", "deploy"),
                TIMM: ("unfused", "re-parameterised")}[self.project]
        return f"{self.project} MobileOne, {form[self.fused]}"


@dataclass
class Checkpoint:
    """A checkpoint read from disk: ``state`` in timm's names, and where it came from."""

    path: Path
    layout: Layout
    state: Dict[str, "object"]
    wrapper: Optional[str] = None          # the dict key the weights were under
    prefix_removed: bool = False           # a DDP ``module.`` prefix was stripped
    discarded: List[str] = field(default_factory=list)  # pickled objects read as inert stand-ins

    def describe(self) -> str:
        """One line: file, layout, wrapper."""
        where = f"'{self.wrapper}'" if self.wrapper else "a bare state dict"
        if self.wrapper == "state_dict" and self.discarded:
            where += " (mmengine: the EMA weights when trained with EMAHook)"
        extra = ", 'module.' prefix removed" if self.prefix_removed else ""
        if self.discarded:
            extra += f", training state skipped ({len(self.discarded)} kinds of pickled objects not run)"
        return f"{self.path.name}: {self.layout} layout, {len(self.state)} tensors from {where}{extra}"


class _Discarded:
    """Stand-in for an allowed pickled global: accepts any arguments and state, keeps nothing."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


def _extract_hint(path: Path) -> str:
    return (f"if you trust the file, extract its weights once with: python -c \"import torch; c = torch.load("
            f"'{path.name}', weights_only=False); torch.save(c.get('state_dict', c), 'weights.pth')\" "
            "and pass weights.pth")


def _torch_load(path: Path) -> Tuple[object, List[str]]:
    """``torch.load(weights_only=True)``; mmengine's training state with inert stand-ins (see module doc)."""
    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True), []
    except Exception as e:  # pickle/zip/EOF errors from a corrupt file, or a refused global
        if "Unsupported global" not in str(e):
            inner = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", str(e))  # the cause, not the advice
            text = inner.group(1).strip()[:160] if inner else first_line(e)
            raise HelpersError(f"checkpoint {path.name} is corrupt or not a PyTorch checkpoint ({text}); "
                               "re-save or re-download it") from None
    try:
        needed = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # an old (non-zip) torch.save format cannot be listed
        needed = ["(unlisted)"]
    others = [g for g in needed if g not in DISCARDED_GLOBALS]
    if others:
        raise HelpersError(f"checkpoint {path.name} holds Python objects ({', '.join(others[:3])}) that "
                           f"weights_only=True does not unpickle; {_extract_hint(path)}") from None
    with torch.serialization.safe_globals([(_Discarded, g) for g in needed]):
        try:
            return torch.load(str(path), map_location="cpu", weights_only=True), list(needed)
        except Exception as e:
            raise HelpersError(f"checkpoint {path.name} could not be read with weights_only=True "
                               f"({first_line(e, 120)}); {_extract_hint(path)}") from None


def read_file(path: Union[str, Path]) -> Tuple[object, List[str]]:
    """The raw object of a checkpoint file (safetensors or ``torch.load(weights_only=True)``)."""
    path = Path(path)
    if not path.exists():
        raise HelpersError(f"checkpoint not found: {path}; give an existing file, 'imagenet' or 'random'")
    if path.is_dir():
        raise HelpersError(f"{path} is a directory; give the checkpoint file inside it")
    name = path.name.lower()
    if not name.endswith(CHECKPOINT_SUFFIXES):
        raise HelpersError(f"{path.name}: unknown checkpoint type; use a .safetensors file or a PyTorch "
                           f"checkpoint ({', '.join(s for s in CHECKPOINT_SUFFIXES if s != '.safetensors')})")
    if path.stat().st_size == 0:
        raise HelpersError(f"checkpoint {path} is empty (0 bytes); re-save or re-download it")
    if name.endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu"), []
        except Exception as e:  # safetensors raises its own SafetensorError
            raise HelpersError(f"checkpoint {path.name} is not a readable safetensors file "
                               f"({first_line(e)}); re-save or re-download it") from None
    return _torch_load(path)


def _unwrap(obj, path: Path) -> Tuple[Dict[str, "object"], Optional[str], bool]:
    """(flat tensor dict, wrapper key, prefix removed) of a loaded checkpoint object."""
    import torch

    wrapper = None
    if isinstance(obj, dict) and not all(torch.is_tensor(v) for v in obj.values()):
        wrapper = next((w for w in WRAPPERS if isinstance(obj.get(w), dict) and obj[w]), None)
        if wrapper is None:
            keys = ", ".join(map(str, list(obj)[:6]))
            raise HelpersError(f"checkpoint {path.name} holds no state dict of tensors (top-level keys: {keys}); "
                               f"save model.state_dict(), or a dict with one of {', '.join(WRAPPERS)}")
        obj = obj[wrapper]
    if not isinstance(obj, dict) or not obj or not all(torch.is_tensor(v) for v in obj.values()):
        raise HelpersError(f"checkpoint {path.name} holds no state dict of tensors (top level: "
                           f"{type(obj).__name__}); save model.state_dict()")
    state, removed = {}, False
    for k, v in obj.items():
        for prefix in ("_orig_mod.", "module.", "_orig_mod."):  # torch.compile / DDP / mmengine's EMA model
            if k.startswith(prefix):
                k, removed = k[len(prefix):], True
        state[k] = v
    if wrapper == "ema_state_dict":
        state.pop("steps", None)  # mmengine BaseAveragedModel's update counter
    return state, wrapper, removed


def load_checkpoint_state(path: Union[str, Path]) -> Dict[str, "object"]:
    """A checkpoint's tensors as a flat ``{name: tensor}`` dict, in the file's own names."""
    path = Path(path)
    return _unwrap(read_file(path)[0], path)[0]


# ------------------------------------------------------------------------------------------------
# layouts
# ------------------------------------------------------------------------------------------------
def detect_layout(state: Dict[str, "object"]) -> Layout:
    """The layout of a state dict, from its key names (see the module doc)."""
    keys = list(state)

    def has(pattern: str) -> bool:
        rx = re.compile(pattern)
        return any(rx.search(k) for k in keys)

    if has(r"^backbone\.stage0\."):
        return Layout(MMPRETRAIN, fused=not has(r"\.branch_conv_list\.") and has(r"\.branch_reparam\."))
    if has(r"^stage0\.(rbr_|reparam_conv\.)"):
        return Layout(APPLE, fused=not has(r"\.rbr_conv\.") and has(r"\.reparam_conv\."))
    if has(r"^stem\.(conv_kxk|reparam_conv)\."):
        return Layout(TIMM, fused=not has(r"\.conv_kxk\.") and has(r"\.reparam_conv\."))
    return Layout(TIMM, fused=False, mobileone=False)


# block-internal names, per project: (pattern, timm replacement)
_APPLE_NAMES = ((r"\.rbr_conv\.(\d+)\.", r".conv_kxk.\1."), (r"\.rbr_scale\.", ".conv_scale."),
                (r"\.rbr_skip\.", ".identity."), (r"\.se\.reduce\.", ".attn.fc1."), (r"\.se\.expand\.", ".attn.fc2."))
_MM_NAMES = ((r"\.branch_conv_list\.(\d+)\.conv\.", r".conv_kxk.\1.conv."),
             (r"\.branch_conv_list\.(\d+)\.norm\.", r".conv_kxk.\1.bn."),
             (r"\.branch_scale\.conv\.", ".conv_scale.conv."), (r"\.branch_scale\.norm\.", ".conv_scale.bn."),
             (r"\.branch_norm\.", ".identity."), (r"\.branch_reparam\.", ".reparam_conv."),
             (r"\.se\.conv1\.conv\.", ".attn.fc1."), (r"\.se\.conv2\.conv\.", ".attn.fc2."))
_STAGE = re.compile(r"^stage(\d+)\.")


def _timm_name(key: str, project: str) -> str:
    if project == MMPRETRAIN:
        if key.startswith("head.fc."):
            return key
        if not key.startswith("backbone."):
            return key  # unknown: reported by the exact load
        key, rules = key[len("backbone."):], _MM_NAMES
    else:
        if key.startswith("linear."):
            return "head.fc." + key[len("linear."):]
        rules = _APPLE_NAMES
    m = _STAGE.match(key)
    if m:
        s = int(m.group(1))
        key = ("stem." if s == 0 else f"stages.{s - 1}.") + key[m.end():]
    key = "." + key  # let the block patterns match at the start too
    for pattern, repl in rules:
        key = re.sub(pattern, repl, key)
    return key[1:]


def to_timm(state: Dict[str, "object"], layout: Layout) -> Dict[str, "object"]:
    """``state`` renamed to timm's MobileOne names (unchanged for the timm layout)."""
    if layout.project == TIMM:
        return dict(state)
    return {_timm_name(k, layout.project): v for k, v in state.items()}


def read_checkpoint(path: Union[str, Path]) -> Checkpoint:
    """Read ``path`` safely, find its layout by key names and rename its tensors to timm's."""
    path = Path(path)
    obj, discarded = read_file(path)
    state, wrapper, removed = _unwrap(obj, path)
    layout = detect_layout(state)
    return Checkpoint(path, layout, to_timm(state, layout), wrapper, removed, discarded)


# ------------------------------------------------------------------------------------------------
# which MobileOne is it?
# ------------------------------------------------------------------------------------------------
_WIDTH_KEY = re.compile(r"^(stem|stages\.(\d+)\.(\d+))\.(conv_kxk\.0\.conv|reparam_conv)\.weight$")


def mobileone_widths(state: Dict[str, "object"]) -> Optional[Tuple[int, ...]]:
    """(stem, stage 1..4) output channels of a MobileOne state dict in timm's names, or None."""
    stem, last = None, {}
    for k, v in state.items():
        m = _WIDTH_KEY.match(k)
        if not m or getattr(v, "ndim", 0) != 4:
            continue
        if m.group(1) == "stem":
            stem = int(v.shape[0])
        else:
            s, b = int(m.group(2)), int(m.group(3))
            if b >= last.get(s, (-1, 0))[0]:
                last[s] = (b, int(v.shape[0]))
    if stem is None or sorted(last) != [0, 1, 2, 3]:
        return None
    return (stem,) + tuple(last[s][1] for s in range(4))


def variant_widths(timm_name: str) -> Optional[Tuple[int, ...]]:
    """The same widths from timm's configuration of ``timm_name`` (no model is built)."""
    from timm.models import byobnet

    cfg = byobnet.model_cfgs.get(timm_name)
    if cfg is None or cfg.stem_type != "one":
        return None
    stages = [s if isinstance(s, (list, tuple)) else [s] for s in cfg.blocks]
    return (int(cfg.stem_chs),) + tuple(int(s[-1].c * cfg.width_factor) for s in stages)


def guess_mobileone(state: Dict[str, "object"]) -> Optional[str]:
    """The registry key of the MobileOne variant whose widths ``state`` has, if any."""
    from helpers.board import registry

    widths = mobileone_widths(state)
    if widths is None:
        return None
    for key in registry.keys():
        spec = registry.get(key)
        if spec.reparameterizable and variant_widths(spec.timm_name) == widths:
            return key
    return None

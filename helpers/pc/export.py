"""Export a registry model to the float ONNX the board toolchain takes (PC only).

create (timm: ImageNet weights, a local checkpoint, or seeded random weights) -> re-parameterise
(MobileOne) -> ``torch.onnx.export`` -> ``onnx.checker`` -> ``onnxsim`` -> metadata -> parity
(onnxruntime vs PyTorch) -> parameter counts -> atomic write to ``model/<Arch>/<key>.onnx``.

torch, timm, onnx, onnxsim and onnxruntime are imported inside the functions, so that
``python -m helpers --help`` stays light.
"""
from __future__ import annotations

import copy
import json
import re
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import urlparse

import numpy as np

from helpers.board import registry
from helpers.errors import HelpersError
from helpers.board.files import MODEL_DIR, atomic_output, check_writable_target, rel_to_repo
from helpers.board.runtime import META_KEY, META_LABELS, META_MEAN, META_STD, META_WEIGHTS

#: Default ONNX opset. The X3 toolchain (march bernoulli2) takes ONNX opset 10 or 11 only, with
#: ir_version <= 7 (D-Robotics rdk_doc, ptq_process.md, and the hb_mapper error "only model with
#: opset_version 10/11 is supported" in rdk_doc 08_FAQ/05_toolchain.md; see
#: /tmp/research/vendor_facts.md Q4). No source states a higher limit for the X5 (bayes-e); every
#: D-Robotics X5 example exports with opset 11. So 11 serves both boards.
DEFAULT_OPSET = 11
X3_OPSETS = (10, 11)
MIN_OPSET, MAX_OPSET = 10, 17
MAX_IR_VERSION_X3 = 7

INPUT_NAME = "data"
OUTPUT_NAME = "output"

# Metadata keys beyond the shared ones in helpers.board.runtime.
META_INPUT_SIZE = "rdk.input_size"      # JSON [H, W]
META_OPSET = "rdk.opset"
META_NUM_CLASSES = "rdk.num_classes"
META_TIMM_ID = "rdk.timm_id"

#: Parity tolerance: max |onnxruntime - torch| / max |torch| on the same input.
PARITY_RTOL = 1e-4
#: Re-parameterisation tolerance: fused vs unfused MobileOne, same measure, settled weights.
REPARAM_RTOL = 1e-4

#: BatchNorm settling for random weights: train-mode passes of random batches, cumulative average.
SETTLE_PASSES = 2
SETTLE_BATCH = 4

RANDOM = "random"
IMAGENET = "imagenet"
CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".pth.tar", ".bin")

RANDOM_BANNER = ("RANDOM WEIGHTS: this model was not trained. Its outputs are noise and any class "
                 "it predicts means nothing. Use weights='imagenet' (needs the Hugging Face hub once) "
                 "or a checkpoint file for real predictions.")


class RandomWeightsWarning(UserWarning):
    """Emitted whenever a model is built with random weights."""


class ParityError(HelpersError):
    """Two computations that must agree (onnxruntime vs torch, fused vs unfused) do not."""


# ------------------------------------------------------------------------------------------------
# small utilities
# ------------------------------------------------------------------------------------------------
def default_onnx_path(key: str) -> Path:
    """``model/<Arch>/<key>.onnx``: where the float ONNX of ``key`` goes."""
    spec = registry.get(key)
    return MODEL_DIR / spec.arch / f"{key}.onnx"


def weights_label(weights: Union[str, Path]) -> str:
    """What ``rdk.weights`` records: ``imagenet``, ``random`` or the checkpoint's file name."""
    w = str(weights)
    return w if w in (IMAGENET, RANDOM) else Path(w).name


def check_opset(opset: int) -> int:
    """Validate ``opset`` (10..17); above 11 warn that the X3 toolchain refuses it."""
    try:
        opset = int(opset)
    except (TypeError, ValueError):
        raise HelpersError(f"opset must be an integer, got {opset!r}; use {DEFAULT_OPSET} (the default)") from None
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise HelpersError(f"opset {opset} is not supported here; use {MIN_OPSET}..{MAX_OPSET} "
                           f"({'/'.join(map(str, X3_OPSETS))} for the RDK X3 toolchain; default {DEFAULT_OPSET})")
    if opset not in X3_OPSETS:
        warnings.warn(f"opset {opset}: the RDK X3 toolchain (bernoulli2) accepts only opset "
                      f"{' or '.join(map(str, X3_OPSETS))} and will refuse this file; the X5 limit is "
                      f"unpublished (its examples use {DEFAULT_OPSET})", UserWarning, stacklevel=3)
    return opset


def random_banner(weights: Union[str, Path], file=None) -> bool:
    """Print a loud banner when ``weights`` is random; returns True if it printed one."""
    if weights_label(weights) != RANDOM:
        return False
    line = "!" * 78
    print(f"{line}\n{RANDOM_BANNER}\n{line}", file=file, flush=True)
    return True


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]


# ------------------------------------------------------------------------------------------------
# creating the PyTorch model
# ------------------------------------------------------------------------------------------------
def create_model(key: str, weights: Union[str, Path] = IMAGENET, num_classes: Optional[int] = None,
                 seed: int = 0):
    """The timm model of ``key`` in eval mode.

    ``weights``: ``"imagenet"`` (timm's pretrained weights from the Hugging Face hub, or its local
    cache), ``"random"`` (seeded; BatchNorm statistics settled; predictions mean nothing) or the
    path of a checkpoint (``.safetensors``, or ``.pth``/``.pt``/``.pth.tar`` read with
    ``torch.load(weights_only=True)``). ``num_classes`` defaults to the checkpoint's head size
    (1000 for ImageNet).
    """
    spec = registry.get(key)
    w = str(weights)
    if w == IMAGENET:
        return _create_pretrained(spec, num_classes)
    if w == RANDOM:
        return _create_random(spec, num_classes, seed)
    if w.strip() == "" or (not Path(w).exists() and not _looks_like_path(w)):
        raise HelpersError(f"weights {w!r} is not understood: give 'imagenet', 'random' or the path of "
                           f"a checkpoint file ({', '.join(CHECKPOINT_SUFFIXES)})")
    return _create_from_checkpoint(spec, Path(w), num_classes)


def _looks_like_path(w: str) -> bool:
    return "/" in w or "\\" in w or w.lower().endswith(CHECKPOINT_SUFFIXES)


def _timm_create(name: str, **kwargs):
    import timm

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        return timm.create_model(name, **kwargs)


def _offline_message(spec: registry.ModelSpec, why: str) -> str:
    return (f"cannot get the ImageNet weights of {spec.key} ({spec.hf_hub_id}): {why}. "
            f"Offline, use one of: --weights PATH (a local .safetensors/.pth checkpoint, e.g. the hub's "
            f"model.safetensors copied here) or --weights random (untrained; predictions mean nothing)")


def _cached_hub_file(spec: registry.ModelSpec) -> Optional[str]:
    """The weights file of ``spec`` in the local Hugging Face cache, if it is there."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for name in ("model.safetensors", "pytorch_model.bin"):
        hit = try_to_load_from_cache(spec.hf_hub_id, name)
        if isinstance(hit, str) and Path(hit).is_file():
            return hit
    return None


def _hub_offline_reason() -> Optional[str]:
    """Why the hub cannot be reached (None when it probably can). Fast: no retries."""
    import os

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set and the weights are not in the local cache"
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None  # behind a proxy a direct probe says nothing; let the download try
    url = urlparse(constants.ENDPOINT)
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as e:
        return f"the hub ({host}) is unreachable: {_first_line(e)}"
    return None


def _create_pretrained(spec: registry.ModelSpec, num_classes: Optional[int]):
    kwargs = {} if num_classes is None else {"num_classes": int(num_classes)}
    cached = _cached_hub_file(spec)
    if cached:
        # Load the cached file directly: with the network down, the hub client would otherwise
        # spend about a minute retrying before it falls back to its cache.
        kwargs["pretrained_cfg_overlay"] = {"file": cached}
    else:
        reason = _hub_offline_reason()
        if reason:
            raise HelpersError(_offline_message(spec, reason))
    try:
        model = _timm_create(spec.timm_id, pretrained=True, **kwargs)
    except (OSError, RuntimeError, ValueError) as e:  # hub errors subclass OSError/ValueError
        raise HelpersError(_offline_message(spec, _first_line(e))) from None
    return model.eval()


def _create_random(spec: registry.ModelSpec, num_classes: Optional[int], seed: int):
    import torch

    msg = f"{spec.key}: {RANDOM_BANNER}"
    warnings.warn(msg, RandomWeightsWarning, stacklevel=3)
    random_banner(RANDOM)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = _timm_create(spec.timm_name, pretrained=False,
                             **({} if num_classes is None else {"num_classes": int(num_classes)}))
    settle_batchnorm(model, spec.input_size, spec.mean, spec.std, seed=seed)
    return model.eval()


def settle_batchnorm(model, input_size: Sequence[int], mean: Sequence[float], std: Sequence[float],
                     passes: int = SETTLE_PASSES, batch: int = SETTLE_BATCH, seed: int = 0):
    """Give random-init BatchNorm layers running statistics that match their inputs.

    Freshly initialised BatchNorm has mean 0 / var 1, and a random MobileOne (no residuals) then
    grows activations to ~1e8 in eval mode. A few train-mode passes over random normal batches with
    ``momentum=None`` (cumulative average) make eval-mode outputs well scaled, so comparisons
    (fused vs unfused, onnxruntime vs torch) are meaningful. The batches are random images
    normalised like real ones (``random_images``), the same kind of input the parity checks use:
    statistics settled on zero-mean noise do not fit normalised images (whose channel means are
    not 0), and a random MobileOne-S4 then amplifies float32 rounding by ~1e6.
    """
    import torch

    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return model.eval()
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    gen = torch.Generator().manual_seed(int(seed))
    model.train()
    with torch.no_grad():
        for _ in range(passes):
            model(random_images(batch, input_size, mean, std, gen))
    for m, mom in zip(bns, momenta):
        m.momentum = mom
    return model.eval()


# ---- checkpoints --------------------------------------------------------------------------------
def load_checkpoint_state(path: Union[str, Path]) -> Dict[str, "object"]:
    """Read a checkpoint safely into a flat ``{name: tensor}`` dict (nested 'state_dict'/'model')."""
    import torch

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
            state = load_file(str(path), device="cpu")
        except Exception as e:  # safetensors raises its own SafetensorError
            raise HelpersError(f"checkpoint {path.name} is not a readable safetensors file "
                               f"({_first_line(e)}); re-save or re-download it") from None
    else:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as e:  # pickle/zip/EOF errors from a corrupt file
            inner = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", str(e))  # the cause, not the advice
            text = inner.group(1).strip()[:160] if inner else _first_line(e)
            if "Unsupported global" in str(e):  # a real pickle with objects beyond tensors
                raise HelpersError(f"checkpoint {path.name} holds Python objects that weights_only=True "
                                   "refuses to unpickle; re-save just the weights: "
                                   "torch.save(model.state_dict(), 'file.pth')") from None
            raise HelpersError(f"checkpoint {path.name} is corrupt or not a PyTorch checkpoint ({text}); "
                               "re-save or re-download it") from None
    for nested in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(nested), dict):
            state = state[nested]
            break
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise HelpersError(f"checkpoint {path.name} holds no state dict of tensors (top level: "
                           f"{type(state).__name__}); save model.state_dict()")
    from timm.models import clean_state_dict  # strips DDP 'module.' / torch.compile prefixes

    return clean_state_dict(state)


_APPLE_KEY = re.compile(r"(^|\.)(rbr_conv|rbr_skip|rbr_scale)\.")


def is_apple_mobileone_layout(state: Dict[str, "object"]) -> bool:
    """True for a checkpoint in apple/ml-mobileone's unfused layout (``stage0.rbr_conv...``)."""
    return any(_APPLE_KEY.search(k) for k in state)


def _apple_to_timm(state: Dict[str, "object"], model, path: Path) -> Dict[str, "object"]:
    """Map Apple's unfused MobileOne checkpoint onto timm's model with timm's own tool.

    timm's byobnet ``checkpoint_filter_fn`` only converts OpenAI-CLIP checkpoints; it does not know
    Apple's names. But timm's ``remap_state_dict`` maps by registration order, and Apple's
    MobileOneBlock registers its tensors in timm's order (skip BN, conv branches, scale branch;
    stem ``stage0``, stages, ``linear`` head) with one exception: Apple registers a block's SE
    module first, timm (``attn``) last. We move each block's SE entries behind the block's other
    entries (a stable reorder, names untouched), then remap with shapes checked exactly.
    """
    from timm.models import remap_state_dict

    def block(k: str) -> str:
        return k.split(".se.")[0] if ".se." in k else re.sub(r"\.(rbr_conv|rbr_skip|rbr_scale)\..*$", "", k)

    first: Dict[str, int] = {}
    for i, k in enumerate(state):
        first.setdefault(block(k), i)
    order = sorted(enumerate(state), key=lambda ik: (first[block(ik[1])], ".se." in ik[1], ik[0]))
    ordered = {k: state[k] for _, k in order}
    target = model.state_dict()
    if len(ordered) != len(target):
        raise HelpersError(f"{path.name} is in Apple's MobileOne layout but has {len(ordered)} tensors where "
                           f"timm's {model.default_cfg.get('architecture', 'model')} has {len(target)}: "
                           "it is a checkpoint of another MobileOne variant (or a fused one); use the matching key")
    try:
        return remap_state_dict(ordered, model, allow_reshape=False)
    except AssertionError as e:
        raise HelpersError(f"{path.name} is in Apple's MobileOne layout but does not fit this variant "
                           f"({_first_line(e)}); use the registry key of the variant it was trained as") from None


def _classifier_key(model) -> Optional[str]:
    name = getattr(model, "pretrained_cfg", {}).get("classifier")
    return f"{name}.weight" if name else None


def _create_from_checkpoint(spec: registry.ModelSpec, path: Path, num_classes: Optional[int]):
    state = load_checkpoint_state(path)
    apple = spec.reparameterizable and is_apple_mobileone_layout(state)
    probe = _timm_create(spec.timm_name, pretrained=False)
    head_key = "linear.weight" if apple else _classifier_key(probe)
    ckpt_classes = int(state[head_key].shape[0]) if head_key in state and state[head_key].ndim >= 1 else None
    if num_classes is None:
        num_classes = ckpt_classes or spec.num_classes
    elif ckpt_classes is not None and ckpt_classes != int(num_classes):
        raise HelpersError(f"{path.name} has a {ckpt_classes}-class head but num_classes={num_classes} was "
                           "asked; drop num_classes (it is read from the checkpoint) or use another checkpoint")
    model = probe if int(num_classes) == probe.num_classes else \
        _timm_create(spec.timm_name, pretrained=False, num_classes=int(num_classes))
    if apple:
        state = _apple_to_timm(state, model, path)
    elif spec.reparameterizable and any(".reparam_conv." in k for k in state):
        model = reparameterize(model)  # a checkpoint saved after fusing
    elif spec.reparameterizable:  # unfused: trained with as many k x k branches as it carries
        k = checkpoint_conv_branches(state)
        if k and k != checkpoint_conv_branches(model.state_dict()):
            from helpers.training.train import create_unfused

            model = create_unfused(spec.key, int(num_classes), conv_branches=k)
    _load_exact(model, state, spec, path)
    return model.eval()


_KXK_RE = re.compile(r"\.conv_kxk\.(\d+)\.")


def checkpoint_conv_branches(state) -> Optional[int]:
    """The number of k x k branches per MobileOne block in an unfused state dict (None if none)."""
    idx = [int(m.group(1)) for m in map(_KXK_RE.search, state) if m]
    return max(idx) + 1 if idx else None


def _load_exact(model, state, spec: registry.ModelSpec, path: Path) -> None:
    target = model.state_dict()
    missing = [k for k in target if k not in state]
    unexpected = [k for k in state if k not in target]
    wrong = [k for k in target if k in state and tuple(state[k].shape) != tuple(target[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} of the model's {len(target)} tensors missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unknown tensors (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} of other shape (e.g. {k}: {list(state[k].shape)} vs {list(target[k].shape)})")
        raise HelpersError(f"{path.name} is not a {spec.key} checkpoint: {'; '.join(parts)}. "
                           "Is it a checkpoint of another model? Use its registry key (python -m helpers list)")
    model.load_state_dict(state, strict=True)


# ------------------------------------------------------------------------------------------------
# re-parameterisation, parity, counting
# ------------------------------------------------------------------------------------------------
def multi_branch_modules(model) -> List[str]:
    """Names of modules that still carry train-time branches (MobileOne/RepVGG style)."""
    left = []
    for name, m in model.named_modules():
        if hasattr(m, "reparameterize") or hasattr(m, "switch_to_deploy"):
            branches = [a for a in ("conv_kxk", "conv_scale", "identity", "rbr_conv", "rbr_scale", "rbr_skip")
                        if getattr(m, a, None) is not None]
            if branches or getattr(m, "reparam_conv", 1) is None:
                left.append(name)
    return left


#: a BatchNorm channel whose running variance is at most this saw a constant input while training
DEAD_VAR = 1e-12


def zero_dead_batchnorm(model, threshold: float = DEAD_VAR) -> int:
    """Set gamma to 0 on BatchNorm channels that never varied in training; returns how many.

    Such a channel (typically fed by a ReLU that never fires) outputs its constant beta whatever
    gamma is: ``gamma * (x - mean) / sqrt(var + eps) + beta`` with ``x == mean``. Fusing
    (re-parameterisation) still folds ``gamma / sqrt(eps)``, up to ~316 x gamma, into the weights,
    and in a 1x1 convolution that one huge weight then sets the int8 scale of its whole output
    channel, so every real weight of that channel rounds to zero. With gamma = 0 the float model
    computes the same on its training distribution and the fused weights stay in range.
    """
    import torch

    n = 0
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.affine and m.running_var is not None:
                dead = m.running_var <= threshold
                n += int(dead.sum())
                m.weight[dead] = 0.0
    return n


def reparameterize(model):
    """Fuse MobileOne's branches into single convolutions (timm's ``reparameterize_model``).

    Returns a new model (the input is left untouched); asserts that no branch module remains.
    """
    from timm.utils.model import reparameterize_model

    fused = reparameterize_model(model, inplace=False).eval()
    left = multi_branch_modules(fused)
    assert not left, f"re-parameterisation left {len(left)} multi-branch modules, e.g. {left[0]}"
    return fused


def relative_error(ref: np.ndarray, got: np.ndarray) -> Tuple[float, float]:
    """(max |got - ref|, that divided by max |ref|)."""
    ref = np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if ref.shape != got.shape:
        raise ParityError(f"output shapes differ: {ref.shape} vs {got.shape}")
    max_abs = float(np.max(np.abs(got - ref))) if ref.size else 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    return max_abs, (max_abs / scale if scale > 0 else max_abs)


def random_images(batch: int, input_size: Sequence[int], mean: Sequence[float], std: Sequence[float],
                  generator=None):
    """(batch, 3, H, W) float32 noise images normalised like real ones: (U[0,1) - mean) / std."""
    import torch

    h, w = (int(v) for v in input_size)
    x = torch.rand(batch, 3, h, w, generator=generator)
    return ((x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)).float()


def parity_input(key: str, input_size: Optional[Sequence[int]] = None, seed: int = 0):
    """The seeded (1, 3, H, W) input on which torch, the fused model and onnxruntime are compared."""
    import torch

    spec = registry.get(key)
    gen = torch.Generator().manual_seed(int(seed) + 1)
    return random_images(1, input_size or spec.input_size, spec.mean, spec.std, gen)


def torch_forward(model, x) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(x).detach().cpu().numpy()


def check_reparameterization(unfused, fused, x, rtol: float = REPARAM_RTOL) -> Tuple[float, float]:
    """(max abs, relative) error of fused vs unfused outputs; ParityError above ``rtol``."""
    max_abs, rel = relative_error(torch_forward(unfused, x), torch_forward(fused, x))
    if not rel <= rtol:
        raise ParityError(f"re-parameterised model differs from the unfused one: max abs {max_abs:.3g}, "
                          f"relative {rel:.3g} > {rtol:g}")
    return max_abs, rel


def count_torch_params(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def onnx_param_counts(model_proto) -> Tuple[int, int]:
    """(elements over all initialisers, elements counted once per consuming node).

    The first is what the seed's ``count_parameters`` sums. The exporter and onnxsim merge
    initialisers with identical values, which happens with untrained weights (zero biases, unit
    BatchNorm); the second count undoes that merge, so it matches a trained model's count.
    """
    sizes = {t.name: int(np.prod(t.dims)) if len(t.dims) else 1 for t in model_proto.graph.initializer}
    uses: Dict[str, int] = {}
    for node in model_proto.graph.node:
        for name in set(node.input):
            if name in sizes:
                uses[name] = uses.get(name, 0) + 1
    return sum(sizes.values()), sum(n * max(uses.get(k, 1), 1) for k, n in sizes.items())


# ------------------------------------------------------------------------------------------------
# the ONNX file
# ------------------------------------------------------------------------------------------------
@dataclass
class OnnxInfo:
    """What an ONNX file declares: used by tests and notebooks to assert the exported contract."""

    path: Path
    opset: int
    ir_version: int
    inputs: List[Tuple[str, str, Tuple[int, ...]]]    # (name, elem type, shape)
    outputs: List[Tuple[str, str, Tuple[int, ...]]]
    metadata: Dict[str, str]
    nodes: int
    op_types: Dict[str, int]
    params: int
    params_per_use: int

    def signature(self) -> str:
        """Deterministic text: opset, ir version, inputs and outputs."""
        rows = [f"opset {self.opset}, ir_version {self.ir_version}"]
        rows += [f"input  {n}: {t} {list(s)}" for n, t, s in self.inputs]
        rows += [f"output {n}: {t} {list(s)}" for n, t, s in self.outputs]
        return "\n".join(rows)


def inspect_onnx(path: Union[str, Path]) -> OnnxInfo:
    import onnx

    path = Path(path)
    if not path.is_file():
        raise HelpersError(f"ONNX file not found: {path}; export it (python -m helpers export KEY)")
    try:
        proto = onnx.load(str(path))
    except Exception as e:
        raise HelpersError(f"{path} is not a readable ONNX file ({_first_line(e)}); re-export it") from None

    def io(values):
        out = []
        for v in values:
            tt = v.type.tensor_type
            dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim)
            out.append((v.name, onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name, dims))
        return out

    init_names = {t.name for t in proto.graph.initializer}
    ops: Dict[str, int] = {}
    for n in proto.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    params, per_use = onnx_param_counts(proto)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), -1)
    return OnnxInfo(path=path, opset=int(opset), ir_version=int(proto.ir_version),
                    inputs=io(v for v in proto.graph.input if v.name not in init_names),
                    outputs=io(proto.graph.output),
                    metadata={p.key: p.value for p in proto.metadata_props},
                    nodes=len(proto.graph.node), op_types=dict(sorted(ops.items())),
                    params=params, params_per_use=per_use)


def read_metadata(path: Union[str, Path]) -> Dict[str, str]:
    return inspect_onnx(path).metadata


def export_metadata(key: str, weights: Union[str, Path], opset: int, input_size: Sequence[int],
                    num_classes: int, labels: Optional[Sequence[str]] = None) -> Dict[str, str]:
    spec = registry.get(key)
    meta = {
        META_KEY: spec.key,
        META_MEAN: json.dumps(list(spec.mean)),
        META_STD: json.dumps(list(spec.std)),
        META_INPUT_SIZE: json.dumps([int(v) for v in input_size]),
        META_WEIGHTS: weights_label(weights),
        META_OPSET: str(int(opset)),
        META_NUM_CLASSES: str(int(num_classes)),
        META_TIMM_ID: spec.timm_id,
    }
    if labels is not None:
        meta[META_LABELS] = json.dumps([str(v) for v in labels], ensure_ascii=False)
    return meta


def _torch_to_onnx(model, x, path: Path, opset: int) -> None:
    import torch

    # dynamo=False (the TorchScript exporter). torch 2.14 defaults to the dynamo exporter, which
    # always builds opset 18 (ir_version 10) and then tries onnx's version converter to go down to
    # the requested opset; for these models that fails (ReduceMean's axes adapter) and it leaves
    # an opset-18 file, which the X3 toolchain refuses (opset 10/11, ir_version <= 7). The
    # TorchScript exporter writes opset 11 / ir_version 6 directly, folds BatchNorm into the
    # convolutions, and decomposes HardSwish (opset 14) into HardSigmoid*x. Measured here with
    # mobilenetv3_large_100: dynamo 10-17 s and opset 18; TorchScript 3 s and opset 11.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation notice, and tracer warnings
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          do_constant_folding=True, export_params=True)


def _simplify(proto):
    import contextlib
    import io

    from onnxsim import simplify

    with contextlib.redirect_stdout(io.StringIO()):  # its "Checking 0/1..." progress line
        simplified, ok = simplify(proto, check_n=1)
    if not ok:
        raise ParityError("onnxsim's check failed: the simplified model's outputs differ from the "
                          "original; export with a different opset or report the model")
    return simplified


def _ort_run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    return sess.run([OUTPUT_NAME], {INPUT_NAME: x})[0]


@dataclass
class ExportResult:
    path: Path
    key: str
    opset: int
    weights: str                 # rdk.weights: imagenet / random / checkpoint file name
    params_torch: int            # parameters of the exported PyTorch model (after re-param)
    params_onnx: int             # elements of the ONNX initialisers (as the seed counts them)
    max_abs_err: float           # onnxruntime vs torch, same input
    rel_err: float               # max_abs_err / max |torch output|
    seconds: float               # torch.onnx.export + checker + onnxsim (+ metadata)
    input_size: Tuple[int, int]
    num_classes: int = 1000
    params_torch_unfused: Optional[int] = None     # MobileOne before re-param
    params_onnx_per_use: int = 0                   # ONNX count with merged initialisers undone
    reparam_max_abs_err: Optional[float] = None
    reparam_rel_err: Optional[float] = None
    nodes_exported: int = 0
    nodes_simplified: int = 0
    ir_version: int = 0
    seconds_total: float = 0.0                     # including model creation and parity
    metadata: Dict[str, str] = field(default_factory=dict)

    @property
    def published_params_m(self) -> Optional[float]:
        """The parameter count (millions) the model zoo publishes for this key, if any."""
        spec = registry.get(self.key)
        return spec.published[0].params_m if spec.published else None

    def summary(self) -> str:
        h, w = self.input_size
        spec = registry.get(self.key)
        lines = [f"{self.key}: {rel_to_repo(self.path)}",
                 f"  weights      : {self.weights}" + ("   <- RANDOM: predictions mean nothing" if self.weights == RANDOM else ""),
                 f"  graph        : opset {self.opset} (ir_version {self.ir_version}), input {INPUT_NAME} float32 "
                 f"[1, 3, {h}, {w}] -> output {OUTPUT_NAME} [1, {self.num_classes}]",
                 f"  nodes        : {self.nodes_exported} exported -> {self.nodes_simplified} after onnxsim"]
        if registry.get(self.key).reparameterizable and self.reparam_rel_err is None:
            lines.append("  re-param     : the model was given already fused (no branch modules)")
        elif self.reparam_rel_err is not None:
            lines.append(f"  re-param     : {self.params_torch_unfused:,} -> {self.params_torch:,} parameters; fused vs "
                         f"unfused max abs {self.reparam_max_abs_err:.2e}, relative {self.reparam_rel_err:.2e}")
        lines.append(f"  parameters   : torch {self.params_torch:,}, ONNX initialisers {self.params_onnx:,}")
        if self.params_onnx_per_use != self.params_onnx:
            lines.append(f"                 ({self.params_onnx_per_use:,} counting merged identical initialisers once "
                         "per use: untrained weights repeat values)")
        pub = self.published_params_m
        if pub is not None:
            p = spec.published[0]
            lines.append(f"  published    : {pub} M parameters ({registry.BOARDS[p.board].name} .bin, {p.source})")
        lines.append(f"  parity       : onnxruntime vs torch max abs {self.max_abs_err:.2e}, relative "
                     f"{self.rel_err:.2e} (limit {PARITY_RTOL:g})")
        lines.append(f"  time         : {self.seconds:.1f} s export+simplify, {self.seconds_total:.1f} s in all")
        return "\n".join(lines)

    def row(self) -> List[str]:
        return [self.key, f"{self.params_torch:,}", f"{self.params_onnx:,}", f"{self.params_onnx_per_use:,}",
                f"{self.max_abs_err:.1e}", f"{self.rel_err:.1e}", f"{self.seconds:.1f}", str(self.opset)]


RESULT_HEADER = ["key", "params torch", "params ONNX", "ONNX per use", "max abs err", "rel err",
                 "export+simplify s", "opset"]


def results_table(results: Sequence[ExportResult]) -> str:
    rows = [r.row() for r in results]
    widths = [max(len(x) for x in col) for col in zip(RESULT_HEADER, *rows)]
    fmt = "  ".join(f"{{:>{w}}}" if i else f"{{:<{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*RESULT_HEADER), fmt.format(*("-" * w for w in widths))] +
                     [fmt.format(*r) for r in rows])


def export_onnx(key: str, weights: Union[str, Path] = IMAGENET, out: Optional[Union[str, Path]] = None,
                opset: int = DEFAULT_OPSET, overwrite: bool = False,
                input_size: Optional[Sequence[int]] = None, num_classes: Optional[int] = None,
                labels: Optional[Sequence[str]] = None, seed: int = 0, model=None) -> ExportResult:
    """Export ``key`` to a float ONNX (batch 1, NCHW float32, ``data`` -> ``output``).

    ``model``: an already built/trained ``nn.Module`` of this key to export instead of creating
    one (``weights`` then only labels it in the metadata). ``labels``: class names stored as
    ``rdk.labels`` (for heads other than ImageNet-1k). Refuses to replace ``out`` unless
    ``overwrite``; nothing is written when a check fails.
    """
    import onnx
    import torch

    spec = registry.get(key)
    opset = check_opset(opset)
    out = Path(out) if out is not None else default_onnx_path(key)
    check_writable_target(out, overwrite)  # fail before the slow part
    h, w = (int(v) for v in (input_size or spec.input_size))
    started = time.perf_counter()

    if model is None:
        model = create_model(key, weights, num_classes=num_classes, seed=seed)
    else:
        model = copy.deepcopy(model).cpu().float()
    model.eval()
    x = parity_input(key, (h, w), seed)

    params_unfused = count_torch_params(model)
    reparam = (None, None)
    if spec.reparameterizable and multi_branch_modules(model):  # a given model may come fused already
        fused = reparameterize(model)
        reparam = check_reparameterization(model, fused, x)
        model = fused
    ref = torch_forward(model, x)
    if ref.ndim != 2 or ref.shape[0] != 1:
        raise HelpersError(f"{key}: the model returns shape {ref.shape}; expected (1, classes) logits")
    classes = int(ref.shape[1])
    if labels is not None and len(labels) != classes:
        raise HelpersError(f"{len(labels)} labels given for a {classes}-class model; give one name per class")
    meta = export_metadata(key, weights, opset, (h, w), classes, labels)

    with atomic_output(out, overwrite=overwrite) as tmp:
        t0 = time.perf_counter()
        _torch_to_onnx(model, x, tmp, opset)
        proto = onnx.load(str(tmp))
        onnx.checker.check_model(proto, full_check=True)
        nodes_exported = len(proto.graph.node)
        proto = _simplify(proto)
        del proto.metadata_props[:]
        for k, v in meta.items():
            proto.metadata_props.add(key=k, value=v)
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, str(tmp))
        seconds = time.perf_counter() - t0
        got = _ort_run(tmp, x.numpy())
        max_abs, rel = relative_error(ref, got)
        if not rel <= PARITY_RTOL:
            raise ParityError(f"{key}: onnxruntime and torch disagree: max abs {max_abs:.3g}, relative "
                              f"{rel:.3g} > {PARITY_RTOL:g}; {out.name} not written")
        params_onnx, per_use = onnx_param_counts(proto)
        ir_version = int(proto.ir_version)
        nodes_simplified = len(proto.graph.node)

    return ExportResult(
        path=out, key=key, opset=opset, weights=meta[META_WEIGHTS], params_torch=count_torch_params(model),
        params_onnx=params_onnx, max_abs_err=max_abs, rel_err=rel, seconds=seconds, input_size=(h, w),
        num_classes=classes, params_torch_unfused=params_unfused if reparam[0] is not None else None,
        params_onnx_per_use=per_use, reparam_max_abs_err=reparam[0], reparam_rel_err=reparam[1],
        nodes_exported=nodes_exported, nodes_simplified=nodes_simplified, ir_version=ir_version,
        seconds_total=time.perf_counter() - started, metadata=meta)


def onnx_forward(path: Union[str, Path], x) -> np.ndarray:
    """Logits of the float ONNX at ``path`` for ``x`` (a torch tensor or array), via onnxruntime."""
    arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    return _ort_run(Path(path), np.ascontiguousarray(arr, dtype=np.float32))


# ------------------------------------------------------------------------------------------------
# notebooks: the report texts, and where to write without clobbering someone else's file
# ------------------------------------------------------------------------------------------------
def introduce(key: str, weights: Union[str, Path], arch: Optional[str] = None) -> registry.ModelSpec:
    """Print what will be exported (and the random-weights banner); check ``key`` fits ``arch``."""
    spec = registry.get(key)
    if arch is not None and spec.arch != arch:
        raise HelpersError(f"{key} is a {spec.arch} model; this is the {arch} notebook "
                           f"(use notebooks/{spec.arch}/export_{spec.arch}.ipynb or one of: "
                           f"{', '.join(registry.keys(arch))})")
    h, w = spec.input_size
    label = weights_label(weights)
    origin = {IMAGENET: f"ImageNet-1k, timm {spec.timm_id} from the Hugging Face hub ({spec.hf_hub_id})",
              RANDOM: "random, seeded, BatchNorm statistics settled (untrained)"}.get(label, f"checkpoint {weights}")
    print(f"model   : {spec.key} ({spec.paper})\n"
          f"weights : {origin}\n"
          f"input   : {w}x{h} RGB, normalised with mean {list(spec.mean)}, std {list(spec.std)}\n"
          f"re-param: {'yes, branches fused before export' if spec.reparameterizable else 'no branches to fuse'}")
    random_banner(weights)
    return spec


def reparam_report(unfused, fused, max_abs: float, rel: float) -> str:
    return (f"branch modules : {len(multi_branch_modules(unfused))} -> {len(multi_branch_modules(fused))}\n"
            f"parameters     : {count_torch_params(unfused):,} -> {count_torch_params(fused):,}\n"
            f"fused vs unfused on the same input: max abs {max_abs:.2e}, relative {rel:.2e} "
            f"(limit {REPARAM_RTOL:g})")


def param_report(result: ExportResult) -> str:
    """Parameter counts of the export, and the published figure of this key when there is one."""
    spec = registry.get(result.key)
    lines = [f"PyTorch model (as exported)  : {result.params_torch:,}",
             f"ONNX initialisers            : {result.params_onnx:,}"]
    if result.params_onnx_per_use != result.params_onnx:
        lines.append(f"  counted once per use       : {result.params_onnx_per_use:,}  (the exporter merged "
                     "initialisers with identical values, as untrained weights have)")
    if result.params_torch != result.params_onnx_per_use:
        lines.append(f"  difference to PyTorch      : {result.params_torch - result.params_onnx_per_use:,} "
                     "(each BatchNorm's weight+bias folds into a bias of the conv before it)")
    for p in spec.published:
        lines.append(f"published ({registry.BOARDS[p.board].name} .bin): {p.params_m} M  [{p.source}]")
        if p.note:
            lines.append(f"  note: {p.note}")
    return "\n".join(lines)


def next_steps(result: ExportResult) -> str:
    spec = registry.get(result.key)
    default = default_onnx_path(result.key)
    lines = [f"wrote {rel_to_repo(result.path)}  (metadata: {', '.join(sorted(result.metadata))})"]
    if Path(result.path).resolve() != default.resolve():
        lines.append(f"note: the yamls and the other notebooks read {rel_to_repo(default)}, not this file")
    lines += [f"mapper yaml : python -m helpers yaml {spec.key} --board x5   (or --board x3)",
              f"PC stand-in : python -m helpers board-model {rel_to_repo(default)} "
              f"yaml/{spec.arch}/{spec.key}_x5.yaml",
              f"for the toolchain: python -m helpers bundle {spec.key} --board x5 --images DIR --out DIR",
              f"then run notebooks/{spec.arch}/test_{spec.arch}.ipynb"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# notebooks: where to write without clobbering someone else's file
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutputChoice:
    path: Path
    overwrite: bool
    reason: str


def choose_output(key: str, weights: Union[str, Path], overwrite: bool = False) -> OutputChoice:
    """Where a notebook run writes, replacing only files it may replace.

    * no file yet -> ``model/<Arch>/<key>.onnx``;
    * the file there was exported with the same weights choice, or with random weights (a
      placeholder by definition) -> replace it (a re-run);
    * it holds another export (ImageNet or a checkpoint, or it is not ours) and this run uses
      random weights (CI) -> keep it and write ``<key>.random.onnx`` beside it;
    * otherwise stop, unless ``overwrite``.
    """
    default = default_onnx_path(key)
    label = weights_label(weights)
    if not default.exists():
        return OutputChoice(default, False, f"new file {rel_to_repo(default)}")
    if overwrite:
        return OutputChoice(default, True, f"replacing {rel_to_repo(default)} (overwrite requested)")
    try:
        meta = read_metadata(default)
    except HelpersError:
        meta = {}
    old = meta.get(META_WEIGHTS) if meta.get(META_KEY) == key else None
    if old is not None and old in (label, RANDOM):
        return OutputChoice(default, True, f"replacing {rel_to_repo(default)}: an earlier export of {key} "
                                           f"with weights {old!r}")
    if label == RANDOM:
        side = default.with_name(f"{key}.{RANDOM}.onnx")
        return OutputChoice(side, True, f"kept {rel_to_repo(default)} (weights {old or 'unknown'!r}); this "
                                        f"random-weights run writes {rel_to_repo(side)}")
    raise HelpersError(f"{rel_to_repo(default)} holds an export with weights {old or 'unknown'!r}, this run "
                       f"uses {label!r}: move it away or set OVERWRITE = True")


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def cmd_export(args) -> int:
    result = export_onnx(args.key, weights=args.weights, out=args.out, opset=args.opset,
                         overwrite=args.overwrite, seed=args.seed, num_classes=args.num_classes)
    print(result.summary())
    if args.record:
        from helpers.docs.readme import record_and_report

        row = {k: getattr(result, k) for k in ("key", "weights", "opset", "params_torch", "params_onnx",
                                               "max_abs_err", "rel_err", "seconds")}
        record_and_report("export", [row], "python -m helpers export KEY --weights random --record")
    print(f"next: python -m helpers yaml {args.key} --board x5   (mapper yaml for this ONNX)")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export a registry model to float ONNX (model/<Arch>/<key>.onnx)",
                              description="Export KEY to a float ONNX: batch 1, NCHW float32, input 'data', "
                                          "output 'output', onnxsim-simplified, parity-checked.")
    p.add_argument("key", help="registry key (python -m helpers list)")
    p.add_argument("--weights", default=IMAGENET,
                   help="imagenet (timm pretrained, default), random (untrained, seeded) or PATH to a "
                        ".safetensors/.pth checkpoint")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                   help=f"ONNX opset, {MIN_OPSET}..{MAX_OPSET} (default {DEFAULT_OPSET}; the X3 toolchain takes 10/11 only)")
    p.add_argument("--out", help="output file (default model/<Arch>/<key>.onnx)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--seed", type=int, default=0, help="seed for random weights and the parity input")
    p.add_argument("--num-classes", type=int, help="classifier size (default: the checkpoint's)")
    p.add_argument("--record", action="store_true", help="store the row in data/results/export.json (README tables)")
    p.set_defaults(func=cmd_export)

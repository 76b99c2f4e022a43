"""Make the PyTorch model of a registry key (PC only): timm weights, a checkpoint file, or seeded random weights.

One face for model creation, used by export, training and evaluation: :func:`create_model` (the
deployable weights of a key), :func:`create_unfused` (the training form), checkpoint reading
(:mod:`helpers.pc.checkpoints`: timm, Apple and mmpretrain layouts by key names), MobileOne re-parameterisation
(:func:`reparameterize`, :func:`check_reparameterization`) and the seeded inputs the parity checks use.

torch and timm are imported inside the functions, so that ``python -m helpers --help`` stays light.
"""
from __future__ import annotations

import re
import socket
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union
from urllib.parse import urlparse

import numpy as np

from helpers.board import registry
from helpers.pc.checkpoints import CHECKPOINT_SUFFIXES, guess_mobileone, load_checkpoint_state, read_checkpoint  # noqa: F401 (re-exported)
from helpers.errors import HelpersError, RandomWeightsWarning, first_line


class ParityError(HelpersError):
    """Two computations that must agree (onnxruntime vs torch, fused vs unfused) do not."""


#: Re-parameterisation tolerance: fused vs unfused MobileOne, same measure, settled weights.
REPARAM_RTOL = 1e-4

#: BatchNorm settling for random weights: train-mode passes of random batches, cumulative average.
SETTLE_PASSES = 2

SETTLE_BATCH = 4

RANDOM = "random"

IMAGENET = "imagenet"

RANDOM_BANNER = ("RANDOM WEIGHTS: this model was not trained. Its outputs are noise and any class "
                 "it predicts means nothing. Use weights='imagenet' (needs the Hugging Face hub once) "
                 "or a checkpoint file for real predictions.")


def weights_label(weights: Union[str, Path]) -> str:
    """What ``rdk.weights`` records: ``imagenet``, ``random`` or the checkpoint's file name."""
    w = str(weights)
    return w if w in (IMAGENET, RANDOM) else Path(w).name


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
    """``timm.create_model`` with ``exportable=True``: timm then picks layer implementations that
    ``torch.onnx.export`` can trace (no custom autograd activations, static padding)."""
    import timm

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        return timm.create_model(name, exportable=True, **kwargs)


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
        return f"the hub ({host}) is unreachable: {first_line(e)}"
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
        raise HelpersError(_offline_message(spec, first_line(e))) from None
    return model.eval()


def _create_random(spec: registry.ModelSpec, num_classes: Optional[int], seed: int):
    import torch

    warnings.warn(f"{spec.key}: {RANDOM_BANNER}", RandomWeightsWarning, stacklevel=3)
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


def _classifier_key(timm_name: str) -> Optional[str]:
    import timm

    cfg = timm.models.get_pretrained_cfg(timm_name)
    return f"{cfg.classifier}.weight" if cfg is not None and cfg.classifier else None


def _create_from_checkpoint(spec: registry.ModelSpec, path: Path, num_classes: Optional[int]):
    """The timm model of ``spec`` with the weights of ``path`` in any layout :mod:`checkpoints` knows.

    Prints one line naming the layout found. A re-parameterised checkpoint builds the fused network
    directly (:func:`create_fused`) and loads into it: nothing is fused.
    """
    ck = read_checkpoint(path)
    print(ck.describe(), flush=True)
    if ck.layout.mobileone and not spec.reparameterizable:
        guess = guess_mobileone(ck.state)
        raise HelpersError(f"{path.name} is a MobileOne checkpoint ({ck.layout} layout), not a {spec.key} one; "
                           f"use KEY {guess or 'mobileone_sN'}")
    state = ck.state
    head_key = _classifier_key(spec.timm_name)
    ckpt_classes = int(state[head_key].shape[0]) if head_key in state and state[head_key].ndim >= 1 else None
    if num_classes is None:
        num_classes = ckpt_classes or spec.num_classes
    elif ckpt_classes is not None and ckpt_classes != int(num_classes):
        raise HelpersError(f"{path.name} has a {ckpt_classes}-class head but num_classes={num_classes} was "
                           "asked; drop num_classes (it is read from the checkpoint) or use another checkpoint")
    if spec.reparameterizable and ck.layout.fused:
        model = create_fused(spec.key, int(num_classes))
    elif spec.reparameterizable:  # unfused: trained with as many k x k branches as it carries
        model = create_unfused(spec.key, int(num_classes), conv_branches=checkpoint_conv_branches(state))
    else:
        model = _timm_create(spec.timm_name, pretrained=False, num_classes=int(num_classes))
    _load_exact(model, state, spec, path, str(ck.layout))
    return model.eval()


_KXK_RE = re.compile(r"\.conv_kxk\.(\d+)\.")


def checkpoint_conv_branches(state) -> Optional[int]:
    """The number of k x k branches per MobileOne block in an unfused state dict (None if none)."""
    idx = [int(m.group(1)) for m in map(_KXK_RE.search, state) if m]
    return max(idx) + 1 if idx else None


def _load_exact(model, state, spec: registry.ModelSpec, path: Path, layout: str = "timm") -> None:
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
        guess = guess_mobileone(state) if spec.reparameterizable else None
        if guess and guess != spec.key:
            raise HelpersError(f"{path.name} looks like a {guess} checkpoint ({layout} layout), not {spec.key}: "
                               f"{'; '.join(parts)}; use KEY {guess}")
        raise HelpersError(f"{path.name} ({layout} layout) is not a {spec.key} checkpoint: {'; '.join(parts)}. "
                           "Is it a checkpoint of another model? Use its registry key (python -m helpers list)")
    model.load_state_dict(state, strict=True)


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


def _with_block_kwargs(cfg, **kwargs):
    """A timm ByobNet config with ``kwargs`` added to every MobileOne block's ``block_kwargs``."""
    import dataclasses

    def fix(b):
        if isinstance(b, (list, tuple)):
            return type(b)(fix(x) for x in b)
        if b.type != "one":
            return b
        return dataclasses.replace(b, block_kwargs={**(b.block_kwargs or {}), **kwargs})

    return dataclasses.replace(cfg, blocks=tuple(fix(b) for b in cfg.blocks))


def _byobnet(spec: registry.ModelSpec, num_classes: int, **block_kwargs):
    import timm
    from timm.layers import set_layer_config
    from timm.models import byobnet

    cfg = _with_block_kwargs(byobnet.model_cfgs[spec.timm_name], **block_kwargs)
    with set_layer_config(exportable=True):
        model = byobnet.ByobNet(cfg, num_classes=num_classes)
    model.pretrained_cfg = timm.models.get_pretrained_cfg(spec.timm_name).to_dict()
    return model


def _mobileone_spec(key: str, what: str) -> registry.ModelSpec:
    from timm.models import byobnet

    spec = registry.get(key)
    if not spec.reparameterizable or spec.timm_name not in byobnet.model_cfgs:
        raise HelpersError(f"{what} applies to MobileOne only, not {key}")
    return spec


def create_unfused(key: str, num_classes: int, conv_branches: Optional[int] = None, seed: int = 0):
    """The randomly initialised (training-form) timm model; ``conv_branches`` overrides MobileOne's k."""
    import torch

    spec = registry.get(key)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        if conv_branches is None:
            return _timm_create(spec.timm_name, pretrained=False, num_classes=num_classes)
        spec = _mobileone_spec(key, "--conv-branches")
        if conv_branches < 1:
            raise HelpersError(f"--conv-branches must be at least 1, got {conv_branches}")
        return _byobnet(spec, num_classes, num_conv_branches=int(conv_branches))


def create_fused(key: str, num_classes: int):
    """timm's MobileOne built in its fused (inference) form: one convolution per block, random weights.

    timm's stem takes no ``inference_mode``; fusing its one block here costs nothing. timm's
    ``inference_mode`` convolution has no padding (its ``reparameterize`` copies the branches'
    padding, timm 1.0 ``byobnet.MobileOneBlock``), so we set the padding the branches have.
    """
    from timm.layers import get_padding
    from timm.models.byobnet import MobileOneBlock

    model = _byobnet(_mobileone_spec(key, "a re-parameterised checkpoint"), num_classes, inference_mode=True)
    model.stem.reparameterize()
    for m in model.modules():
        if isinstance(m, MobileOneBlock):
            conv = m.reparam_conv
            conv.padding = tuple(get_padding(k, s, d) for k, s, d in zip(conv.kernel_size, conv.stride, conv.dilation))
    return model.eval()

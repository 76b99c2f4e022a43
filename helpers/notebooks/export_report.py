"""What the export notebooks print: the plan, the re-parameterisation, the parameter counts, the next steps.

Presentation only; the work is done by :mod:`helpers.pc.models` and :mod:`helpers.pc.export`, whose
calls stay visible in the notebook cells. Like every ``helpers.notebooks`` module it imports ``helpers.pc``
only inside its functions (ARCHITECTURE.md; ``tests/test_architecture.py``).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from helpers.board import registry
from helpers.board.files import rel_to_repo
from helpers.board.text import Banner
from helpers.errors import HelpersError, RandomWeightsWarning
from helpers.notebooks.display import show

if TYPE_CHECKING:  # annotations only
    from helpers.pc.export import ExportResult


def introduce(key: str, weights: Union[str, Path], arch: Optional[str] = None) -> registry.ModelSpec:
    """Print what will be exported (and the random-weights banner); check ``key`` fits ``arch``."""
    from helpers.pc.models import IMAGENET, RANDOM, RANDOM_BANNER, weights_label

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
    if label == RANDOM:
        title, _, text = RANDOM_BANNER.partition(": ")
        show(Banner(title, text + " This box stands for every cell below: they do not repeat it."))
        # one box per notebook: the RandomWeightsWarning of each later model creation is not shown again
        warnings.filterwarnings("ignore", category=RandomWeightsWarning)
    return spec


def reparam_report(unfused, fused, max_abs: float, rel: float) -> str:
    from helpers.pc.models import REPARAM_RTOL, count_torch_params, multi_branch_modules

    return (f"branch modules : {len(multi_branch_modules(unfused))} -> {len(multi_branch_modules(fused))}\n"
            f"parameters     : {count_torch_params(unfused):,} -> {count_torch_params(fused):,}\n"
            f"fused vs unfused on the same input: max abs {max_abs:.2e}, relative {rel:.2e} "
            f"(limit {REPARAM_RTOL:g})")


def batchnorm_channels(model) -> int:
    """Channels of the BatchNorm layers of a torch model: what folding them into convolutions removes."""
    import torch

    return sum(m.num_features for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))


def param_comparison(params_torch: int, params_onnx: int, bn_channels: Optional[int] = None) -> str:
    """One sentence comparing the PyTorch and ONNX parameter counts, from the numbers themselves.

    ``params_onnx``: the ONNX count per use (merged initialisers counted once per use). ``bn_channels``
    (:func:`batchnorm_channels` of the exported model): when given, the sentence says whether the folded
    BatchNorms explain the whole difference. Folding a BatchNorm into the bias-free convolution before it
    turns its scale and shift (2 per channel) into the convolution's bias (1 per channel): one parameter
    fewer per channel (tests/pc/test_export.py checks it on every architecture).
    """
    if params_torch == params_onnx:
        why = ("the exported model has no BatchNorm left to fold" if bn_channels in (None, 0) else
               f"although the model has {bn_channels:,} BatchNorm channels, which should have made ONNX smaller")
        return f"The PyTorch and ONNX counts are equal ({params_torch:,}): {why}."
    diff = params_torch - params_onnx
    if diff < 0:
        return (f"The ONNX count is {-diff:,} higher than the PyTorch count ({params_onnx:,} vs {params_torch:,}): "
                "the graph keeps constants that are not PyTorch parameters (e.g. BatchNorm statistics the "
                "exporter did not fold).")
    head = f"The ONNX count is {diff:,} lower than the PyTorch count ({params_onnx:,} vs {params_torch:,})"
    fold = ("the exporter folded each BatchNorm into the convolution before it (its scale and shift, 2 per "
            "channel, became the convolution's bias, 1 per channel)")
    if bn_channels is None:
        return f"{head}: {fold}, so the difference should be the number of BatchNorm channels."
    if bn_channels == diff:
        return f"{head}: {fold}; the model has exactly {bn_channels:,} BatchNorm channels."
    return (f"{head}: {fold}, which accounts for {bn_channels:,} of them; the other {diff - bn_channels:,} "
            "are not explained by the folding.")


def param_report(result: ExportResult, model=None) -> str:
    """Parameter counts of the export, the sentence comparing them (:func:`param_comparison`; ``model``, the
    exported torch model, lets it check the folded BatchNorms), and the published figure of this key."""
    spec = registry.get(result.key)
    lines = [f"PyTorch model (as exported)  : {result.params_torch:,}",
             f"ONNX initialisers            : {result.params_onnx:,}"]
    if result.params_onnx_per_use != result.params_onnx:
        lines.append(f"  counted once per use       : {result.params_onnx_per_use:,}  (the exporter merged "
                     "initialisers with identical values, as untrained weights have)")
    bn = batchnorm_channels(model) if model is not None else None
    lines.append(param_comparison(result.params_torch, result.params_onnx_per_use, bn))
    for p in spec.published:
        board = registry.BOARDS[p.board]
        lines.append(f"published ({board.name} {board.suffix}): {p.params_m} M  [{p.source}]")
        if p.note:
            lines.append(f"  note: {p.note}")
    return "\n".join(lines)


def next_steps(result: ExportResult) -> str:
    spec = registry.get(result.key)
    default = registry.get(result.key).float_onnx_path
    lines = [f"wrote {rel_to_repo(result.path)}  (metadata: {', '.join(sorted(result.metadata))})"]
    if Path(result.path).resolve() != default.resolve():
        lines.append(f"note: the yamls and the other notebooks read {rel_to_repo(default)}, not this file")
    lines += [f"mapper yaml : python -m helpers yaml {spec.key} --board x5   (or --board x3)",
              f"PC stand-in : python -m helpers board-model {rel_to_repo(default)} "
              f"yaml/{spec.arch}/{spec.key}_x5.yaml",
              f"for the toolchain: python -m helpers bundle {spec.key} --board x5 --images DIR --out DIR",
              f"then run notebooks/{spec.arch}/test_{spec.arch}.ipynb"]
    return "\n".join(lines)

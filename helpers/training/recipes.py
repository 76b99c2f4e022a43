"""Named training presets for ``train --recipe NAME``, in timm's terms, with their sources.

``mmpretrain-mobileone``: mmpretrain's MobileOne recipe (open-mmlab/mmpretrain, commit ee7f2e88),
``configs/mobileone/mobileone-s0_8xb32_in1k.py`` with its bases
``configs/_base_/models/mobileone/mobileone_s0.py``, ``configs/_base_/datasets/imagenet_bs32_pil_resize.py``
and ``configs/_base_/schedules/imagenet_bs256_coslr_coswd_300e.py``. The side-by-side table, and what
is not reproduced, is in ``notebooks/MobileOne/README.md`` (section 12.1). The values are
:class:`helpers.training.train.TrainConfig` fields.
"""
from __future__ import annotations

import math
from typing import Dict

from helpers.board import registry
from helpers.errors import HelpersError

MMPRETRAIN_MOBILEONE: Dict[str, object] = dict(
    epochs=300, img_size=224, weights="random",            # train_cfg max_epochs=300, from scratch
    batch_size=32,                                         # 8xb32: 32 per GPU, 256 in all
    opt="momentum", lr_base=0.1,                           # SGD(lr=0.1, momentum=0.9) (timm 'sgd' is Nesterov); auto_scale_lr base 256
    weight_decay=1e-4, weight_decay_end=1e-5,              # CosineAnnealingParamScheduler(weight_decay, eta_min=1e-5, end=300)
    sched="cosine", warmup_epochs=5, warmup_lr_factor=1e-3,  # LinearLR(start_factor=0.001, end=5, per iteration)
    warmup_prefix=True, min_lr=1e-6,                       # CosineAnnealingLR(T_max=295, eta_min=1e-6, begin=5)
    smoothing=0.1,                                         # LabelSmoothLoss(label_smooth_val=0.1, mode='original')
    ema_decay=1 - 5e-4,                                    # EMAHook(momentum=5e-4, update_buffers=True): per iteration
    hflip=0.5, scale=(0.08, 1.0), color_jitter=0.0,        # RandomResizedCrop(224) + RandomFlip(0.5), nothing else
    recipe="mmpretrain-mobileone")

#: S1-S4 add RandAugment (configs/mobileone/mobileone-s{1..4}_8xb32_in1k.py: policies='timm_increasing',
#: num_policies=2, total_level=10, magnitude_level=7, magnitude_std=0.5); we use the final magnitude throughout
MMPRETRAIN_RANDAUGMENT = "rand-m7-n2-mstd0.5-inc1"

RECIPES = {"mmpretrain-mobileone": MMPRETRAIN_MOBILEONE}


def recipe_options(name: str, key: str) -> Dict[str, object]:
    """The TrainConfig fields of preset ``name`` for ``key`` (an unknown name lists the known ones)."""
    if name not in RECIPES:
        raise HelpersError(f"unknown recipe {name!r}; known: {', '.join(sorted(RECIPES))}")
    options = dict(RECIPES[name])
    check_recipe_key(name, key)
    if name == "mmpretrain-mobileone" and key != "mobileone_s0":
        options["auto_augment"] = MMPRETRAIN_RANDAUGMENT
    return options


def check_recipe_key(recipe: str, key: str) -> None:
    if recipe.startswith("mmpretrain-mobileone") and not registry.get(key).reparameterizable:
        raise HelpersError(f"recipe {recipe} is MobileOne's; {key} is not a MobileOne key")


def cosine_weight_decay(optimizer, epoch: int, epochs: int, end: float) -> None:
    """Set the weight decay of the decayed parameter groups for 1-based ``epoch``: cosine from the
    start value to ``end`` (mmengine ``CosineAnnealingParamScheduler(param_name='weight_decay')``,
    by epoch; timm has no weight-decay schedule)."""
    for g in optimizer.param_groups:
        start = g.setdefault("initial_weight_decay", g["weight_decay"])
        if start > 0:
            g["weight_decay"] = end + (start - end) * (1 + math.cos(math.pi * (epoch - 1) / epochs)) / 2

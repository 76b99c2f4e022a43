"""Train a registry model on an ImageFolder with timm (PC only; torch/timm imported inside functions).

``python -m helpers train KEY --data DIR`` (``DIR/train`` and ``DIR/val``, ImageFolder):

* the timm model of KEY with a new head for the dataset's classes; weights ``imagenet`` (timm's
  pretrained weights, then a new head), ``random`` (from scratch) or a checkpoint PATH;
* timm's factories: ``create_optimizer_v2`` (AdamW, or the dataset's hint: SGD for the digits),
  ``create_scheduler_v2`` (cosine with warm-up,
  stepped per update), ``LabelSmoothingCrossEntropy``; timm's ``create_transform`` for training
  augmentation; optional EMA (``ModelEmaV3``, ``--ema-decay``); AMP on CUDA only; a tqdm bar;
* validation each epoch with the deployed preprocessing (:func:`helpers.board.image.board_resize` then
  mean/std), the same pixels ``eval`` and the board see;
* a safetensors checkpoint after every epoch, written atomically: ``last.safetensors`` (weights,
  metadata: key, classes, image size, epoch) and ``last_state.pt`` (optimizer, EMA, RNG, history;
  plain tensors and numbers, loadable with ``torch.load(weights_only=True)``); ``--resume``
  continues from them (the files and their readers: :mod:`helpers.training.run_files`);
* at the end ``model.safetensors``: the final weights, re-parameterised for MobileOne;
* multi-GPU / multi-node through ``torchrun`` (DDP, :mod:`helpers.training.distributed`; used when
  ``WORLD_SIZE`` > 1): each rank trains on its shard, validation counts every image once, only rank 0
  writes files; tested with 2 CPU processes (gloo).
* ``--recipe NAME``: a named preset (:mod:`helpers.training.recipes`), e.g. ``mmpretrain-mobileone``.

ImageNet with 8 GPUs (we have neither; no ImageNet claim is made), next to mmpretrain's own launch::

    torchrun --nproc_per_node 8 -m helpers train mobileone_s0 --data /data/imagenet --recipe mmpretrain-mobileone
    bash tools/dist_train.sh configs/mobileone/mobileone-s0_8xb32_in1k.py 8      # in an mmpretrain checkout

For reference, the published mmpretrain MobileOne-S0 result (``registry.MOBILEONE_MMPRETRAIN``) is
printed by :func:`published_reference`.
"""
from __future__ import annotations

import json
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from helpers.board import registry
from helpers.errors import HelpersError, brief, first_line, unwrap_worker_error
from helpers.board.meta import META_CLASSES, META_CONV_BRANCHES, META_EPOCH, META_EPOCHS, META_IMG_SIZE, META_INIT_WEIGHTS, META_KEY, META_REPARAMETERIZED
from helpers.pc.models import create_model, create_unfused
from helpers.training.run_files import (FINAL, HISTORY, LAST, META_VAL_TOP1, STATE, CheckpointInfo, load_state as _load_state,  # noqa: F401
                                         load_trained_model, read_checkpoint_info)
from helpers.training.datasets import DeployedTransform, TrainTransform, TorchImages as _Images  # noqa: F401
from helpers.training.config import SMOOTHING, TrainConfig  # noqa: F401 - TrainConfig is part of this API
from helpers.training.distributed import Dist, all_sum as _all_sum, setup as _dist_setup, val_shard
from helpers.training.recipes import RECIPES, check_recipe_key, cosine_weight_decay, recipe_options
from helpers.board.files import REPO_ROOT, atomic_output, atomic_write_text, rel_to_repo

#: defaults (AdamW; learning rate for a global batch of 256, scaled linearly)
LR_BASE = 4e-3
LR_BASE_BATCH = 256
BATCH_SIZE = 64
WEIGHT_DECAY = 0.05
COLOR_JITTER = 0.4


def default_out(key: str) -> Path:
    return REPO_ROOT / "runs" / "train" / key


def published_reference() -> str:
    """The published mmpretrain MobileOne-S0 ImageNet result (not ours), one line."""
    r = registry.MOBILEONE_MMPRETRAIN
    return (f"published (mmpretrain {r['config']}, {r['hardware']}, ImageNet-1k): top-1 {r['top1']}, "
            f"FPS {r['fps']} - source: {r['source']}")


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------
@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    val_top1: float
    val_top5: float
    lr: float
    seconds: float
    ema_top1: Optional[float] = None


@dataclass
class TrainResult:
    key: str
    out: Path
    checkpoint: Path                 # model.safetensors (final, re-parameterised for MobileOne)
    last: Path                       # last.safetensors (unfused, resumable)
    classes: List[str]
    img_size: int
    epochs: int
    epochs_run: int                  # epochs run by this call (less than epochs after --resume)
    start_epoch: int                 # first epoch this call ran (1-based)
    history: List[EpochRecord]
    final_top1: float                # val top-1 of the saved final model
    reparameterized: bool
    seconds: float
    init_weights: str
    device: str
    world_size: int = 1
    train_images: int = 0
    val_images: int = 0
    extra: Dict = field(default_factory=dict)

    def summary(self) -> str:
        last = self.history[-1] if self.history else None
        lines = [f"{self.key}: {self.epochs} epochs ({self.epochs_run} run now, from epoch {self.start_epoch}) "
                 f"on {self.train_images} images, {len(self.classes)} classes, {self.img_size}x{self.img_size}, "
                 f"{self.device} x{self.world_size}, {self.seconds:.0f} s",
                 f"  val top-1 {self.final_top1:.2f} %" + (f", top-5 {last.val_top5:.2f} %" if last else "") +
                 f" ({self.val_images} images)",
                 f"  final     : {rel_to_repo(self.checkpoint)}" + ("  (re-parameterised)" if self.reparameterized else ""),
                 f"  resumable : {rel_to_repo(self.last)}"]
        return "\n".join(lines)


def _save_weights(model, path: Path, meta: Dict[str, str]) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_output(path, overwrite=True, suffix=".safetensors") as tmp:
        save_file(state, str(tmp), metadata={k: str(v) for k, v in meta.items()})


def _check_out(out: Path, resume: bool, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise HelpersError(f"{out} is a file; give a folder for the training run (--out DIR)")
    if resume:
        if not (out / LAST).is_file() or not (out / STATE).is_file():
            raise HelpersError(f"nothing to resume in {rel_to_repo(out)} ({LAST} and {STATE} missing); "
                               "drop --resume to start a new run")
        return
    if (out / LAST).exists() and not overwrite:
        ep = read_checkpoint_info(out / LAST).epoch
        raise HelpersError(f"{rel_to_repo(out)} already holds a training run (epoch {ep}); pass --resume to continue "
                           "it, --overwrite to start again, or give another --out")


def _init_model(key: str, weights: str, num_classes: int, seed: int, conv_branches: Optional[int] = None):
    w = str(weights)
    if w == "random":
        return create_unfused(key, num_classes, conv_branches, seed)
    if conv_branches is not None:
        raise HelpersError("--conv-branches changes the training-time branches, so it starts from random weights "
                           "only; drop it to fine-tune pretrained weights")
    if w == "imagenet":
        return create_model(key, "imagenet", num_classes=num_classes)
    path = Path(w)
    if path.suffix == ".safetensors" and path.is_file():
        try:
            info = read_checkpoint_info(path)
        except HelpersError:
            info = None
        if info is not None:
            if info.key != key:
                raise HelpersError(f"{path.name} is a checkpoint of {info.key}, not {key}; "
                                   f"use KEY {info.key} or another --weights")
            if info.reparameterized:
                raise HelpersError(f"{path.name} is re-parameterised (fused, for deployment); start from the "
                                   f"unfused {LAST} of that run instead")
    model = create_model(key, w)
    if model.num_classes != num_classes:
        model.reset_classifier(num_classes)
    return model


def _evaluate(model, loader, d: Dist, amp) -> Tuple[float, float]:
    import torch

    model.eval()
    correct1 = correct5 = n = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
            with amp():
                out = model(x)
            k = min(5, out.shape[1])
            top = out.float().topk(k, dim=1).indices
            correct1 += (top[:, 0] == y).sum().item()
            correct5 += (top == y[:, None]).any(dim=1).sum().item()
            n += y.numel()
    c1, c5, n = _all_sum([correct1, correct5, n], d)
    return 100.0 * c1 / max(n, 1), 100.0 * c5 / max(n, 1)


def default_workers() -> int:
    return max(0, min(8, (os.cpu_count() or 1) - 1))


def train(key: str, data, config: Optional[TrainConfig] = None, *, out=None, resume: bool = False,
          overwrite: bool = False, progress: bool = True, log=print, **options) -> TrainResult:
    """Train ``key`` on ``data`` (``data/train`` and ``data/val`` ImageFolders); see the module doc.

    ``config`` is the recipe (:class:`TrainConfig`); ``options`` override single fields of it, e.g.
    ``train(key, data, epochs=3, lr=0.1)``. ``out``: the run folder (default ``runs/train/<key>``);
    ``resume`` continues the run in it, ``overwrite`` starts it again.
    """
    cfg = (config or TrainConfig()).with_options(**options).fitted().validate()
    check_recipe_key(cfg.recipe, key)
    import torch

    plan = _resolve(key, data, cfg, out, resume, overwrite)         # model spec, run folder, data
    if resume:
        _restore(plan)                                              # the interrupted run's checkpoint and state
    d = _dist_setup()                                               # DDP under torchrun, else one process
    if not d.main:
        log, progress = _silent, False
    torch.manual_seed(cfg.seed + d.rank)
    np.random.seed(cfg.seed + d.rank)
    model = _build_model(plan, d)                                   # draws the initial weights
    loaders = _build_loaders(plan, d)
    optim = _build_optimiser(plan, model, len(loaders.dl_train), d)  # + EMA; on resume their state, the RNG's
    t = _assemble(plan, model, loaders, optim, d, log, progress)     # DDP wrapper, AMP, loss, checkpoint metadata
    log(_start_line(plan, t))
    started = time.perf_counter()
    _epoch_loop(plan, t)                                            # train, validate, checkpoint every epoch
    return _finish(plan, t, started)                                # fuse, save the final model and the history


# The steps of ``train``, in the order it calls them. Their order is part of the behaviour: the random
# number generators are seeded, drawn from (model init) and restored (``--resume``) in this sequence.
@dataclass
class _Plan:
    """What ``train`` resolved before building anything: model spec, run folder, data, resumed state."""
    key: str
    cfg: TrainConfig
    spec: registry.ModelSpec
    data: object
    out: Path
    epochs: int
    train_set: object
    val_set: object
    classes: List[str]
    hints: Dict
    batch_size: int
    size: int
    resume: bool
    start_epoch: int = 1
    history: List[EpochRecord] = field(default_factory=list)
    state: Optional[Dict] = None              # last_state.pt of the run resumed
    info: Optional[CheckpointInfo] = None     # last.safetensors of the run resumed


@dataclass
class _Loaders:
    ds_val: object
    dl_train: object
    dl_val: object
    sampler_t: object                         # DistributedSampler under DDP, else None
    gen: object                               # the shuffling generator, re-seeded every epoch


@dataclass
class _Optim:
    optimizer: object
    scheduler: object
    ema: object                               # ModelEmaV3 or None
    lr: float
    opt: str
    weight_decay: float


@dataclass
class _Trainer:
    """The built run the epoch loop and the last step work on."""
    model: object
    train_model: object                       # model, or its DDP wrapper
    loss_fn: object
    loaders: _Loaders
    optim: _Optim
    d: Dist
    amp: object                               # a context-manager factory (autocast on CUDA)
    scaler: object                            # GradScaler on CUDA, else None
    meta: Dict[str, str]                      # the safetensors metadata of the checkpoints
    log: object
    progress: bool


def _silent(*args, **kwargs) -> None:
    """``log`` on DDP ranks other than 0."""


def _resolve(key: str, data, cfg: TrainConfig, out, resume: bool, overwrite: bool) -> _Plan:
    """The model spec, the run folder and the data, each checked; batch size and image size settled."""
    from helpers.training.datasets import check_same_classes, load_split

    spec = registry.get(key)
    epochs = int(cfg.epochs)
    if epochs < 1:
        raise HelpersError(f"--epochs must be at least 1, got {epochs}")
    if cfg.batch_size is not None and cfg.batch_size < 1:
        raise HelpersError(f"--batch-size must be at least 1, got {cfg.batch_size}")
    out = Path(out) if out is not None else default_out(key)
    _check_out(out, resume, overwrite)
    train_set, val_set = load_split(data, "train"), load_split(data, "val")
    if Path(train_set.root).resolve() == Path(val_set.root).resolve():
        raise HelpersError(f"{data} needs train/ and val/ sub-folders (ImageFolder each); "
                           "make the bundled ones with: python -m helpers data digits")
    check_same_classes(train_set, val_set)
    hints = train_set.info.get("train_hints", {}) if train_set.info else {}
    TrainConfig.from_hints(hints)  # a hostile dataset.json: one line naming the bad hint
    batch_size = int(cfg.batch_size or hints.get("batch_size") or BATCH_SIZE)
    size = int(cfg.img_size or train_set.info.get("size") or spec.input_size[0])
    if size < 32 or size % 2:
        raise HelpersError(f"--img-size must be even and at least 32 (the model's stride), got {size}")
    return _Plan(key, cfg, spec, data, out, epochs, train_set, val_set, list(train_set.classes), hints,
                 batch_size, size, resume)


def _restore(plan: _Plan) -> None:
    """``--resume``: the interrupted run's checkpoint and state, checked against this call."""
    out, classes = plan.out, plan.classes
    info = read_checkpoint_info(out / LAST)
    if info.key != plan.key:
        raise HelpersError(f"{rel_to_repo(out / LAST)} is a checkpoint of {info.key}, not {plan.key}; "
                           f"resume with KEY {info.key} or give another --out")
    if info.classes != classes:
        raise HelpersError(f"the run in {rel_to_repo(out)} was trained on classes {info.classes[:5]}... "
                           f"but {plan.data} has {classes[:5]}...; resume on the same data")
    if plan.cfg.img_size and int(plan.cfg.img_size) != info.img_size:
        raise HelpersError(f"the run in {rel_to_repo(out)} trains at {info.img_size} px; drop --img-size "
                           f"or pass {info.img_size}")
    plan.size = info.img_size
    if info.epoch >= plan.epochs:
        raise HelpersError(f"the run in {rel_to_repo(out)} has already trained {info.epoch} epochs; "
                           f"pass --epochs larger than {info.epoch} to continue it")
    plan.info, plan.state = info, _load_state(out / STATE)
    plan.start_epoch = info.epoch + 1
    plan.history = [EpochRecord(**h) for h in plan.state.get("history", [])]


def _build_model(plan: _Plan, d: Dist):
    """The model on its device; on resume the bare architecture, then the checkpoint's weights."""
    cfg = plan.cfg
    model = _init_model(plan.key, "random" if plan.resume else cfg.weights, len(plan.classes), cfg.seed,
                        plan.info.conv_branches if plan.resume else cfg.conv_branches)
    if plan.resume:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(plan.out / LAST)), strict=True)
    model.to(d.device)
    return model


def _build_loaders(plan: _Plan, d: Dist) -> _Loaders:
    """timm's training transform, the deployed validation transform, the data loaders (sharded under DDP)."""
    import torch
    from timm.data import create_transform

    cfg, hints, spec, size = plan.cfg, plan.hints, plan.spec, plan.size
    hflip = float(hints.get("hflip", 0.5) if cfg.hflip is None else cfg.hflip)
    color_jitter = cfg.color_jitter
    if color_jitter is None:  # timm: a float (brightness/contrast/saturation) or a 4-tuple with hue
        color_jitter = hints.get("color_jitter", COLOR_JITTER)
    color_jitter = tuple(color_jitter) if isinstance(color_jitter, (list, tuple)) else float(color_jitter)
    scale = tuple(cfg.scale or hints.get("scale") or (0.08, 1.0))
    train_tf = TrainTransform(create_transform(size, is_training=True, scale=scale, hflip=hflip,
                                               color_jitter=color_jitter, interpolation="bilinear",
                                               auto_augment=cfg.auto_augment,
                                               mean=spec.mean, std=spec.std))
    val_tf = DeployedTransform((size, size), spec.mean, spec.std)
    ds_train, ds_val = _Images(plan.train_set, train_tf), _Images(plan.val_set, val_tf)
    workers = default_workers() if cfg.workers is None else int(cfg.workers)
    sampler_t = sampler_v = None
    if d.world > 1:
        from torch.utils.data.distributed import DistributedSampler

        sampler_t = DistributedSampler(ds_train, shuffle=True, seed=cfg.seed, drop_last=True)
        sampler_v = val_shard(len(ds_val), d)
    gen = torch.Generator().manual_seed(cfg.seed)
    kw = dict(num_workers=workers, pin_memory=d.device.startswith("cuda"), persistent_workers=workers > 0)
    batch_size, per_rank = plan.batch_size, len(ds_train) // d.world
    dl_train = torch.utils.data.DataLoader(ds_train, batch_size=batch_size, shuffle=sampler_t is None,
                                           sampler=sampler_t, drop_last=per_rank > batch_size,
                                           generator=gen, **kw)
    dl_val = torch.utils.data.DataLoader(ds_val, batch_size=max(batch_size, 128), shuffle=False,
                                         sampler=sampler_v, **kw)
    return _Loaders(ds_val, dl_train, dl_val, sampler_t, gen)


def _build_optimiser(plan: _Plan, model, steps: int, d: Dist) -> _Optim:
    """Optimiser, scheduler (stepped per update) and EMA from timm's factories; on resume their saved state
    and the random number generator's."""
    import torch
    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2
    from timm.utils import ModelEmaV3

    cfg, hints, state = plan.cfg, plan.hints, plan.state
    global_batch = plan.batch_size * d.world
    if cfg.lr:
        lr = float(cfg.lr)
    elif cfg.lr_base:  # the recipe's lr for LR_BASE_BATCH, scaled linearly (mmpretrain auto_scale_lr)
        lr = float(cfg.lr_base) * global_batch / LR_BASE_BATCH
    elif "lr" in hints:  # the dataset's recipe (digits: from scratch), scaled linearly with the batch
        lr = float(hints["lr"]) * global_batch / float(hints.get("batch_size", global_batch))
    else:
        lr = LR_BASE * global_batch / LR_BASE_BATCH
    # optimiser and weight decay: argument, else the dataset's recipe hint, else AdamW defaults
    opt = str(cfg.opt or hints.get("opt") or "adamw")
    weight_decay = float(hints.get("weight_decay", WEIGHT_DECAY) if cfg.weight_decay is None else cfg.weight_decay)
    try:
        optimizer = create_optimizer_v2(model, opt, lr=lr, weight_decay=weight_decay)
    except (AssertionError, ValueError, KeyError) as e:
        raise HelpersError(f"--opt {brief(opt, 40)} is not a timm optimizer ({first_line(e, 80)}); "
                           "e.g. sgd, adamw, lamb") from None
    warmup_epochs = cfg.warmup_epochs
    if warmup_epochs is None:
        warmup_epochs = 1 if plan.epochs >= 3 else 0
    scheduler, _ = create_scheduler_v2(optimizer, cfg.sched, num_epochs=plan.epochs, warmup_epochs=warmup_epochs,
                                       warmup_lr=lr * cfg.warmup_lr_factor,
                                       min_lr=lr / 100 if cfg.min_lr is None else float(cfg.min_lr),
                                       warmup_prefix=cfg.warmup_prefix, step_on_epochs=False,
                                       updates_per_epoch=steps)
    if scheduler is None:
        raise HelpersError(f"sched {brief(cfg.sched, 40)} is not a timm scheduler; e.g. cosine, step, plateau")
    ema = ModelEmaV3(model, decay=cfg.ema_decay, device=d.device) if cfg.ema_decay > 0 else None
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None and state.get("ema"):
            ema.module.load_state_dict(state["ema"])
        if "rng" in state and d.main:
            torch.set_rng_state(state["rng"])  # rank 0's; the others continue from their own seed
        elif d.rank:
            torch.manual_seed(cfg.seed + d.rank + 1000 * plan.start_epoch)
    return _Optim(optimizer, scheduler, ema, lr, opt, weight_decay)


def _assemble(plan: _Plan, model, loaders: _Loaders, optim: _Optim, d: Dist, log, progress: bool) -> _Trainer:
    """The DDP wrapper (several processes), AMP (CUDA), the loss and the checkpoints' metadata."""
    import torch
    from timm.loss import LabelSmoothingCrossEntropy

    from helpers.pc.models import checkpoint_conv_branches

    cfg, cuda = plan.cfg, d.device.startswith("cuda")
    amp = (lambda: torch.autocast("cuda", dtype=torch.float16)) if cuda else nullcontext
    scaler = torch.amp.GradScaler("cuda") if cuda else None
    train_model = model
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(model, device_ids=[d.local_rank] if cuda else None)
    loss_fn = LabelSmoothingCrossEntropy(cfg.smoothing) if cfg.smoothing > 0 else torch.nn.CrossEntropyLoss()
    loss_fn = loss_fn.to(d.device)
    weights = str(cfg.weights)
    meta = {META_KEY: plan.key, META_CLASSES: json.dumps(plan.classes, ensure_ascii=False),
            META_IMG_SIZE: str(plan.size), META_EPOCHS: str(plan.epochs), META_REPARAMETERIZED: "false",
            META_INIT_WEIGHTS: weights if weights in ("imagenet", "random") else Path(weights).name}
    if plan.resume:
        meta[META_INIT_WEIGHTS] = plan.info.init_weights
    branches = checkpoint_conv_branches(model.state_dict())  # from the tensors: the stem always has one
    if branches is not None:
        meta[META_CONV_BRANCHES] = str(branches)
    return _Trainer(model, train_model, loss_fn, loaders, optim, d, amp, scaler, meta, log, progress)


def _start_line(plan: _Plan, t: _Trainer) -> str:
    o, d, cfg = t.optim, t.d, plan.cfg
    start = "resuming at epoch " + str(plan.start_epoch) if plan.resume else "weights " + t.meta[META_INIT_WEIGHTS]
    return (f"training {plan.key} ({start}) on "
            f"{len(plan.train_set)} train / {len(plan.val_set)} val images, {len(plan.classes)} classes, "
            f"{plan.size}x{plan.size}, {plan.epochs} epochs, {o.opt} batch {plan.batch_size} x {d.world}, "
            f"lr {o.lr:.2e}, weight decay {o.weight_decay:g}, {d.device}"
            + (f", recipe {cfg.recipe}" if cfg.recipe else ""))


def _epoch_loop(plan: _Plan, t: _Trainer) -> None:
    """Epochs ``start_epoch..epochs``: train, average BatchNorm statistics (DDP), validate, log, checkpoint."""
    import torch
    from timm.utils import distribute_bn

    d, o, seed = t.d, t.optim, plan.cfg.seed
    flush = torch.set_flush_denormal(True) if not d.device.startswith("cuda") else False  # denormals make CPU convs crawl
    num_updates = (plan.start_epoch - 1) * len(t.loaders.dl_train)
    try:
        for epoch in range(plan.start_epoch, plan.epochs + 1):
            t0 = time.perf_counter()
            t.loaders.gen.manual_seed(seed * 100003 + epoch)  # per-epoch order: a resumed run continues exactly
            if t.loaders.sampler_t is not None:
                t.loaders.sampler_t.set_epoch(epoch)
            if plan.cfg.weight_decay_end is not None:
                cosine_weight_decay(o.optimizer, epoch, plan.epochs, float(plan.cfg.weight_decay_end))
            total, count, num_updates = _train_epoch(plan, t, epoch, num_updates)
            if d.world > 1:  # DDP syncs gradients, not BatchNorm statistics: average them (as timm's train.py)
                distribute_bn(t.model, d.world, reduce=True)
                if o.ema is not None:
                    distribute_bn(o.ema.module, d.world, reduce=True)
            o.scheduler.step(epoch)
            loss_sum, loss_n = _all_sum([total, count], d)
            top1, top5 = _evaluate(t.model, t.loaders.dl_val, d, t.amp)
            ema_top1 = _evaluate(o.ema.module, t.loaders.dl_val, d, t.amp)[0] if o.ema is not None else None
            rec = EpochRecord(epoch, loss_sum / max(loss_n, 1), top1, top5, o.optimizer.param_groups[0]["lr"],
                              time.perf_counter() - t0, ema_top1)
            plan.history.append(rec)
            t.log(f"epoch {epoch}/{plan.epochs}: loss {rec.train_loss:.4f}, val top-1 {top1:.2f} %, top-5 {top5:.2f} %"
                  + (f", EMA top-1 {ema_top1:.2f} %" if ema_top1 is not None else "") + f" ({rec.seconds:.0f} s)")
            if d.main:
                _save_last(plan, t, epoch, top1)
    except Exception as e:
        if "Original Traceback" in str(e):  # re-raised by a data-loader worker: our one line, not its traceback
            raise HelpersError(unwrap_worker_error(e)) from None
        raise
    finally:
        if flush:
            torch.set_flush_denormal(False)


def _train_epoch(plan: _Plan, t: _Trainer, epoch: int, num_updates: int) -> Tuple[float, int, int]:
    """One pass over the training data: (loss sum, images, updates so far)."""
    import torch
    from tqdm.auto import tqdm

    d, o = t.d, t.optim
    t.train_model.train()
    total, count = 0.0, 0
    bar = tqdm(t.loaders.dl_train, desc=f"epoch {epoch}/{plan.epochs}", unit="batch", disable=not t.progress,
               leave=False)
    for x, y in bar:
        x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
        with t.amp():
            loss = t.loss_fn(t.train_model(x), y)
        if not torch.isfinite(loss):
            raise HelpersError(f"the loss became {loss.item()} at epoch {epoch}; lower the learning rate (--lr)")
        o.optimizer.zero_grad(set_to_none=True)
        if t.scaler is not None:
            t.scaler.scale(loss).backward()
            t.scaler.step(o.optimizer)
            t.scaler.update()
        else:
            loss.backward()
            o.optimizer.step()
        num_updates += 1
        o.scheduler.step_update(num_updates=num_updates)
        if o.ema is not None:
            o.ema.update(t.model, step=num_updates)
        total += loss.item() * y.numel()
        count += y.numel()
        bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{o.optimizer.param_groups[0]['lr']:.1e}")
    bar.close()
    return total, count, num_updates


def _save_last(plan: _Plan, t: _Trainer, epoch: int, top1: float) -> None:
    """The checkpoint of every epoch: weights (safetensors) + state (weights_only-loadable)."""
    import torch

    ema = t.optim.ema
    t.meta.update({META_EPOCH: str(epoch), META_VAL_TOP1: f"{top1:.4f}"})
    _save_weights(t.model, plan.out / LAST, t.meta)
    st = {"optimizer": t.optim.optimizer.state_dict(), "rng": torch.get_rng_state(),
          "history": [asdict(h) for h in plan.history], "epoch": epoch,
          "ema": ema.module.state_dict() if ema is not None else {}}
    with atomic_output(plan.out / STATE, overwrite=True, suffix=".pt") as tmp:
        torch.save(st, str(tmp))


def _finish(plan: _Plan, t: _Trainer, started: float) -> TrainResult:
    """Fuse (MobileOne), save the final model and the history, leave the process group."""
    import torch

    d, ema, history, out, meta = t.d, t.optim.ema, plan.history, plan.out, t.meta
    final = ema.module if ema is not None else t.model
    final = final.cpu().eval()
    reparam = False
    if plan.spec.reparameterizable:
        from helpers.pc.models import reparameterize, zero_dead_batchnorm

        dead = zero_dead_batchnorm(final)  # keeps the float function, keeps fused weights quantisable
        if dead:
            t.log(f"{dead} BatchNorm channels never varied in training: their scale set to 0 before fusing")
        final = reparameterize(final)
        reparam = True
    final_top1 = history[-1].ema_top1 if ema is not None else history[-1].val_top1
    if d.main:
        if reparam:  # the fused model must score what the unfused one scored
            val = torch.utils.data.DataLoader(t.loaders.ds_val, batch_size=128)
            final_top1 = _evaluate(final, val, Dist(), nullcontext)[0]
        meta.update({META_EPOCH: str(plan.epochs), META_REPARAMETERIZED: "true" if reparam else "false",
                     META_VAL_TOP1: f"{final_top1:.4f}"})
        _save_weights(final, out / FINAL, meta)
    result = TrainResult(key=plan.key, out=out, checkpoint=out / FINAL, last=out / LAST, classes=plan.classes,
                         img_size=plan.size, epochs=plan.epochs, epochs_run=plan.epochs - plan.start_epoch + 1,
                         start_epoch=plan.start_epoch, history=history, final_top1=final_top1,
                         reparameterized=reparam, seconds=time.perf_counter() - started,
                         init_weights=meta[META_INIT_WEIGHTS], device=d.device, world_size=d.world,
                         train_images=len(plan.train_set), val_images=len(plan.val_set))
    if d.main:
        doc = {k: v for k, v in asdict(result).items() if k not in ("out", "checkpoint", "last")}
        doc.update(checkpoint=FINAL, last=LAST)
        atomic_write_text(out / HISTORY, json.dumps(doc, indent=1, default=str) + "\n", overwrite=True)
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()
        if d.owns_group:
            dist.destroy_process_group()
    return result


# ------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------
def config_from_args(args) -> TrainConfig:
    """The TrainConfig of a ``train`` command line: the ``--recipe`` preset, overridden by the options given."""
    try:
        scale = tuple(float(v) for v in args.scale.split(",")) if args.scale else None
    except ValueError:
        scale = ()
    if scale is not None and len(scale) != 2:
        raise HelpersError(f"--scale takes two numbers MIN,MAX with 0 < MIN <= MAX <= 1, e.g. 0.08,1; got {brief(args.scale, 40)}")
    given = dict(epochs=args.epochs, img_size=args.img_size, weights=args.weights, batch_size=args.batch_size,
                 lr=args.lr, opt=args.opt, warmup_epochs=args.warmup_epochs, ema_decay=args.ema_decay,
                 hflip=args.hflip, conv_branches=args.conv_branches, scale=scale, workers=args.workers,
                 seed=args.seed)
    base = TrainConfig(**recipe_options(args.recipe, args.key)) if args.recipe else TrainConfig()
    return base.with_options(**{k: v for k, v in given.items() if v is not None}).fitted().validate()


def cmd_train(args) -> int:
    from helpers.training.datasets import DIGITS_DIR

    cfg = config_from_args(args)
    res = train(args.key, args.data or DIGITS_DIR, cfg, out=args.out, resume=args.resume, overwrite=args.overwrite)
    print(res.summary())
    print(f"next: python -m helpers eval {rel_to_repo(res.checkpoint)} --data {args.data or rel_to_repo(DIGITS_DIR)}")
    if res.key.startswith("mobileone"):
        print(published_reference())
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train a registry model on an ImageFolder (timm; DDP via torchrun)",
                       description="Train KEY on DIR/train, validate on DIR/val. Multi-GPU: torchrun "
                                   "--nproc_per_node 8 -m helpers train KEY --data DIR ...")
    p.add_argument("key", help="registry key (python -m helpers list)")
    p.add_argument("--data", help="dataset root with train/ and val/ ImageFolders (default: data/digits)")
    p.add_argument("--recipe", choices=sorted(RECIPES), help="a named preset (options given override it): "
                   "mmpretrain-mobileone = mmpretrain's configs/mobileone/mobileone-s0_8xb32_in1k.py in timm's terms")
    p.add_argument("--epochs", type=int, help="total epochs (default 10, or the recipe's)")
    p.add_argument("--img-size", type=int, help="training/deployment size in px (default: the dataset's, else the registry's)")
    p.add_argument("--weights", help="imagenet (timm pretrained; the default), random (from scratch) or a checkpoint PATH")
    p.add_argument("--out", help="run folder (default: runs/train/KEY)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    p.add_argument("--overwrite", action="store_true", help="start a new run over an existing one in --out")
    p.add_argument("--batch-size", type=int, help=f"per process (default: the dataset's hint, else {BATCH_SIZE})")
    p.add_argument("--lr", type=float, help=f"learning rate (default: the dataset's hint, else {LR_BASE:g} x global "
                                            f"batch / {LR_BASE_BATCH})")
    p.add_argument("--opt", help="timm optimizer name (create_optimizer_v2), e.g. adamw, sgd, lamb (default: the "
                                  "dataset's hint, else adamw)")
    p.add_argument("--warmup-epochs", type=int, help="linear warm-up epochs (default 1 when epochs >= 3)")
    p.add_argument("--conv-branches", type=int, help="MobileOne: k x k branches per block while training (default: "
                                                        "the model's, 4 for S0); the fused model is the same")
    p.add_argument("--ema-decay", type=float, help="keep an EMA of the weights (e.g. 0.9998); 0 = off (the default)")
    p.add_argument("--hflip", type=float, help="horizontal flip probability (default: dataset hint, else 0.5)")
    p.add_argument("--scale", help="random-resized-crop area range, e.g. 0.08,1 (default: dataset hint)")
    p.add_argument("--workers", type=int, help="data loader processes (default: cores - 1)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.set_defaults(func=cmd_train)

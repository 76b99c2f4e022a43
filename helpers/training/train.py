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
  continues from them;
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
from helpers.training.config import SMOOTHING, TrainConfig  # noqa: F401 - TrainConfig is part of this API
from helpers.training.distributed import Dist, all_sum as _all_sum, setup as _dist_setup, val_shard
from helpers.training.recipes import RECIPES, check_recipe_key, cosine_weight_decay, recipe_options
from helpers.board.files import REPO_ROOT, atomic_output, atomic_write_text, rel_to_repo

LAST = "last.safetensors"
STATE = "last_state.pt"
FINAL = "model.safetensors"
HISTORY = "train.json"

META_VAL_TOP1 = "rdk.val_top1"

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
# checkpoints
# ------------------------------------------------------------------------------------------------
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


def _save_weights(model, path: Path, meta: Dict[str, str]) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_output(path, overwrite=True, suffix=".safetensors") as tmp:
        save_file(state, str(tmp), metadata={k: str(v) for k, v in meta.items()})


def load_trained_model(path, expect_key: Optional[str] = None):
    """(model in eval mode, CheckpointInfo) from a ``train`` checkpoint (fused or not)."""

    info = read_checkpoint_info(path)
    if expect_key is not None and info.key != expect_key:
        raise HelpersError(f"{Path(path).name} is a checkpoint of {info.key}, not {expect_key}; "
                           f"use KEY {info.key} or another checkpoint")
    spec = registry.get(info.key)
    model = create_model(spec.key, str(path), num_classes=len(info.classes) or None)
    return model.eval(), info


# ------------------------------------------------------------------------------------------------
# data
# ------------------------------------------------------------------------------------------------
class _Images:
    """A torch-style dataset over an ImageSet: (transformed image, target)."""

    def __init__(self, images, transform):
        self.images, self.transform = images, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images.paths[i]), self.images.targets[i]


class DeployedTransform:
    """Path -> normalised CHW tensor, with the board's resize (what ``eval`` and the board see)."""

    def __init__(self, size: Tuple[int, int], mean, std):
        self.size, self.mean, self.std = size, mean, std

    def __call__(self, path):
        import torch

        from helpers.board.image import deployed_input

        return torch.from_numpy(deployed_input(path, self.size, self.mean, self.std)[0])


class TrainTransform:
    """Path -> augmented, normalised tensor with timm's training transform."""

    def __init__(self, tf):
        self.tf = tf

    def __call__(self, path):
        from PIL import Image

        from helpers.board.image import load_image

        return self.tf(Image.fromarray(load_image(path)))


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


def _load_state(path: Path) -> Dict:
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
    epochs, img_size, weights, batch_size = cfg.epochs, cfg.img_size, cfg.weights, cfg.batch_size
    lr, weight_decay, opt, sched, warmup_epochs = cfg.lr, cfg.weight_decay, cfg.opt, cfg.sched, cfg.warmup_epochs
    smoothing, ema_decay, hflip, scale, color_jitter = cfg.smoothing, cfg.ema_decay, cfg.hflip, cfg.scale, cfg.color_jitter
    conv_branches, workers, seed = cfg.conv_branches, cfg.workers, cfg.seed
    check_recipe_key(cfg.recipe, key)
    import torch
    from timm.data import create_transform
    from timm.loss import LabelSmoothingCrossEntropy
    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2
    from timm.utils import ModelEmaV3, distribute_bn
    from tqdm.auto import tqdm

    from helpers.training.datasets import check_same_classes, load_split

    spec = registry.get(key)
    epochs = int(epochs)
    if epochs < 1:
        raise HelpersError(f"--epochs must be at least 1, got {epochs}")
    if batch_size is not None and batch_size < 1:
        raise HelpersError(f"--batch-size must be at least 1, got {batch_size}")
    out = Path(out) if out is not None else default_out(key)
    _check_out(out, resume, overwrite)
    train_set, val_set = load_split(data, "train"), load_split(data, "val")
    if Path(train_set.root).resolve() == Path(val_set.root).resolve():
        raise HelpersError(f"{data} needs train/ and val/ sub-folders (ImageFolder each); "
                           "make the bundled ones with: python -m helpers data digits")
    check_same_classes(train_set, val_set)
    classes = list(train_set.classes)
    hints = train_set.info.get("train_hints", {}) if train_set.info else {}
    TrainConfig.from_hints(hints)  # a hostile dataset.json: one line naming the bad hint
    batch_size = int(batch_size or hints.get("batch_size") or BATCH_SIZE)
    size = int(img_size or train_set.info.get("size") or spec.input_size[0])
    if size < 32 or size % 2:
        raise HelpersError(f"--img-size must be even and at least 32 (the model's stride), got {size}")

    start_epoch, history, state = 1, [], None
    if resume:
        info = read_checkpoint_info(out / LAST)
        if info.key != key:
            raise HelpersError(f"{rel_to_repo(out / LAST)} is a checkpoint of {info.key}, not {key}; "
                               f"resume with KEY {info.key} or give another --out")
        if info.classes != classes:
            raise HelpersError(f"the run in {rel_to_repo(out)} was trained on classes {info.classes[:5]}... "
                               f"but {data} has {classes[:5]}...; resume on the same data")
        if img_size and int(img_size) != info.img_size:
            raise HelpersError(f"the run in {rel_to_repo(out)} trains at {info.img_size} px; drop --img-size "
                               f"or pass {info.img_size}")
        size = info.img_size
        if info.epoch >= epochs:
            raise HelpersError(f"the run in {rel_to_repo(out)} has already trained {info.epoch} epochs; "
                               f"pass --epochs larger than {info.epoch} to continue it")
        state = _load_state(out / STATE)
        start_epoch = info.epoch + 1
        history = [EpochRecord(**h) for h in state.get("history", [])]

    d = _dist_setup()
    if not d.main:
        log = (lambda *a, **k: None)  # noqa: E731
        progress = False
    torch.manual_seed(seed + d.rank)
    np.random.seed(seed + d.rank)
    # on resume the weights come from the checkpoint: build the bare architecture
    model = _init_model(key, "random" if resume else weights, len(classes), seed,
                        info.conv_branches if resume else conv_branches)
    if resume:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(out / LAST)), strict=True)
    model.to(d.device)
    cuda = d.device.startswith("cuda")
    amp = (lambda: torch.autocast("cuda", dtype=torch.float16)) if cuda else nullcontext
    scaler = torch.amp.GradScaler("cuda") if cuda else None

    hflip = float(hints.get("hflip", 0.5) if hflip is None else hflip)
    if color_jitter is None:  # timm: a float (brightness/contrast/saturation) or a 4-tuple with hue
        color_jitter = hints.get("color_jitter", COLOR_JITTER)
    color_jitter = tuple(color_jitter) if isinstance(color_jitter, (list, tuple)) else float(color_jitter)
    scale = tuple(scale or hints.get("scale") or (0.08, 1.0))
    train_tf = TrainTransform(create_transform(size, is_training=True, scale=scale, hflip=hflip,
                                               color_jitter=color_jitter, interpolation="bilinear",
                                               auto_augment=cfg.auto_augment,
                                               mean=spec.mean, std=spec.std))
    val_tf = DeployedTransform((size, size), spec.mean, spec.std)
    ds_train, ds_val = _Images(train_set, train_tf), _Images(val_set, val_tf)
    workers = default_workers() if workers is None else int(workers)
    sampler_t = sampler_v = None
    if d.world > 1:
        from torch.utils.data.distributed import DistributedSampler

        sampler_t = DistributedSampler(ds_train, shuffle=True, seed=seed, drop_last=True)
        sampler_v = val_shard(len(ds_val), d)
    gen = torch.Generator().manual_seed(seed)
    kw = dict(num_workers=workers, pin_memory=cuda, persistent_workers=workers > 0)
    per_rank = len(ds_train) // d.world
    dl_train = torch.utils.data.DataLoader(ds_train, batch_size=batch_size, shuffle=sampler_t is None,
                                           sampler=sampler_t, drop_last=per_rank > batch_size,
                                           generator=gen, **kw)
    dl_val = torch.utils.data.DataLoader(ds_val, batch_size=max(batch_size, 128), shuffle=False,
                                         sampler=sampler_v, **kw)

    global_batch = batch_size * d.world
    if lr:
        lr = float(lr)
    elif cfg.lr_base:  # the recipe's lr for LR_BASE_BATCH, scaled linearly (mmpretrain auto_scale_lr)
        lr = float(cfg.lr_base) * global_batch / LR_BASE_BATCH
    elif "lr" in hints:  # the dataset's recipe (digits: from scratch), scaled linearly with the batch
        lr = float(hints["lr"]) * global_batch / float(hints.get("batch_size", global_batch))
    else:
        lr = LR_BASE * global_batch / LR_BASE_BATCH
    # optimiser and weight decay: argument, else the dataset's recipe hint, else AdamW defaults
    opt = str(opt or hints.get("opt") or "adamw")
    weight_decay = float(hints.get("weight_decay", WEIGHT_DECAY) if weight_decay is None else weight_decay)
    try:
        optimizer = create_optimizer_v2(model, opt, lr=lr, weight_decay=weight_decay)
    except (AssertionError, ValueError, KeyError) as e:
        raise HelpersError(f"--opt {brief(opt, 40)} is not a timm optimizer ({first_line(e, 80)}); "
                           "e.g. sgd, adamw, lamb") from None
    steps = len(dl_train)
    if warmup_epochs is None:
        warmup_epochs = 1 if epochs >= 3 else 0
    scheduler, _ = create_scheduler_v2(optimizer, sched, num_epochs=epochs, warmup_epochs=warmup_epochs,
                                       warmup_lr=lr * cfg.warmup_lr_factor,
                                       min_lr=lr / 100 if cfg.min_lr is None else float(cfg.min_lr),
                                       warmup_prefix=cfg.warmup_prefix, step_on_epochs=False,
                                       updates_per_epoch=steps)
    if scheduler is None:
        raise HelpersError(f"sched {brief(sched, 40)} is not a timm scheduler; e.g. cosine, step, plateau")
    ema = ModelEmaV3(model, decay=ema_decay, device=d.device) if ema_decay > 0 else None
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        if ema is not None and state.get("ema"):
            ema.module.load_state_dict(state["ema"])
        if "rng" in state and d.main:
            torch.set_rng_state(state["rng"])  # rank 0's; the others continue from their own seed
        elif d.rank:
            torch.manual_seed(seed + d.rank + 1000 * start_epoch)
    train_model = model
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(model, device_ids=[d.local_rank] if cuda else None)
    loss_fn = LabelSmoothingCrossEntropy(smoothing) if smoothing > 0 else torch.nn.CrossEntropyLoss()
    loss_fn = loss_fn.to(d.device)

    meta = {META_KEY: key, META_CLASSES: json.dumps(classes, ensure_ascii=False), META_IMG_SIZE: str(size),
            META_EPOCHS: str(epochs), META_REPARAMETERIZED: "false", META_INIT_WEIGHTS: str(weights) if str(weights) in
            ("imagenet", "random") else Path(str(weights)).name}
    if resume:
        meta[META_INIT_WEIGHTS] = info.init_weights
    from helpers.pc.models import checkpoint_conv_branches

    branches = checkpoint_conv_branches(model.state_dict())  # from the tensors: the stem always has one
    if branches is not None:
        meta[META_CONV_BRANCHES] = str(branches)
    log(f"training {key} ({'resuming at epoch ' + str(start_epoch) if resume else 'weights ' + meta[META_INIT_WEIGHTS]}) on "
        f"{len(train_set)} train / {len(val_set)} val images, {len(classes)} classes, {size}x{size}, "
        f"{epochs} epochs, {opt} batch {batch_size} x {d.world}, lr {lr:.2e}, weight decay {weight_decay:g}, {d.device}"
        + (f", recipe {cfg.recipe}" if cfg.recipe else ""))
    flush = torch.set_flush_denormal(True) if not cuda else False  # denormals make CPU convs crawl
    started = time.perf_counter()
    num_updates = (start_epoch - 1) * steps
    try:
        for epoch in range(start_epoch, epochs + 1):
            t0 = time.perf_counter()
            gen.manual_seed(seed * 100003 + epoch)  # per-epoch order: a resumed run continues exactly
            if sampler_t is not None:
                sampler_t.set_epoch(epoch)
            if cfg.weight_decay_end is not None:
                cosine_weight_decay(optimizer, epoch, epochs, float(cfg.weight_decay_end))
            train_model.train()
            total, count = 0.0, 0
            bar = tqdm(dl_train, desc=f"epoch {epoch}/{epochs}", unit="batch", disable=not progress, leave=False)
            for x, y in bar:
                x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
                with amp():
                    loss = loss_fn(train_model(x), y)
                if not torch.isfinite(loss):
                    raise HelpersError(f"the loss became {loss.item()} at epoch {epoch}; lower the learning rate (--lr)")
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
                num_updates += 1
                scheduler.step_update(num_updates=num_updates)
                if ema is not None:
                    ema.update(model, step=num_updates)
                total += loss.item() * y.numel()
                count += y.numel()
                bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{optimizer.param_groups[0]['lr']:.1e}")
            bar.close()
            if d.world > 1:  # DDP syncs gradients, not BatchNorm statistics: average them (as timm's train.py)
                distribute_bn(model, d.world, reduce=True)
                if ema is not None:
                    distribute_bn(ema.module, d.world, reduce=True)
            scheduler.step(epoch)
            loss_sum, loss_n = _all_sum([total, count], d)
            top1, top5 = _evaluate(model, dl_val, d, amp)
            ema_top1 = _evaluate(ema.module, dl_val, d, amp)[0] if ema is not None else None
            rec = EpochRecord(epoch, loss_sum / max(loss_n, 1), top1, top5, optimizer.param_groups[0]["lr"],
                              time.perf_counter() - t0, ema_top1)
            history.append(rec)
            log(f"epoch {epoch}/{epochs}: loss {rec.train_loss:.4f}, val top-1 {top1:.2f} %, top-5 {top5:.2f} %"
                + (f", EMA top-1 {ema_top1:.2f} %" if ema_top1 is not None else "") + f" ({rec.seconds:.0f} s)")
            if d.main:  # checkpoint every epoch: weights (safetensors) + state (weights_only-loadable)
                meta.update({META_EPOCH: str(epoch), META_VAL_TOP1: f"{top1:.4f}"})
                _save_weights(model, out / LAST, meta)
                st = {"optimizer": optimizer.state_dict(), "rng": torch.get_rng_state(),
                      "history": [asdict(h) for h in history], "epoch": epoch,
                      "ema": ema.module.state_dict() if ema is not None else {}}
                with atomic_output(out / STATE, overwrite=True, suffix=".pt") as tmp:
                    torch.save(st, str(tmp))
    except Exception as e:
        if "Original Traceback" in str(e):  # re-raised by a data-loader worker: our one line, not its traceback
            raise HelpersError(unwrap_worker_error(e)) from None
        raise
    finally:
        if flush:
            torch.set_flush_denormal(False)

    final = ema.module if ema is not None else model
    final = final.cpu().eval()
    reparam = False
    if spec.reparameterizable:
        from helpers.pc.models import reparameterize, zero_dead_batchnorm

        dead = zero_dead_batchnorm(final)  # keeps the float function, keeps fused weights quantisable
        if dead:
            log(f"{dead} BatchNorm channels never varied in training: their scale set to 0 before fusing")
        final = reparameterize(final)
        reparam = True
    final_top1 = history[-1].ema_top1 if ema is not None else history[-1].val_top1
    if d.main:
        if reparam:  # the fused model must score what the unfused one scored
            final_top1 = _evaluate(final, torch.utils.data.DataLoader(ds_val, batch_size=128), Dist(), nullcontext)[0]
        meta.update({META_EPOCH: str(epochs), META_REPARAMETERIZED: "true" if reparam else "false", META_VAL_TOP1: f"{final_top1:.4f}"})
        _save_weights(final, out / FINAL, meta)
    result = TrainResult(key=key, out=out, checkpoint=out / FINAL, last=out / LAST, classes=classes, img_size=size,
                         epochs=epochs, epochs_run=epochs - start_epoch + 1, start_epoch=start_epoch,
                         history=history, final_top1=final_top1, reparameterized=reparam,
                         seconds=time.perf_counter() - started, init_weights=meta[META_INIT_WEIGHTS], device=d.device,
                         world_size=d.world, train_images=len(train_set), val_images=len(val_set))
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
def cmd_train(args) -> int:
    from helpers.training.datasets import DIGITS_DIR

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
    cfg = base.with_options(**{k: v for k, v in given.items() if v is not None}).fitted().validate()  # given options override the recipe
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

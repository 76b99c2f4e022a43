"""The recipe of a training run (:class:`TrainConfig`) and its allowed ranges. PC only, light to import.

:func:`helpers.training.train.train` takes a :class:`TrainConfig`; :meth:`TrainConfig.validate`
checks every option at the boundary (before any data is read or model built), and
:meth:`TrainConfig.from_hints` checks a dataset's ``dataset.json`` ``train_hints`` the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from helpers.errors import HelpersError, brief

SMOOTHING = 0.1
MAX_EPOCHS = 100_000
MAX_IMG_SIZE = 2048


@dataclass(frozen=True)
class TrainConfig:
    """The recipe of one training run. ``None`` means: the dataset's ``dataset.json`` hint, else timm's default.

    ``hflip``/``scale``/``color_jitter``/``batch_size``/``opt``/``lr``/``weight_decay`` default to the
    dataset's hints (the digits: no flips, crops keeping most of the digit, a from-scratch SGD
    recipe), else timm's ImageNet defaults (0.5, (0.08, 1)), AdamW and :data:`LR_BASE` scaled by the
    batch. ``conv_branches`` sets MobileOne's k while training (random weights only).
    """

    epochs: int = 10
    img_size: Optional[int] = None
    weights: str = "imagenet"
    batch_size: Optional[int] = None
    lr: Optional[float] = None
    weight_decay: Optional[float] = None
    opt: Optional[str] = None
    sched: str = "cosine"
    warmup_epochs: Optional[int] = None
    smoothing: float = SMOOTHING
    ema_decay: float = 0.0
    hflip: Optional[float] = None
    scale: Optional[Tuple[float, float]] = None
    color_jitter: object = None
    conv_branches: Optional[int] = None
    workers: Optional[int] = None
    seed: int = 0
    lr_base: Optional[float] = None          # lr for a global batch of LR_BASE_BATCH, scaled linearly (if lr is None)
    min_lr: Optional[float] = None           # cosine floor (default lr / 100)
    warmup_lr_factor: float = 0.1            # warm-up starts at lr x this
    weight_decay_end: Optional[float] = None  # cosine-anneal the weight decay to this by the last epoch
    auto_augment: Optional[str] = None       # timm RandAugment string, e.g. rand-m7-n2-mstd0.5-inc1
    warmup_prefix: bool = False              # the cosine starts after the warm-up (else it includes it)
    recipe: str = ""                         # the preset this config came from (recorded in the log)

    def with_options(self, **options) -> "TrainConfig":
        """A copy with ``options`` replaced; an unknown option names the known ones."""
        import dataclasses

        known = {f.name for f in dataclasses.fields(self)}
        bad = sorted(set(options) - known)
        if bad:
            raise HelpersError(f"unknown training option(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
        return dataclasses.replace(self, **options)

    def fitted(self) -> "TrainConfig":
        """A preset's warm-up shortened to fit a shorter run (the mmpretrain recipe warms up for 5 of its
        300 epochs; ``--recipe ... --epochs 2`` warms up for 1). Options the user set are not touched:
        only a config that came from a recipe is fitted, and ``validate`` still checks the result."""
        import dataclasses

        if self.recipe and self.warmup_epochs is not None and self.warmup_epochs >= int(self.epochs):
            return dataclasses.replace(self, warmup_epochs=max(int(self.epochs) - 1, 0))
        return self

    def validate(self, prefix: str = "--") -> "TrainConfig":
        """Every set field in its allowed range, else a one-line HelpersError naming the option (``prefix``
        + its command-line name) and the range. Returns ``self``; called before any work."""
        from helpers.board.checks import in_range

        def name(field_name: str) -> str:
            return prefix + (field_name.replace("_", "-") if prefix == "--" else field_name)

        in_range(name("epochs"), self.epochs, 1, MAX_EPOCHS, integer=True)
        in_range(name("img_size"), self.img_size, 32, MAX_IMG_SIZE, integer=True,
                 hint="even, at least the model's stride 32")
        if self.img_size is not None and self.img_size % 2:
            raise HelpersError(f"{name('img_size')} must be even (NV12 needs even sizes), got {self.img_size}")
        in_range(name("batch_size"), self.batch_size, 1, 65536, integer=True)
        in_range(name("lr"), self.lr, 0, 10, lo_open=True)
        in_range(name("weight_decay"), self.weight_decay, 0, 1)
        in_range(name("warmup_epochs"), self.warmup_epochs, 0, max(int(self.epochs) - 1, 0), integer=True,
                 hint="fewer than --epochs")
        in_range(name("smoothing"), self.smoothing, 0, 1, hi_open=True)
        in_range(name("ema_decay"), self.ema_decay, 0, 1, hi_open=True)
        in_range(name("hflip"), self.hflip, 0, 1, hint="a probability")
        if self.scale is not None:
            sc = self.scale
            if not isinstance(sc, (list, tuple)) or len(sc) != 2:
                raise HelpersError(f"{name('scale')} takes two numbers MIN,MAX with 0 < MIN <= MAX <= 1, e.g. 0.08,1")
            in_range(name("scale") + " MIN", sc[0], 0, 1, lo_open=True)
            in_range(name("scale") + " MAX", sc[1], 0, 1, lo_open=True)
            if sc[0] > sc[1]:
                raise HelpersError(f"{name('scale')} {sc[0]:g},{sc[1]:g}: MIN must not exceed MAX "
                                   "(a crop-area range, e.g. 0.08,1)")
        cj = self.color_jitter
        for v in (cj if isinstance(cj, (list, tuple)) else [cj]):
            in_range(name("color_jitter"), v, 0, 1)
        if isinstance(cj, (list, tuple)) and len(cj) not in (3, 4):
            raise HelpersError(f"{name('color_jitter')} takes one number or 3/4 (brightness, contrast, saturation[, hue])")
        in_range(name("conv_branches"), self.conv_branches, 1, 16, integer=True)
        in_range(name("workers"), self.workers, 0, 64, integer=True)
        in_range(name("seed"), self.seed, 0, 2 ** 32 - 1, integer=True)
        for f in ("weights", "sched") + (("opt",) if self.opt is not None else ()):
            if not isinstance(getattr(self, f), str) or not getattr(self, f):
                raise HelpersError(f"{name(f)} must be a name, got {brief(getattr(self, f), 40)}")
        return self

    @classmethod
    def from_hints(cls, hints) -> "TrainConfig":
        """The recipe fields a dataset's ``train_hints`` set (the rest default), validated."""
        import dataclasses

        if not isinstance(hints, dict):
            raise HelpersError(f"dataset.json train_hints must be a mapping, got {brief(hints, 40)}")
        known = {f.name for f in dataclasses.fields(cls)}
        given = {k: (tuple(v) if isinstance(v, list) else v) for k, v in hints.items() if k in known}
        return cls(**given).validate(prefix="dataset.json train_hints.")

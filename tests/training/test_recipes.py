"""``train --recipe mmpretrain-mobileone``: the preset's values reach timm's optimiser, schedule and EMA."""
import json
import math
import re
import shlex

import pytest
import torch

from helpers.board import registry
from helpers.board.files import REPO_ROOT
from helpers.cli import build_parser
from helpers.errors import HelpersError
from helpers.training import recipes
from helpers.training import train as T
from test_train import KW, make_dataset


def test_preset_values_are_mmpretrains():
    """The values of configs/mobileone/mobileone-s0_8xb32_in1k.py and its bases (read in mmpretrain ee7f2e88)."""
    cfg = T.TrainConfig(**recipes.recipe_options("mmpretrain-mobileone", "mobileone_s0"))
    assert (cfg.epochs, cfg.batch_size, cfg.opt, cfg.lr_base, cfg.weight_decay, cfg.weight_decay_end) == \
        (300, 32, "momentum", 0.1, 1e-4, 1e-5)
    assert (cfg.warmup_epochs, cfg.warmup_lr_factor, cfg.warmup_prefix, cfg.min_lr) == (5, 1e-3, True, 1e-6)
    assert (cfg.smoothing, cfg.ema_decay, cfg.hflip, cfg.scale, cfg.color_jitter, cfg.auto_augment) == \
        (0.1, 0.9995, 0.5, (0.08, 1.0), 0.0, None)
    assert cfg.weights == "random" and cfg.img_size == 224
    s4 = recipes.recipe_options("mmpretrain-mobileone", "mobileone_s4")
    assert s4["auto_augment"] == "rand-m7-n2-mstd0.5-inc1"
    with pytest.raises(HelpersError, match="known: mmpretrain-mobileone"):
        recipes.recipe_options("mmpretrain", "mobileone_s0")
    with pytest.raises(HelpersError, match="not a MobileOne key"):
        recipes.recipe_options("mmpretrain-mobileone", "mobilenetv1_100")


def test_cosine_weight_decay_follows_mmengines_schedule():
    """CosineAnnealingParamScheduler(weight_decay, eta_min=1e-5, begin=0, end=300), by epoch."""
    opt = torch.optim.SGD([{"params": [torch.zeros(1)], "weight_decay": 0.0},
                           {"params": [torch.zeros(1)], "weight_decay": 1e-4}], lr=0.1)
    got = []
    for epoch in (1, 151, 300):
        recipes.cosine_weight_decay(opt, epoch, 300, 1e-5)
        got.append(opt.param_groups[1]["weight_decay"])
        assert opt.param_groups[0]["weight_decay"] == 0.0
    assert got[0] == pytest.approx(1e-4) and got[1] == pytest.approx(5.5e-5)
    assert got[2] == pytest.approx(1e-5 + 9e-5 * (1 + math.cos(math.pi * 299 / 300)) / 2)


def test_training_with_the_preset(tmp_path):
    cfg = T.TrainConfig(**recipes.recipe_options("mmpretrain-mobileone", "mobileone_s0"))
    data = make_dataset(tmp_path / "data")
    kw = {**KW, "img_size": 32, "batch_size": 4}
    T.train("mobileone_s0", data, cfg, out=tmp_path / "run", epochs=1, conv_branches=1, **kw)
    state = torch.load(str(tmp_path / "run" / T.STATE), map_location="cpu", weights_only=True)
    groups = state["optimizer"]["param_groups"]
    decayed = [g for g in groups if g["weight_decay"] > 0]
    assert [g["weight_decay"] for g in groups if g not in decayed] == [0.0]      # no decay on BatchNorm / biases
    assert decayed and decayed[0]["initial_weight_decay"] == 1e-4                # the schedule ran
    assert decayed[0]["momentum"] == 0.9 and decayed[0]["nesterov"] is False
    assert state["ema"]                                                         # EMAHook -> ModelEmaV3
    # lr: 0.1 per 256 images -> 0.1 * 4 / 256 (timm keeps the base value as 'initial_lr')
    assert decayed[0]["initial_lr"] == pytest.approx(0.1 * 4 / 256)


def test_cli_options_override_the_recipe(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(T, "train", lambda key, data, cfg, **kw: seen.setdefault("cfg", cfg) and (_ for _ in ()).throw(SystemExit(0)))
    from helpers.cli import main

    with pytest.raises(SystemExit):
        main(["train", "mobileone_s0", "--recipe", "mmpretrain-mobileone", "--epochs", "3", "--data", str(tmp_path)])
    cfg = seen["cfg"]
    assert cfg.epochs == 3 and cfg.lr_base == 0.1 and cfg.recipe == "mmpretrain-mobileone" and cfg.ema_decay == 0.9995


# ------------------------------------------------------------------------------------------------
# the ImageNet command shown to readers is the preset
# ------------------------------------------------------------------------------------------------
TRAIN_NOTEBOOK = REPO_ROOT / "notebooks" / "MobileOne" / "train_MobileOne.ipynb"
#: a command in backticks (markdown; it may wrap over lines), or on a line of its own (a literal block)
COMMAND = re.compile(r"`((?:torchrun|python)\b[^`]*?-m helpers train\b[^`]*)`|^[ \t]*((?:torchrun|python)\b.*?-m helpers train\b[^#\n]*)",
                     re.MULTILINE)


def _notebook_text(path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells)


def _imagenet_commands(text):
    """(launcher tokens, parsed ``train`` arguments) of every ``-m helpers train`` command whose ``--data``
    is an ImageNet folder."""
    found = []
    for m in COMMAND.finditer(text):
        tokens = shlex.split(" ".join((m.group(1) or m.group(2)).split()))
        i = tokens.index("-m")
        args = build_parser().parse_args(tokens[i + 2:])
        if "imagenet" in (args.data or "").lower():
            found.append((tokens[:i], args))
    return found


@pytest.mark.parametrize("source", ["notebook", "train module doc"])
def test_the_imagenet_command_shown_is_the_preset(source):
    """Where an ImageNet training command is shown, it is ``--recipe mmpretrain-mobileone`` with nothing
    overriding the preset, on as many processes as the published config has GPUs (``..._8xb32_...``)."""
    text = _notebook_text(TRAIN_NOTEBOOK) if source == "notebook" else T.__doc__
    commands = _imagenet_commands(text)
    assert commands, f"no ImageNet training command in the {source}"
    gpus, per_gpu = (int(v) for v in re.search(r"_(\d+)xb(\d+)_", registry.MOBILEONE_MMPRETRAIN["config"]).groups())
    for launcher, args in commands:
        assert args.recipe == "mmpretrain-mobileone", f"{source}: {args}"
        preset = T.TrainConfig(**recipes.recipe_options(args.recipe, args.key))
        assert T.config_from_args(args) == preset, f"{source}: the command's options override the preset"
        assert args.key.replace("_", "-") in registry.MOBILEONE_MMPRETRAIN["config"]
        assert launcher[:1] == ["torchrun"] and launcher[launcher.index("--nproc_per_node") + 1] == str(gpus)
        assert preset.batch_size == per_gpu


def test_a_command_that_overrides_the_preset_is_caught():
    """The old notebook text (before the preset existed) fails the check above."""
    old = ("`torchrun --nproc_per_node 8 -m helpers train mobileone_s0 --data /data/imagenet\n"
           "  --weights random --epochs 300 --batch-size 128 --img-size 224 --ema-decay 0.9998`")
    (launcher, args), = _imagenet_commands(old)
    assert args.recipe is None and T.config_from_args(args) != T.TrainConfig(**recipes.RECIPES["mmpretrain-mobileone"])
    (_, args), = _imagenet_commands(old.replace("--weights random", "--recipe mmpretrain-mobileone"))
    assert T.config_from_args(args) != T.TrainConfig(**recipes.recipe_options(args.recipe, args.key))

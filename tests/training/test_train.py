"""Training: checkpoints, re-parameterisation, resume, and the bad inputs of the issue."""
import json

import cv2
import numpy as np
import pytest
import torch

from helpers.training import train as T
from helpers.cli import main
from helpers.errors import HelpersError

SIZE = 32
CLASSES = ("circle", "square", "stripe")


def _image(kind, rng):
    img = np.full((SIZE, SIZE, 3), rng.integers(0, 120, 3), np.uint8)
    colour = tuple(int(v) for v in rng.integers(130, 256, 3))
    if kind == "circle":
        cv2.circle(img, (16, 16), 10, colour, -1)
    elif kind == "square":
        cv2.rectangle(img, (6, 6), (25, 25), colour, -1)
    else:
        img[:, 12:20] = colour
    return img


def make_dataset(root, classes=CLASSES, n_train=4, n_val=2, seed=0):
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                assert cv2.imwrite(str(root / split / c / f"{i}.png"), _image(c, rng)[:, :, ::-1])
    return root


KW = dict(img_size=SIZE, weights="random", batch_size=4, workers=0, progress=False, log=lambda *a, **k: None)


@pytest.fixture(scope="module")
def run1(tmp_path_factory):
    """One epoch of mobileone_s0 on the tiny set (shared by several tests; not modified by them)."""
    root = tmp_path_factory.mktemp("train")
    data = make_dataset(root / "data")
    res = T.train("mobileone_s0", data, epochs=1, out=root / "run", **KW)
    return data, res


def test_checkpoints_carry_key_classes_size_epoch(run1):
    data, res = run1
    last = T.read_checkpoint_info(res.last)
    assert (last.key, last.classes, last.img_size, last.epoch) == ("mobileone_s0", list(CLASSES), SIZE, 1)
    assert not last.reparameterized and last.conv_branches == 4   # S0 trains with four k x k branches
    final = T.read_checkpoint_info(res.checkpoint)
    assert final.reparameterized and final.epoch == 1
    state = torch.load(str(res.out / T.STATE), map_location="cpu", weights_only=True)
    assert state["epoch"] == 1 and len(state["history"]) == 1
    doc = json.loads((res.out / T.HISTORY).read_text())
    assert doc["epochs"] == 1 and doc["classes"] == list(CLASSES)


def test_final_model_is_fused_and_equals_the_unfused_one(run1):
    import timm
    from safetensors.torch import load_file

    from helpers.pc.models import multi_branch_modules

    data, res = run1
    fused, info = T.load_trained_model(res.checkpoint)
    assert not multi_branch_modules(fused)
    unfused = timm.create_model("mobileone_s0", num_classes=len(CLASSES))
    unfused.load_state_dict(load_file(str(res.last)))
    unfused.eval()
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        a, b = unfused(x), fused(x)
    assert (a - b).abs().max().item() <= 1e-3 * max(a.abs().max().item(), 1.0)


def test_fewer_training_branches_fuse_to_the_same_network(run1, tmp_path):
    """--conv-branches 1 (the demo's choice): the checkpoint says so, loads unfused and fused, and the
    fused network has exactly the tensors of a fused default (k = 4) MobileOne-S0."""
    import timm

    from helpers.pc.models import checkpoint_conv_branches, reparameterize

    data, _ = run1
    res = T.train("mobileone_s0", data, epochs=1, out=tmp_path / "k1", conv_branches=1, **KW)
    last = T.read_checkpoint_info(res.last)
    assert last.conv_branches == 1 and T.read_checkpoint_info(res.checkpoint).conv_branches == 1
    from safetensors.torch import load_file

    assert checkpoint_conv_branches(load_file(str(res.last))) == 1
    unfused, _ = T.load_trained_model(res.last)      # rebuilt with one branch, not timm's four
    fused, _ = T.load_trained_model(res.checkpoint)
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        a, b = unfused(x), fused(x)
    assert (a - b).abs().max().item() <= 1e-3 * max(a.abs().max().item(), 1.0)
    default = reparameterize(timm.create_model("mobileone_s0", num_classes=len(CLASSES)))
    want = {k: tuple(v.shape) for k, v in default.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in fused.state_dict().items()} == want
    with pytest.raises(HelpersError, match="MobileOne only"):
        T.train("mobilenetv1_100", data, epochs=1, out=tmp_path / "v1", conv_branches=1, **KW)
    with pytest.raises(HelpersError, match=r"--conv-branches must be an integer in \[1, 16\]"):
        T.train("mobileone_s0", data, epochs=1, out=tmp_path / "k0", conv_branches=0, **KW)
    with pytest.raises(HelpersError, match="random weights only"):
        T.train("mobileone_s0", data, epochs=1, out=tmp_path / "pre", conv_branches=1,
                **{**KW, "weights": str(res.checkpoint)})


def test_dead_batchnorm_channels_lose_their_scale_and_nothing_else():
    """A channel that never varied outputs beta whatever gamma is: zeroing gamma keeps the output
    and stops fusing from folding gamma / sqrt(eps) (here 10 / sqrt(1e-5) ~ 3162) into the weights."""
    from helpers.pc.models import zero_dead_batchnorm

    bn = torch.nn.BatchNorm2d(4).eval()
    with torch.no_grad():
        bn.running_var.copy_(torch.tensor([1.0, 0.0, 0.5, 1e-13]))
        bn.running_mean.copy_(torch.tensor([0.0, 0.0, 0.2, 0.3]))
        bn.weight.copy_(torch.tensor([1.0, 10.0, 2.0, 5.0]))
    x = torch.randn(2, 4, 3, 3)
    x[:, 1] = 0.0      # the dead channel's input: constant, equal to its running mean
    x[:, 3] = 0.3
    before = bn(x)
    scale_before = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).abs().max().item()
    assert zero_dead_batchnorm(bn) == 2
    assert torch.allclose(bn(x), before, atol=1e-4)   # before: rounding noise x 1581 on channel 3
    assert bn.weight.tolist() == [1.0, 0.0, 2.0, 0.0]
    assert (bn.weight / torch.sqrt(bn.running_var + bn.eps)).abs().max().item() < scale_before / 100


def test_resume_continues_instead_of_restarting(run1, tmp_path):
    import shutil

    data, res = run1
    out = tmp_path / "run"
    shutil.copytree(res.out, out)               # the "interrupted" run: 1 epoch done
    before = torch.load(str(out / T.STATE), map_location="cpu", weights_only=True)
    steps_per_epoch = max(int(s["step"]) for s in before["optimizer"]["state"].values())
    res2 = T.train("mobileone_s0", data, epochs=2, out=out, resume=True, **KW)
    assert (res2.start_epoch, res2.epochs_run, len(res2.history)) == (2, 1, 2)
    assert res2.history[0].train_loss == pytest.approx(res.history[0].train_loss)   # kept, not re-run
    after = torch.load(str(out / T.STATE), map_location="cpu", weights_only=True)
    # the optimizer state was restored: Adam's step counters went on from epoch 1
    assert max(int(s["step"]) for s in after["optimizer"]["state"].values()) == 2 * steps_per_epoch
    assert T.read_checkpoint_info(out / T.LAST).epoch == 2
    with pytest.raises(HelpersError, match="already trained 2 epochs"):
        T.train("mobileone_s0", data, epochs=2, out=out, resume=True, **KW)


def test_resume_with_a_checkpoint_of_another_model_key(run1, tmp_path):
    import shutil

    data, res = run1
    shutil.copytree(res.out, tmp_path / "run")
    with pytest.raises(HelpersError, match="checkpoint of mobileone_s0, not mobilenetv1_100"):
        T.train("mobilenetv1_100", data, epochs=2, out=tmp_path / "run", resume=True, **KW)
    with pytest.raises(HelpersError, match="checkpoint of mobileone_s0, not mobilenetv1_100"):
        T.load_trained_model(res.checkpoint, expect_key="mobilenetv1_100")
    with pytest.raises(HelpersError, match="checkpoint of mobileone_s0, not mobilenetv1_100"):
        T.train("mobilenetv1_100", data, epochs=1, out=tmp_path / "other", **{**KW, "weights": str(res.last)})


def test_existing_run_is_not_overwritten(run1):
    data, res = run1
    with pytest.raises(HelpersError, match="--resume.*--overwrite"):
        T.train("mobileone_s0", data, epochs=1, out=res.out, **KW)


def test_nothing_to_resume(tmp_path, run1):
    data, _ = run1
    with pytest.raises(HelpersError, match="nothing to resume"):
        T.train("mobileone_s0", data, epochs=1, out=tmp_path / "empty", resume=True, **KW)


def test_zero_epochs_is_refused(tmp_path, capsys):
    with pytest.raises(HelpersError, match=r"--epochs must be an integer in \[1, 100000\], got 0"):
        T.train("mobileone_s0", tmp_path, epochs=0)
    assert main(["train", "mobileone_s0", "--data", str(tmp_path), "--epochs", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0] == "error: --epochs must be an integer in [1, 100000], got 0"


def test_bad_data_folders(tmp_path):
    one = make_dataset(tmp_path / "one", classes=("only",))
    with pytest.raises(HelpersError, match="only one class"):
        T.train("mobileone_s0", one, epochs=1, out=tmp_path / "r1", **KW)
    differ = make_dataset(tmp_path / "differ")
    (differ / "val" / "stripe").rename(differ / "val" / "zigzag")
    with pytest.raises(HelpersError, match="val classes differ from training"):
        T.train("mobileone_s0", differ, epochs=1, out=tmp_path / "r2", **KW)
    empty = make_dataset(tmp_path / "empty")
    (empty / "train" / "blank").mkdir()
    with pytest.raises(HelpersError, match="no images.*blank"):
        T.train("mobileone_s0", empty, epochs=1, out=tmp_path / "r3", **KW)
    flat = make_dataset(tmp_path / "flat")
    with pytest.raises(HelpersError, match="train/ and val/"):
        T.train("mobileone_s0", flat / "train", epochs=1, out=tmp_path / "r4", **KW)


def test_published_reference_is_labelled_published():
    from helpers.board import registry

    pub = registry.MOBILEONE_MMPRETRAIN
    line = T.published_reference()
    assert line.startswith("published") and f"top-1 {pub['top1']}" in line and f"FPS {pub['fps']}" in line

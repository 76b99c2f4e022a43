"""Checkpoints in the layouts people have (timm, Apple unfused/fused, mmpretrain training/deploy/full
state), recognised by key names, exported with parity against the projects' own networks.

The reference networks are our re-implementations in ``mobileone_refs.py`` (names, shapes and forward
of apple/ml-mobileone ``mobileone.py`` and mmpretrain ``mmpretrain/models/backbones/mobileone.py`` +
``mmpretrain/models/utils/se_layer.py``); see that file for the commits read.
"""
import collections
import re
import sys
import types
import warnings

import numpy as np
import pytest

from helpers.board import registry
from helpers.board.runtime import OrtBackend
from helpers.errors import HelpersError
from helpers.pc import checkpoints, export, models

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")
import mobileone_refs as R  # noqa: E402  (pytest puts this folder on sys.path: no __init__.py here)

SIZE = 32          # the export and the comparisons run at 32x32: MobileOne is fully convolutional
CLASSES = 7        # a small head; its size must be read from the checkpoint
RTOL = 1e-4


@pytest.fixture(scope="module", autouse=True)
def _flush_denormal():
    """Random-weight MobileOne makes denormal floats, which slow CPU convolutions ~40x (train does the same)."""
    flushed = torch.set_flush_denormal(True)
    yield
    if flushed:
        torch.set_flush_denormal(False)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", models.RandomWeightsWarning)
        yield


def _settled(net, seed=0):
    """Random-init MobileOne explodes without residuals: settle BatchNorm on normalised noise."""
    spec = registry.get("mobileone_s0")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in net.modules():  # distinct BatchNorm affine values, so that a swapped tensor shows
            if isinstance(m, torch.nn.BatchNorm2d):
                torch.nn.init.uniform_(m.weight, 0.9, 1.1)
                torch.nn.init.uniform_(m.bias, -0.02, 0.02)
    return models.settle_batchnorm(net, (SIZE, SIZE), spec.mean, spec.std, seed=seed)


def _x(seed=1):
    return models.parity_input("mobileone_s0", (SIZE, SIZE), seed)


def _check_onnx_parity(key, path, ref, tmp_path):
    """Export ``path`` like ``python -m helpers export KEY --weights FILE``; its ONNX vs ``ref``."""
    r = export.export_onnx(key, weights=path, out=tmp_path / f"{path.stem}.onnx", input_size=(SIZE, SIZE))
    assert r.num_classes == CLASSES
    for seed in (1, 2):
        x = _x(seed)
        want = models.torch_forward(ref, x)
        got = OrtBackend(r.path).run(np.ascontiguousarray(x.numpy()))[0]
        _, rel = models.relative_error(want, got)
        assert rel <= RTOL, (path.name, rel)
        assert int(want.argmax()) == int(got.argmax())


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def s0():
    """S0 in both projects' forms, trained-looking (settled) weights; fused forms by their own code."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        apple = _settled(R.AppleMobileOne("s0", CLASSES).eval())
        mm = _settled(R.MMImageClassifier("s0", CLASSES).eval(), seed=1)
    import copy

    return dict(apple=apple, apple_fused=R.apple_reparameterize(apple), mm=mm,
                mm_deploy=copy.deepcopy(mm).switch_to_deploy())


def test_reference_layouts_match_the_sources(s0):
    """A few names and shapes read in the projects' sources, so the references cannot drift."""
    a, f, m = s0["apple"].state_dict(), s0["apple_fused"].state_dict(), s0["mm"].state_dict()
    assert a["stage0.rbr_conv.0.conv.weight"].shape == (48, 3, 3, 3) and "stage0.rbr_conv.1.conv.weight" not in a
    assert a["stage1.0.rbr_conv.3.conv.weight"].shape == (48, 1, 3, 3)    # S0: four branches
    assert "stage1.0.rbr_skip.weight" not in a and a["stage1.1.rbr_skip.weight"].shape == (48,)
    assert a["linear.weight"].shape == (CLASSES, 1024) and len(a) == 1323
    assert list(f)[:2] == ["stage0.reparam_conv.weight", "stage0.reparam_conv.bias"] and len(f) == 88
    assert m["backbone.stage1.0.branch_conv_list.3.norm.running_var"].shape == (48,)
    assert m["backbone.stage3.3.branch_norm.weight"].shape == (256,) and "backbone.stage4.1.branch_norm.weight" not in m
    assert m["head.fc.weight"].shape == (CLASSES, 1024) and len(m) == 1323
    assert "backbone.stage4.1.branch_scale.conv.weight" not in m   # 1x1 blocks have no scale branch
    assert set(s0["mm_deploy"].state_dict()) >= {"backbone.stage0.branch_reparam.weight", "head.fc.bias"}
    x = _x()
    for fused, unfused in (("apple_fused", "apple"), ("mm_deploy", "mm")):  # their fusing is exact
        assert models.relative_error(models.torch_forward(s0[unfused], x), models.torch_forward(s0[fused], x))[1] <= RTOL


@pytest.mark.parametrize("form,file,wrap,layout", [
    ("apple", "mobileone_s0_unfused.pth.tar", None, "Apple ml-mobileone MobileOne, unfused"),
    ("apple_fused", "mobileone_s0.pth.tar", None, "Apple ml-mobileone MobileOne, re-parameterised"),
    ("mm", "epoch_300.pth", "state_dict", "mmpretrain MobileOne, training"),
    ("mm_deploy", "mobileone-s0_deploy.pth", "state_dict", "mmpretrain MobileOne, deploy"),
])
def test_each_layout_exports_with_parity(s0, tmp_path, capsys, form, file, wrap, layout):
    state = s0[form].state_dict()
    torch.save({"meta": {"epoch": 300}, wrap: state} if wrap else state, tmp_path / file)
    _check_onnx_parity("mobileone_s0", tmp_path / file, s0[form], tmp_path)
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(file)]
    assert line and f"{layout} layout" in line[0], line


def test_key_order_does_not_matter(s0, tmp_path):
    """Apple's names sorted (a re-saved dict, or safetensors, which loads sorted) map the same."""
    from safetensors.torch import save_file

    state = s0["apple"].state_dict()
    torch.save(state, tmp_path / "apple.pth.tar")
    shuffled = dict(sorted(state.items(), key=lambda kv: kv[0][::-1]))
    torch.save(shuffled, tmp_path / "shuffled.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "apple.safetensors"))
    ref = models.create_model("mobileone_s0", tmp_path / "apple.pth.tar")
    _same_weights(models.create_model("mobileone_s0", tmp_path / "shuffled.pth"), ref)
    _same_weights(models.create_model("mobileone_s0", tmp_path / "apple.safetensors"), ref)


def test_timm_wrapped_with_module_prefix(s0, tmp_path, capsys):
    """A DDP-saved timm checkpoint ({'model': {'module.stem...'}}) loads the same tensors."""
    ref = models.create_model("mobileone_s0", _save(tmp_path / "a.pth", s0["apple"].state_dict()))
    torch.save({"model": {"module." + k: v for k, v in ref.state_dict().items()}, "epoch": 3}, tmp_path / "ddp.pth")
    capsys.readouterr()
    _same_weights(models.create_model("mobileone_s0", tmp_path / "ddp.pth"), ref)
    out = capsys.readouterr().out
    assert "timm MobileOne, unfused layout" in out and "from 'model', 'module.' prefix removed" in out


def _save(path, obj):
    torch.save(obj, path)
    return path


# ------------------------------------------------------------------------------------------------
# mmengine's full training state, pickled with stand-ins named like mmengine's classes
# ------------------------------------------------------------------------------------------------
RAN = []


class HistoryBuffer:
    """Same module and qualname as mmengine/logging/history_buffer.py's class (so the same pickle)."""

    def __init__(self, log_history=(), count_history=(), max_length=1000000):
        self.max_length = max_length
        self._log_history = np.array(log_history)
        self._count_history = np.array(count_history)

    def __setstate__(self, state):  # not in mmengine; only here to see whether loading runs our code
        RAN.append("HistoryBuffer.__setstate__")
        self.__dict__.update(state)


@pytest.fixture
def fake_mmengine(monkeypatch):
    mods = {n: types.ModuleType(n) for n in ("mmengine", "mmengine.logging", "mmengine.logging.history_buffer")}
    HistoryBuffer.__module__ = "mmengine.logging.history_buffer"
    mods["mmengine.logging.history_buffer"].HistoryBuffer = HistoryBuffer
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    RAN.clear()
    return HistoryBuffer


def _mmengine_checkpoint(model, history_buffer):
    """What mmengine's Runner.save_checkpoint writes with EMAHook (mmengine/runner/runner.py,
    mmengine/hooks/ema_hook.py): ``state_dict`` holds the EMA weights, ``ema_state_dict`` the
    swapped-out raw ones under ``module.`` plus the averaged model's ``steps``."""
    ema = model.state_dict()
    raw = {"module." + k: (v + 1 if v.is_floating_point() else v) for k, v in ema.items()}
    raw["steps"] = torch.tensor(1500)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    return {
        "meta": {"epoch": 300, "iter": 1500, "cfg": "model = dict(type='ImageClassifier', ...)", "seed": 1234,
                 "experiment_name": "mobileone-s0_8xb32_in1k_20221110", "mmengine_version": "0.10.7",
                 "dataset_meta": {"classes": tuple(f"c{i}" for i in range(CLASSES))}},
        "state_dict": collections.OrderedDict(ema),
        "message_hub": {"log_scalars": collections.OrderedDict(
            [("train/lr", history_buffer([0.1, 0.09], [1, 1])), ("train/loss", history_buffer([2.3, 2.1], [32, 32]))]),
            "runtime_info": collections.OrderedDict(epoch=300, iter=1500, max_epochs=300, max_iters=1500,
                                                    np_scalar=np.float64(0.5)),
            "resumed_keys": collections.OrderedDict(epoch=True, iter=True)},
        "optimizer": opt.state_dict(),
        "param_schedulers": [{"by_epoch": True, "begin": 0, "end": 5, "last_step": 300, "base_values": [0.1]}],
        "ema_state_dict": collections.OrderedDict(raw),
    }


def test_mmengine_training_state_reads_the_weights_without_running_its_objects(s0, tmp_path, capsys, fake_mmengine):
    path = _save(tmp_path / "epoch_300.pth", _mmengine_checkpoint(s0["mm"], fake_mmengine))
    needed = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    assert "mmengine.logging.history_buffer.HistoryBuffer" in needed and any("numpy" in g for g in needed)
    with pytest.raises(Exception, match="Unsupported global"):  # what torch's safe load alone does
        torch.load(str(path), weights_only=True)
    model = models.create_model("mobileone_s0", path)
    assert RAN == []                                             # no pickled class code ran
    _same_weights(model, models.create_model("mobileone_s0", _save(tmp_path / "w.pth", s0["mm"].state_dict())))
    out = capsys.readouterr().out
    assert "mmpretrain MobileOne, training layout" in out and "EMA" in out and "training state skipped" in out


def test_ema_state_dict_alone(s0, tmp_path):
    """Only ``ema_state_dict`` (mmengine's averaged model: ``module.`` names and ``steps``)."""
    ck = {"ema_state_dict": {**{"module." + k: v for k, v in s0["mm"].state_dict().items()}, "steps": torch.tensor(3)}}
    got = checkpoints.read_checkpoint(_save(tmp_path / "ema.pth", ck))
    assert got.wrapper == "ema_state_dict" and got.prefix_removed and "steps" not in got.state
    _same_weights(models.create_model("mobileone_s0", tmp_path / "ema.pth"),
                  models.create_model("mobileone_s0", _save(tmp_path / "w.pth", s0["mm"].state_dict())))


def test_other_pickled_objects_are_refused_with_an_extract_command(tmp_path):
    import argparse

    path = _save(tmp_path / "timm_train.pth.tar", {"state_dict": {"a": torch.zeros(1)}, "args": argparse.Namespace(lr=1)})
    with pytest.raises(HelpersError, match=r"argparse\.Namespace.*weights_only=False.*weights\.pth") as e:
        checkpoints.read_checkpoint(path)
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------------------------------------
# the wrong variant, and S4 (squeeze-excite blocks)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("form,given", [("apple", "mobileone_s1"), ("mm_deploy", "mobileone_s2"),
                                        ("apple_fused", "mobileone_s1")])
def test_wrong_variant_names_the_one_it_looks_like(s0, tmp_path, form, given):
    path = _save(tmp_path / "s0.pth", s0[form].state_dict())
    with pytest.raises(HelpersError, match=rf"looks like a mobileone_s0 checkpoint.*not {given}.*use KEY mobileone_s0") as e:
        models.create_model(given, path)
    assert "\n" not in str(e.value)
    with pytest.raises(HelpersError, match="MobileOne checkpoint.*use KEY mobileone_s0"):
        models.create_model("mobilenetv1_100", path)


def test_variant_widths_from_timm_match_the_sources():
    for v in ("s0", "s1", "s2", "s3", "s4"):
        with torch.device("meta"):   # shapes only
            net = R.AppleMobileOne(v, 2, inference_mode=True)
        state = checkpoints.to_timm(net.state_dict(), checkpoints.detect_layout(net.state_dict()))
        assert checkpoints.guess_mobileone(state) == f"mobileone_{v}"


def test_s4_layouts_map_with_squeeze_excite(tmp_path):
    """S4 (SE in the last 5 blocks of stage 3 and in stage 4): every layout maps onto timm's model
    and computes what the reference computes (torch vs torch; the S0 tests cover the export)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)
        apple = _settled(R.AppleMobileOne("s4", CLASSES).eval())
        mm = _settled(R.MMImageClassifier("s4", CLASSES).eval())
    a, m = apple.state_dict(), mm.state_dict()
    assert a["stage3.19.se.reduce.weight"].shape == (56, 896, 1, 1) and "stage3.9.se.reduce.weight" not in a
    assert a["stage4.1.se.expand.weight"].shape == (2048, 128, 1, 1)
    assert m["backbone.stage3.10.se.conv1.conv.weight"].shape == (56, 896, 1, 1)
    assert m["backbone.stage4.0.se.conv2.conv.bias"].shape == (896,)
    x = _x().double()
    for name, ref in (("apple", apple), ("mm_deploy", mm.switch_to_deploy())):  # both SE namings, both forms
        got = models.create_model("mobileone_s4", _save(tmp_path / f"{name}.pth", ref.state_dict()))
        assert bool(re.search(r"reparam_conv", " ".join(got.state_dict()))) == (name == "mm_deploy")
        # in float64: random S4 amplifies float32 rounding by an amount that depends on the CPU's kernels
        # (0.06 relative on some x86_64 CPUs, 4e-12 in float64); a misplaced tensor gives ~1 either way
        _, rel = models.relative_error(models.torch_forward(ref.double(), x), models.torch_forward(got.double(), x))
        assert rel <= 1e-9, (name, rel)

"""Export: every registry key to float ONNX with parity, re-parameterisation, the file contract,
metadata, overwrite refusal, offline ImageNet, and checkpoints (good, corrupt, foreign;
the other projects' layouts are in test_checkpoints.py)."""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from helpers.pc import export, models
from helpers.notebooks import export_report as report
from helpers.board import files, registry
from helpers.errors import HelpersError
from helpers.board.runtime import OrtBackend
from helpers.board.meta import labels_from_metadata

torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

# Keys whose exported ONNX parameter count the model zoo publishes for the same timm model
# (MobileNetV1's .bin is a different model; MobileOne's published 4.8 M is flagged in the registry).
SAME_MODEL_AS_PUBLISHED = ["mobilenetv3_large_100", "mobilenetv4_conv_small", "mobilenetv4_conv_medium"]
CHEAP = "mobilenetv1_100"  # fastest to build and export


@pytest.fixture(autouse=True)
def _quiet_random_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", models.RandomWeightsWarning)
        yield


def _ort(path, x):
    return OrtBackend(path).run(np.ascontiguousarray(x, dtype=np.float32))[0]


def _timm_model(key, **kw):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        return timm.create_model(key, pretrained=False, **kw).eval()


def _perturb(model, seed=0):
    """Make every tensor distinct (random init repeats zeros/ones) so that loads are observable."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                t.add_(torch.rand(t.shape, generator=gen) * 0.05 + (0.5 if "running_var" in name else 0.0))
    return model


# ------------------------------------------------------------------------------------------------
# every key
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", registry.keys())
def test_every_key_exports_with_parity(random_onnx, key):
    spec = registry.get(key)
    path = random_onnx(key)
    info = export.inspect_onnx(path)
    h, w = spec.input_size
    # the file contract: opset the X3 toolchain takes, fixed batch 1 NCHW float32, fixed names
    assert info.opset == export.DEFAULT_OPSET == 11
    assert info.ir_version <= export.MAX_IR_VERSION_X3
    assert info.inputs == [("data", "float32", (1, 3, h, w))]
    assert info.outputs == [("output", "float32", (1, spec.num_classes))]
    meta = info.metadata
    assert meta["rdk.model_key"] == key and meta["rdk.weights"] == "random"
    assert json.loads(meta["rdk.mean"]) == list(spec.mean) and json.loads(meta["rdk.std"]) == list(spec.std)
    assert json.loads(meta["rdk.input_size"]) == [h, w] and meta["rdk.opset"] == "11"
    if spec.reparameterizable:  # fused: a plain chain of convolutions, no branch sums left
        assert "Add" not in info.op_types, info.op_types
    # parity on a fresh input against an independently rebuilt model (random weights are seeded)
    model = models.create_model(key, "random", seed=0)
    if spec.reparameterizable:
        model = models.reparameterize(model)
    x = models.parity_input(key, seed=41)
    ref = models.torch_forward(model, x)
    got = _ort(path, x.numpy())
    max_abs, rel = models.relative_error(ref, got)
    assert rel <= export.PARITY_RTOL, (max_abs, rel)
    assert np.abs(ref).max() < 1e3, "settled random weights must give well-scaled outputs"
    # every BatchNorm folds into the bias-free conv before it: 2C parameters become a C bias
    bn_channels = sum(m.num_features for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert info.params_per_use == models.count_torch_params(model) - bn_channels


@pytest.mark.parametrize("key", SAME_MODEL_AS_PUBLISHED)
def test_onnx_parameter_count_matches_published(random_onnx, key):
    """The seed counts ONNX initialisers; counted per use (undoing the merge of identical random
    tensors) our export reproduces the published figure (e.g. 5,470,832 for MobileNetV3-Large)."""
    info = export.inspect_onnx(random_onnx(key))
    published = registry.get(key).published[0].params_m
    assert round(info.params_per_use / 1e6, 2) == published
    assert info.params <= info.params_per_use


# ------------------------------------------------------------------------------------------------
# re-parameterisation
# ------------------------------------------------------------------------------------------------
def test_reparameterization_is_equivalent_and_complete():
    key = "mobileone_s0"
    unfused = models.create_model(key, "random", seed=3)
    assert len(models.multi_branch_modules(unfused)) > 10
    fused = models.reparameterize(unfused)
    assert models.multi_branch_modules(fused) == []
    assert models.multi_branch_modules(unfused), "reparameterize must not modify its input"
    assert models.count_torch_params(fused) < models.count_torch_params(unfused)
    x = models.parity_input(key, seed=7)
    max_abs, rel = models.check_reparameterization(unfused, fused, x)
    assert rel <= models.REPARAM_RTOL
    # the check can fail: nudge one fused kernel
    with torch.no_grad():
        next(m for m in fused.modules() if isinstance(m, torch.nn.Conv2d)).weight.mul_(1.5)
    with pytest.raises(models.ParityError, match="differs from the unfused"):
        models.check_reparameterization(unfused, fused, x)


# ------------------------------------------------------------------------------------------------
# opset, metadata, overwrite, CLI
# ------------------------------------------------------------------------------------------------
def test_opset_range_and_warning():
    assert export.check_opset(10) == 10 and export.check_opset(11) == 11
    with pytest.warns(UserWarning, match="X3 toolchain"):
        assert export.check_opset(13) == 13
    for bad in (9, 18, "eleven"):
        with pytest.raises(HelpersError, match="opset"):
            export.check_opset(bad)


def test_metadata_round_trip_with_labels_and_own_head(tmp_path):
    labels = [f"class {i} é" for i in range(10)]
    r = export.export_onnx(CHEAP, weights="random", out=tmp_path / "ten.onnx", num_classes=10,
                           labels=labels, seed=5)
    assert r.num_classes == 10 and r.rel_err <= export.PARITY_RTOL and r.path.exists()
    info = export.inspect_onnx(r.path)
    assert info.outputs == [("output", "float32", (1, 10))]
    assert info.metadata == r.metadata
    backend = OrtBackend(r.path)          # what the rest of the project reads
    assert labels_from_metadata(backend.metadata) == labels
    assert backend.metadata["rdk.weights"] == "random" and backend.metadata["rdk.num_classes"] == "10"
    with pytest.raises(HelpersError, match="labels"):
        export.export_onnx(CHEAP, weights="random", out=tmp_path / "bad.onnx", num_classes=10, labels=["a"])
    assert not (tmp_path / "bad.onnx").exists()


def test_refuses_to_overwrite_before_any_work(tmp_path, monkeypatch):
    target = tmp_path / "user.onnx"
    target.write_bytes(b"the user's file")

    def boom(*a, **k):
        raise AssertionError("the model must not be built when the target is refused")

    monkeypatch.setattr(export, "create_model", boom)
    with pytest.raises(HelpersError, match="already exists.*overwrite"):
        export.export_onnx(CHEAP, weights="random", out=target)
    assert target.read_bytes() == b"the user's file"


def test_cli_export_opset10_then_refuse_then_overwrite(tmp_path, capsys):
    from helpers.cli import main

    out = tmp_path / "v1.onnx"
    assert main(["export", CHEAP, "--weights", "random", "--opset", "10", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "parity" in printed and "RANDOM" in printed and "opset 10" in printed
    assert export.inspect_onnx(out).opset == 10
    before = out.read_bytes()
    assert main(["export", CHEAP, "--weights", "random", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "--overwrite" in err and "\n" not in err
    assert out.read_bytes() == before
    assert main(["export", CHEAP, "--weights", "random", "--out", str(out), "--overwrite"]) == 0
    assert export.inspect_onnx(out).opset == 11


def test_random_weights_warn_loudly(capsys):
    with pytest.warns(models.RandomWeightsWarning, match="means nothing"):
        models.create_model(CHEAP, "random")


def test_cli_shows_the_random_weights_banner_once(tmp_path, capsys):
    from helpers.cli import main

    # the export makes the model twice (unfused and fused, MobileOne) and warns each time: one banner
    assert main(["export", "mobileone_s0", "--weights", "random", "--out", str(tmp_path / "m.onnx")]) == 0
    out, err = capsys.readouterr()
    assert out.count("RANDOM WEIGHTS") == 1 and "(mobileone_s0)" in out
    assert "RandomWeightsWarning" not in err


# ------------------------------------------------------------------------------------------------
# ImageNet weights without a network
# ------------------------------------------------------------------------------------------------
def _assert_offline_message(text):
    assert "random" in text and "PATH" in text and "\n" not in text.strip()


def test_offline_imagenet_cli_message(tmp_path):
    """A fresh process with HF_HUB_OFFLINE=1 and an empty hub cache: one line, exit 2, fast."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf"))
    proc = subprocess.run([sys.executable, "-m", "helpers", "export", CHEAP, "--out", str(tmp_path / "x.onnx")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: cannot get the ImageNet weights")
    _assert_offline_message(proc.stderr)
    assert not (tmp_path / "x.onnx").exists()


def test_unreachable_hub_fails_fast(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(models, "_cached_hub_file", lambda spec: None)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # discard port: refused at once
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(HelpersError, match="unreachable") as e:
        models.create_model("mobileone_s0", "imagenet")
    _assert_offline_message(str(e.value))


# ------------------------------------------------------------------------------------------------
# checkpoints
# ------------------------------------------------------------------------------------------------
def _assert_same_weights(model, ref):
    got, want = model.state_dict(), ref.state_dict()
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_safetensors_and_torch_checkpoints_load(tmp_path):
    from safetensors.torch import save_file

    ref = _perturb(_timm_model(CHEAP))
    sd = ref.state_dict()
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "w.safetensors"))
    torch.save(sd, tmp_path / "w.pth")
    # a training-script checkpoint: nested, DDP-prefixed, with extra plain data
    torch.save({"epoch": 7, "state_dict": {f"module.{k}": v for k, v in sd.items()}}, tmp_path / "w.pth.tar")
    torch.save({"model": sd}, tmp_path / "w.pt")
    for name in ("w.safetensors", "w.pth", "w.pth.tar", "w.pt"):
        model = models.create_model(CHEAP, tmp_path / name)
        assert not model.training
        _assert_same_weights(model, ref)


def test_checkpoint_head_size_is_inferred(tmp_path):
    ref = _perturb(_timm_model(CHEAP, num_classes=7))
    torch.save(ref.state_dict(), tmp_path / "seven.pth")
    model = models.create_model(CHEAP, tmp_path / "seven.pth")
    assert model.num_classes == 7
    _assert_same_weights(model, ref)
    with pytest.raises(HelpersError, match="7-class head"):
        models.create_model(CHEAP, tmp_path / "seven.pth", num_classes=5)


@pytest.mark.parametrize("name,content,match", [
    ("junk.pth", os.urandom(4096), "corrupt or not a PyTorch checkpoint"),
    ("text.pth", b"this is not a checkpoint\n", "corrupt or not a PyTorch checkpoint"),
    ("empty.pth", b"", "empty"),
    ("junk.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}", "not a readable safetensors"),
    ("weights.onnx", b"x", "unknown checkpoint type"),
])
def test_bad_checkpoint_files(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(HelpersError, match=match) as e:
        models.create_model(CHEAP, path)
    assert "\n" not in str(e.value)


def test_truncated_checkpoint(tmp_path):
    torch.save(_timm_model(CHEAP).state_dict(), tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(HelpersError, match="corrupt"):
        models.create_model(CHEAP, tmp_path / "cut.pth")


def test_missing_checkpoint_and_unknown_weights(tmp_path):
    with pytest.raises(HelpersError, match="not found"):
        models.create_model(CHEAP, tmp_path / "nope.pth")
    with pytest.raises(HelpersError, match="'imagenet', 'random'"):
        models.create_model(CHEAP, "imagenet21k")


def test_pickled_objects_are_refused(tmp_path):
    import argparse

    torch.save({"state_dict": _timm_model(CHEAP).state_dict(), "args": argparse.Namespace(lr=0.1)},
               tmp_path / "train.pth")
    with pytest.raises(HelpersError, match="weights_only"):
        models.create_model(CHEAP, tmp_path / "train.pth")


def test_checkpoint_of_another_architecture(tmp_path):
    from safetensors.torch import save_file

    save_file(_timm_model(CHEAP).state_dict(), str(tmp_path / "v1.safetensors"))
    with pytest.raises(HelpersError, match=r"not a mobileone_s0 checkpoint.*another model") as e:
        models.create_model("mobileone_s0", tmp_path / "v1.safetensors")
    assert "\n" not in str(e.value)
    torch.save(_timm_model("mobileone_s1").state_dict(), tmp_path / "s1.pth")
    with pytest.raises(HelpersError, match="other shape"):
        models.create_model("mobileone_s0", tmp_path / "s1.pth")


def test_trained_model_object_exports(tmp_path):
    """The training code passes its nn.Module; the export labels it and checks parity on it."""
    ref = _perturb(_timm_model(CHEAP, num_classes=3))
    r = export.export_onnx(CHEAP, weights=tmp_path / "best.pth", model=ref, out=tmp_path / "t.onnx",
                           labels=["a", "b", "c"])
    assert r.weights == "best.pth" and r.num_classes == 3
    x = models.parity_input(CHEAP, seed=9)
    _, rel = models.relative_error(models.torch_forward(ref, x), _ort(r.path, x.numpy()))
    assert rel <= export.PARITY_RTOL


# ------------------------------------------------------------------------------------------------
# the notebooks' output policy
# ------------------------------------------------------------------------------------------------
def _fake_onnx(path, key, weights):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["data"], ["output"])], "g",
                              [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    for k, v in {"rdk.model_key": key, "rdk.weights": weights}.items():
        model.metadata_props.add(key=k, value=v)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def test_notebook_output_policy(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MODEL_DIR", tmp_path)
    key = "mobileone_s0"
    default = registry.get(key).float_onnx_path
    assert default == tmp_path / "MobileOne" / "mobileone_s0.onnx"
    c = export.choose_output(key, "random")
    assert (c.path, c.overwrite) == (default, False)
    _fake_onnx(default, key, "random")                 # our own earlier CI output: replaced
    c = export.choose_output(key, "random")
    assert (c.path, c.overwrite) == (default, True) and "earlier export" in c.reason
    assert export.choose_output(key, "imagenet").overwrite  # random is a placeholder: upgrade it
    _fake_onnx(default, key, "imagenet")               # a real export: never replaced by random
    c = export.choose_output(key, "random")
    assert c.path == default.with_name("mobileone_s0.random.onnx") and "kept" in c.reason
    assert export.choose_output(key, "imagenet").path == default   # same choice: a re-run
    with pytest.raises(HelpersError, match="OVERWRITE"):
        export.choose_output(key, "my_finetune.pth")
    assert export.choose_output(key, "my_finetune.pth", overwrite=True).overwrite
    default.write_bytes(b"not onnx")                   # not ours: random goes beside it
    assert export.choose_output(key, "random").path.name == "mobileone_s0.random.onnx"


def test_notebook_key_must_fit_the_notebook(capsys):
    with pytest.raises(HelpersError, match="is a MobileNetV1 model; this is the MobileOne notebook"):
        report.introduce("mobilenetv1_100", "random", arch="MobileOne")
    spec = report.introduce("mobileone_s1", "random", arch="MobileOne")
    assert spec.key == "mobileone_s1" and "RANDOM WEIGHTS" in capsys.readouterr().out
    report.introduce("mobileone_s1", "imagenet", arch="MobileOne")
    assert "RANDOM" not in capsys.readouterr().out


def test_imagenet_from_the_local_hub_cache(tmp_path, monkeypatch):
    """When the hub's weights file is cached, timm loads it directly (no network round trips)."""
    from safetensors.torch import save_file

    ref = _perturb(_timm_model(CHEAP))
    save_file(ref.state_dict(), str(tmp_path / "model.safetensors"))
    monkeypatch.setattr(models, "_cached_hub_file", lambda spec: str(tmp_path / "model.safetensors"))
    monkeypatch.setattr(models, "_hub_offline_reason", lambda: pytest.fail("must not probe the hub"))
    _assert_same_weights(models.create_model(CHEAP, "imagenet"), ref)

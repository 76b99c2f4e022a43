"""Mapper bundle: one self-contained folder, folder-relative yaml, calibration data, vendor commands."""
import os
import shutil

import numpy as np
import pytest

from helpers.pc import bundle, mapper, mapper_check
from helpers.board import files, registry
from helpers.board.files import MANIFEST
from helpers.board.image import sample_images
from helpers.cli import main
from helpers.errors import HelpersError
from test_board_model import make_onnx


@pytest.fixture
def images(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    for p in sample_images()[:3]:
        shutil.copy(p, d / p.name)
    return d


def check_bundle(out, key, board, n_samples):
    spec, b = registry.get(key), registry.BOARDS[board]
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["README.txt", "build.sh", f"{key}.onnx", f"{key}_{board}.yaml", mapper.BUNDLE_CAL_DIR,
                            MANIFEST])  # the manifest: what --overwrite may replace later
    y = out / f"{key}_{board}.yaml"
    cfg = mapper.load_config(y)
    mp, cp = cfg["model_parameters"], cfg["calibration_parameters"]
    # every path relative to the folder and present in it
    for rel in (mp["onnx_model"], cp["cal_data_dir"], mp["working_dir"]):
        assert not os.path.isabs(rel) and not rel.startswith("..")
    assert (out / mp["onnx_model"]).resolve() == (out / f"{key}.onnx").resolve()
    assert (out / cp["cal_data_dir"]).resolve() == (out / mapper.BUNDLE_CAL_DIR).resolve()
    assert mp["march"] == b.march and mp["output_model_file_prefix"] == spec.bin_stem
    # the same contract as the committed yaml except the paths and header
    committed = mapper.load_config(registry.get(key).yaml_path(board))
    assert cfg["input_parameters"] == committed["input_parameters"]
    assert cfg["compiler_parameters"] == committed["compiler_parameters"]
    assert mapper_check.check_config(y, strict=True) == []
    samples = sorted((out / mapper.BUNDLE_CAL_DIR).iterdir())
    h, w = spec.input_size
    assert len(samples) == n_samples and all(s.stat().st_size == 3 * h * w * 4 for s in samples)
    script = (out / "build.sh").read_text()
    lines = [ln for ln in script.splitlines() if ln.startswith("hb_mapper")]
    assert lines == [f"hb_mapper checker --model-type onnx --march {b.march} --model {key}.onnx "
                     f"--input-shape data 1x3x{h}x{w}",
                     f"hb_mapper makertbin --config {key}_{board}.yaml --model-type onnx"]
    assert os.access(out / "build.sh", os.X_OK)
    readme = (out / "README.txt").read_text()
    assert "We cannot run the vendor toolchain here" in readme and spec.bin_stem in readme


def test_bundle_with_given_onnx(tmp_path, images):
    src = make_onnx(tmp_path / "s0.onnx", key="mobileone_s0")
    out = bundle.make_bundle("mobileone_s0", "x5", images, tmp_path / "b", onnx_path=src, count=2, progress=False)
    check_bundle(out, "mobileone_s0", "x5", 2)
    assert (out / "mobileone_s0.onnx").read_bytes() == src.read_bytes()
    assert "RANDOM weights" in (out / "README.txt").read_text()
    # nothing else left next to it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "imgs", "s0.onnx"]


def test_bundle_exports_when_needed(tmp_path, images, monkeypatch):
    """No ONNX given and none in model/<Arch>/: the bundle calls helpers.pc.export.export_onnx.

    The real export is slow and tested with the exporter; here a stub with its signature stands in.
    """
    import inspect
    from types import SimpleNamespace

    export = pytest.importorskip("helpers.pc.export")
    params = inspect.signature(export.export_onnx).parameters
    assert {"key", "weights", "out"} <= set(params)
    calls = []

    def fake_export(key, weights="imagenet", out=None, **kw):
        calls.append((key, weights))
        return SimpleNamespace(path=make_onnx(out, key=key))

    monkeypatch.setattr(export, "export_onnx", fake_export)
    monkeypatch.setattr(files, "MODEL_DIR", tmp_path / "none")
    out = bundle.make_bundle("mobilenetv4_conv_small", "x3", images, tmp_path / "b", weights="random",
                             count=1, progress=False)
    assert calls == [("mobilenetv4_conv_small", "random")]
    check_bundle(out, "mobilenetv4_conv_small", "x3", 1)
    # an existing model/<Arch>/<key>.onnx with the wanted weights is shipped as is, without exporting
    target = registry.get("mobilenetv4_conv_small").float_onnx_path
    assert target == tmp_path / "none" / "MobileNetV4" / "mobilenetv4_conv_small.onnx"
    target.parent.mkdir(parents=True)
    existing = make_onnx(target, key="mobilenetv4_conv_small")
    out2 = bundle.make_bundle("mobilenetv4_conv_small", "x5", images, tmp_path / "b2", weights="random",
                              count=1, progress=False)
    assert len(calls) == 1 and (out2 / "mobilenetv4_conv_small.onnx").read_bytes() == existing.read_bytes()


def test_cli_bundle(tmp_path, images, capsys):
    src = make_onnx(tmp_path / "v1.onnx", key="mobilenetv1_100")
    out = tmp_path / "bundle_v1"
    args = ["bundle", "mobilenetv1_100", "--board", "x3", "--images", str(images), "--out", str(out),
            "--onnx", str(src), "--count", "3"]
    assert main(args) == 0
    assert "cannot run the toolchain here" in capsys.readouterr().out
    check_bundle(out, "mobilenetv1_100", "x3", 3)
    # an existing bundle is replaced only with --overwrite
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(args[:-2] + ["--count", "1", "--overwrite"]) == 0
    check_bundle(out, "mobilenetv1_100", "x3", 1)


def test_bundle_bad_inputs(tmp_path, images):
    src = make_onnx(tmp_path / "s0.onnx", key="mobileone_s0")
    with pytest.raises(HelpersError, match="opset 13"):
        bundle.make_bundle("mobileone_s0", "x3", images, tmp_path / "b1",
                           onnx_path=make_onnx(tmp_path / "o13.onnx", opset=13), progress=False)
    with pytest.raises(HelpersError, match="is a mobileone_s0 model, not mobileone_s1"):
        bundle.make_bundle("mobileone_s1", "x5", images, tmp_path / "b2", onnx_path=src, progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(HelpersError, match="no images"):
        bundle.make_bundle("mobileone_s0", "x5", empty, tmp_path / "b3", onnx_path=src, progress=False)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(HelpersError, match="does not look like a bundle"):
        bundle.make_bundle("mobileone_s0", "x5", images, mine, onnx_path=src, overwrite=True, progress=False)
    assert (mine / "notes.txt").read_text() == "keep me"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == [] and not any((tmp_path / n).exists() for n in ("b1", "b2", "b3"))


def test_bundle_limited_range(tmp_path, images):
    src = make_onnx(tmp_path / "s0.onnx", key="mobileone_s0")
    out = bundle.make_bundle("mobileone_s0", "x5", images, tmp_path / "b", onnx_path=src, count=1,
                             yuv_range="limited", progress=False)
    cfg = mapper.load_config(out / "mobileone_s0_x5.yaml")
    assert cfg["input_parameters"]["input_space_and_range"] == "bt601_video"
    assert "limited range" in (out / "README.txt").read_text()
    x = np.fromfile(next((out / mapper.BUNDLE_CAL_DIR).iterdir()), np.float32)
    assert x.size == 3 * 224 * 224 and x.max() > 1.5   # calibration data do not depend on the NV12 range


def test_bundle_takes_the_input_name_from_the_onnx(tmp_path, images):
    """A float ONNX whose input is not called 'data': the yaml and build.sh name its real input."""
    import onnx

    src = make_onnx(tmp_path / "s0.onnx", key="mobileone_s0")
    m = onnx.load(str(src))
    old = m.graph.input[0].name
    m.graph.input[0].name = "images"
    for node in m.graph.node:
        node.input[:] = ["images" if i == old else i for i in node.input]
    renamed = tmp_path / "renamed.onnx"
    onnx.save(m, str(renamed))
    out = bundle.make_bundle("mobileone_s0", "x5", images, tmp_path / "b", onnx_path=renamed, count=1, progress=False)
    cfg = mapper.load_config(out / "mobileone_s0_x5.yaml")
    assert cfg["input_parameters"]["input_name"] == "images"
    assert "--input-shape images 1x3x224x224" in (out / "build.sh").read_text()
    assert "input 'images'" in (out / "README.txt").read_text()


# ---------------------------------------------------------------- S-series boards: hb_compile

@pytest.mark.parametrize("board,march", [("s100", "nash-e"), ("s600", "nash-p")])
def test_bundle_for_an_s_board(tmp_path, images, board, march):
    key = "mobilenetv4_conv_small"
    src = make_onnx(tmp_path / "m.onnx", key=key)
    out = bundle.make_bundle(key, registry.board(board), images, tmp_path / "b", onnx_path=src, count=2,
                             progress=False)
    cfg = mapper.load_config(out / f"{key}_{board}.yaml")
    assert cfg["model_parameters"]["march"] == march
    assert cfg["input_parameters"]["input_space_and_range"] == "bt601_video"  # as the zoo's S configs
    assert cfg["compiler_parameters"]["optimize_level"] == "O2"
    committed = mapper.load_config(registry.get(key).yaml_path(board))
    assert cfg["input_parameters"] == committed["input_parameters"]
    assert mapper_check.check_config(out / f"{key}_{board}.yaml", strict=True, for_board=board) == []
    script = (out / "build.sh").read_text()
    assert [ln for ln in script.splitlines() if ln.startswith("hb_")] == [
        f"hb_compile --model {key}.onnx --march {march}    # the model check: is every op supported?",
        f"hb_compile --config {key}_{board}.yaml"]
    assert "hb_mapper" not in script and "hrt_model_exec perf" in script
    readme = (out / "README.txt").read_text()
    assert f"{registry.get(key).bin_stem}.hbm" in readme and "split" in readme and "limited range" in readme
    assert len(list((out / mapper.BUNDLE_CAL_DIR).iterdir())) == 2


def test_bundle_refuses_an_s_board_without_the_s_toolchains_keys(tmp_path, images, monkeypatch):
    """A guard: whatever produced the bundle's config, an S bundle ships an hb_compile config or stops."""
    key = "mobilenetv4_conv_small"
    src = make_onnx(tmp_path / "m.onnx", key=key)
    x5_text = mapper.generate_yaml(key, "x5")
    monkeypatch.setattr(mapper, "generate_yaml", lambda *a, **k: x5_text)
    with pytest.raises(HelpersError, match=r"RDK X5 mapper yaml .* needs an hb_compile config with march 'nash-e'"):
        bundle.make_bundle(key, "s100", images, tmp_path / "b", onnx_path=src, count=1, progress=False)
    assert not (tmp_path / "b").exists()


def test_bundle_cli_for_s100(tmp_path, images, capsys):
    src = make_onnx(tmp_path / "m.onnx", key="mobileone_s0")
    assert main(["bundle", "mobileone_s0", "--board", "s100", "--images", str(images), "--out", str(tmp_path / "b"),
                 "--onnx", str(src), "--count", "1"]) == 0
    assert "S-series (hb_compile) toolchain" in capsys.readouterr().out
    assert main(["bundle", "mobileone_s0", "--board", "s10", "--images", str(images), "--out", str(tmp_path / "c")]) == 2


def test_bundle_resolves_the_board_once(tmp_path, images, monkeypatch):
    """The board is resolved once (in cmd_bundle / make_bundle) and passed down as the Board: no function
    below looks a board key up again."""
    key = "mobilenetv4_conv_small"
    src = make_onnx(tmp_path / "m.onnx", key=key)
    real, looked_up = registry.board, []

    def board(k):
        if not isinstance(k, registry.Board):
            looked_up.append(k)
        return real(k)

    monkeypatch.setattr(registry, "board", board)
    bundle.make_bundle(key, "s600", images, tmp_path / "b", onnx_path=src, count=1, progress=False)
    assert looked_up == ["s600"]


def test_bundle_cli_checks_a_given_yaml_for_the_s_toolchains_keys(tmp_path, images, capsys):
    """A user's yaml for an S board: an X5 mapper yaml is refused in one line before any work; an S config
    is shipped with its paths pointed into the bundle and its range kept."""
    key = "mobilenetv4_conv_small"
    src = make_onnx(tmp_path / "m.onnx", key=key)
    x5_yaml = registry.get(key).yaml_path("x5")
    base = ["bundle", key, "--board", "s100", "--images", str(images), "--onnx", str(src), "--count", "1"]
    assert main(base + ["--out", str(tmp_path / "b"), "--yaml", str(x5_yaml)]) == 2
    err = capsys.readouterr().err.strip()
    assert "RDK X5 mapper yaml" in err and "march 'nash-e'" in err and "\n" not in err
    assert not (tmp_path / "b").exists()
    s_cfg = mapper.load_config(registry.get(key).yaml_path("s100"))
    s_cfg["input_parameters"]["input_space_and_range"] = "regular"  # as the zoo's mobilenetv4_small_config.yaml
    import yaml
    given = tmp_path / "mine.yaml"
    given.write_text(yaml.safe_dump(s_cfg, sort_keys=False))
    assert main(base + ["--out", str(tmp_path / "c"), "--yaml", str(given)]) == 0
    cfg = mapper.load_config(tmp_path / "c" / f"{key}_s100.yaml")
    assert cfg["input_parameters"]["input_space_and_range"] == "regular"
    assert cfg["model_parameters"]["onnx_model"] == f"./{key}.onnx"
    assert cfg["calibration_parameters"]["cal_data_dir"] == f"./{mapper.BUNDLE_CAL_DIR}"
    assert "full range" in (tmp_path / "c" / "README.txt").read_text()

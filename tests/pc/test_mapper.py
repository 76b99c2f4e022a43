"""Mapper yamls: committed files vs the generator, values vs the registry, check-yaml, bad inputs."""
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers.pc import mapper, mapper_check, mapper_cli
from helpers.board import nv12, registry
from helpers.cli import main
from helpers.errors import HelpersError
from helpers.board.files import YAML_DIR

TARGETS = [(k, b) for k, m in registry.MODELS.items() for b in m.boards]
X_TARGETS = [(k, b) for k, b in TARGETS if not registry.board(b).is_s]   # S configs: tests/pc/test_nash.py


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def generated_cfg(key="mobileone_s0", board="x3"):
    return yaml.safe_load(mapper.generate_yaml(key, board))


def dump(tmp_path, cfg, name="mobileone_s0_x3.yaml"):
    return write(tmp_path / name, yaml.safe_dump(cfg, sort_keys=False))


def errors(findings):
    return [f.message for f in findings if f.level == "error"]


def warnings_(findings):
    return [f.message for f in findings if f.level == "warning"]


# ---------------------------------------------------------------- committed files

def test_one_committed_yaml_per_key_and_board_and_no_strays():
    expected = {registry.get(k).yaml_path(b).resolve() for k, b in TARGETS}
    on_disk = {p.resolve() for p in YAML_DIR.rglob("*.yaml")}
    assert on_disk == expected, f"stray or missing yaml files: {on_disk ^ expected}"


@pytest.mark.parametrize("key,board", TARGETS)
def test_committed_yaml_has_no_drift(key, board):
    path = registry.get(key).yaml_path(board)
    assert path == YAML_DIR / registry.get(key).arch / f"{key}_{board}.yaml"
    assert path.read_text(encoding="utf-8") == mapper.generate_yaml(key, board), (
        f"{path} drifted from the generator: run python -m helpers yaml --all")


@pytest.mark.parametrize("key,board", X_TARGETS)
def test_yaml_values_follow_the_registry(key, board):
    spec = registry.get(key)
    cfg = mapper.load_config(registry.get(key).yaml_path(board))
    mp, ip, cp, kp = (cfg[s] for s in mapper.SECTIONS)
    assert mp["march"] == {"x3": "bernoulli2", "x5": "bayes-e"}[board]
    assert mp["output_model_file_prefix"] == spec.bin_stem
    assert re.fullmatch(r"[A-Za-z0-9]+(_[A-Za-z0-9]+)*_224x224_nv12", spec.bin_stem)
    assert ip["input_name"] == "data"
    assert ip["input_type_rt"] == "nv12" and ip["input_type_train"] == "rgb"
    assert ip["input_layout_train"] == "NCHW" and ip["norm_type"] == "data_mean_and_scale"
    assert ip["input_shape"] == "1x3x{}x{}".format(*spec.input_size)
    # the vendor default (PTQ guide: regular = [0,255]) is what our board code produces
    assert ip["input_space_and_range"] == "regular" and nv12.DEFAULT_RANGE == "full"
    mean = [float(v) for v in ip["mean_value"].split()]
    scale = [float(v) for v in ip["scale_value"].split()]
    np.testing.assert_allclose(mean, np.array(spec.mean) * 255, rtol=1e-9)
    np.testing.assert_allclose(scale, 1 / (np.array(spec.std) * 255), rtol=1e-9)
    assert cp["cal_data_type"] == "float32" and cp["calibration_type"] == "default"
    assert kp["compile_mode"] == "latency" and kp["optimize_level"] == "O3" and kp["core_num"] == 1
    assert kp["debug"] is False and mp["layer_out_dump"] is False
    # every key is one the toolchain generation of that march accepts
    for section, keys in cfg.items():
        assert set(keys) <= set(mapper.ACCEPTED_KEYS[mp["march"]][section])
    # paths are relative to the yaml's folder and land in the repository layout
    here = registry.get(key).yaml_path(board).parent
    assert (here / mp["onnx_model"]).resolve() == registry.get(key).float_onnx_path.resolve()
    assert (here / cp["cal_data_dir"]).resolve() == registry.get(key).calib_dir.resolve()
    assert cp["cal_data_dir"].endswith("_f32")
    text = registry.get(key).yaml_path(board).read_text()
    assert "python -m helpers yaml --all" in text and "bt601_video" in text and "COLOR_BGR2YUV_I420" in text
    # check-yaml finds no error in what we commit (the onnx/calibration files are created later)
    assert errors(mapper_check.check_config(registry.get(key).yaml_path(board))) == []


def test_limited_range_yaml_and_preprocess():
    cfg = yaml.safe_load(mapper.generate_yaml("mobilenetv1_100", "x5", yuv_range="limited"))
    assert cfg["input_parameters"]["input_space_and_range"] == "bt601_video"
    pre = mapper.preprocess_of(cfg)
    assert pre.yuv_range == "limited" and pre.input_shape == (224, 224)
    assert pre.mean_value == pytest.approx((127.5,) * 3)
    assert pre.scale_value == pytest.approx((1 / 127.5,) * 3)
    with pytest.raises(HelpersError):
        mapper.generate_yaml("mobilenetv1_100", "x5", yuv_range="video")
    with pytest.raises(HelpersError):
        mapper.generate_yaml("mobilenetv1_100", "x7")


def test_preprocess_of_defaults_and_value_forms():
    cfg = generated_cfg()
    ip = cfg["input_parameters"]
    del ip["input_space_and_range"]          # absent -> the vendor default, regular = full
    ip["mean_value"] = [123.675, 116.28, 103.53]
    ip["scale_value"] = 0.0175
    pre = mapper.preprocess_of(cfg)
    assert pre.yuv_range == "full" and pre.space_and_range == "regular"
    assert pre.mean_value == (123.675, 116.28, 103.53) and pre.scale_value == (0.0175,)
    ip["norm_type"] = "no_preprocess"
    assert mapper.preprocess_of(cfg).mean_value == (0.0,) and mapper.preprocess_of(cfg).scale_value == (1.0,)
    ip["norm_type"] = "data_mean_and_scale"
    ip["mean_value"] = "1 2"
    with pytest.raises(HelpersError, match="1 or 3"):
        mapper.preprocess_of(cfg)
    ip["mean_value"] = "a b c"
    with pytest.raises(HelpersError, match="not a list of numbers"):
        mapper.preprocess_of(cfg)


def test_write_yaml_elsewhere_keeps_paths_relative(tmp_path):
    out = tmp_path / "sub" / "s0.yaml"
    path, status = mapper_cli.regenerate("mobileone_s0", "x5", out)
    assert status == "written"
    cfg = mapper.load_config(path)
    onnx_model = Path(cfg["model_parameters"]["onnx_model"])
    assert not onnx_model.is_absolute()
    assert (out.parent / onnx_model).resolve() == registry.get("mobileone_s0").float_onnx_path.resolve()
    assert mapper_cli.regenerate("mobileone_s0", "x5", out)[1] == "unchanged"
    # a file we did not generate is not replaced without overwrite
    own = write(tmp_path / "mine.yaml", "model_parameters: {}\n")
    with pytest.raises(HelpersError, match="--overwrite"):
        mapper_cli.regenerate("mobileone_s0", "x5", own)
    assert own.read_text() == "model_parameters: {}\n"
    assert mapper_cli.regenerate("mobileone_s0", "x5", own, overwrite=True)[1] == "updated"


def test_cli_yaml(tmp_path, capsys):
    out = tmp_path / "a.yaml"
    assert main(["yaml", "mobilenetv3_large_100", "--board", "x3", "--out", str(out)]) == 0
    assert mapper.load_config(out)["model_parameters"]["march"] == "bernoulli2"
    assert main(["yaml", "mobilenetv3_large_100", "--out", str(out)]) == 2   # --out needs one board
    assert main(["yaml", "--all", "mobileone_s0"]) == 2
    assert main(["yaml"]) == 2
    assert "error:" in capsys.readouterr().err


# ---------------------------------------------------------------- bad inputs

def test_not_yaml(tmp_path, capsys):
    bad = write(tmp_path / "bad_x3.yaml", "model_parameters: [unclosed\n  march: 'x'\n")
    with pytest.raises(HelpersError, match="not valid YAML") as e:
        mapper.load_config(bad)
    assert "\n" not in str(e.value)
    assert main(["check-yaml", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "not valid YAML" in out and "FAILED" in out
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(HelpersError):
        mapper.load_config(binary)
    for text in ("- a\n- b\n", "just a string\n", ""):
        with pytest.raises(HelpersError, match="not a mapping"):
            mapper.load_config(write(tmp_path / "l.yaml", text))


def test_missing_input_parameters(tmp_path, capsys):
    cfg = generated_cfg()
    del cfg["input_parameters"]
    path = dump(tmp_path, cfg)
    with pytest.raises(HelpersError, match="input_parameters"):
        mapper.load_config(path)
    assert any("missing section input_parameters" in m for m in errors(mapper_check.check_config(path)))
    assert main(["check-yaml", str(path)]) == 1
    assert "missing section input_parameters" in capsys.readouterr().out


def test_bayes_march_for_an_x3_file(tmp_path):
    cfg = generated_cfg("mobileone_s1", "x3")
    cfg["model_parameters"]["march"] = "bayes"
    errs = errors(mapper_check.check_config(dump(tmp_path, cfg, "mobileone_s1_x3.yaml")))
    assert len(errs) == 1 and "bernoulli2" in errs[0] and "RDK X3" in errs[0]
    cfg["model_parameters"]["march"] = "bayes-e"
    assert any("RDK X5" in m for m in errors(mapper_check.check_config(dump(tmp_path, cfg, "mobileone_s1_x3.yaml"))))
    # an X5 file with bernoulli2 is the mirror mistake
    cfg5 = generated_cfg("mobileone_s1", "x5")
    cfg5["model_parameters"]["march"] = "bernoulli2"
    assert any("bayes-e" in m for m in errors(mapper_check.check_config(dump(tmp_path, cfg5, "mobileone_s1_x5.yaml"))))


def test_unknown_march_suggests(tmp_path):
    cfg = generated_cfg("mobileone_s0", "x5")
    cfg["model_parameters"]["march"] = "bayes_e"
    errs = errors(mapper_check.check_config(dump(tmp_path, cfg, "mobileone_s0_x5.yaml")))
    assert any("unknown march" in m and "did you mean 'bayes-e'" in m for m in errs)


@pytest.mark.parametrize("key", ["mobileone_s0", "mobilenetv1_100"])
def test_mean_scale_off_by_255(tmp_path, key):
    spec = registry.get(key)
    cfg = generated_cfg(key, "x5")
    ip = cfg["input_parameters"]
    ip["mean_value"] = " ".join(str(m) for m in spec.mean)                 # 0..1 units
    errs = errors(mapper_check.check_config(dump(tmp_path, cfg, f"{key}_x5.yaml")))
    assert len(errs) == 1 and "mean_value" in errs[0] and "factor 255" in errs[0]
    cfg = generated_cfg(key, "x5")
    cfg["input_parameters"]["scale_value"] = " ".join(str(1 / s) for s in spec.std)  # 1/std: 255x too large
    errs = errors(mapper_check.check_config(dump(tmp_path, cfg, f"{key}_x5.yaml")))
    assert len(errs) == 1 and "scale_value" in errs[0] and "factor 255" in errs[0] and "too large" in errs[0]
    cfg["input_parameters"]["scale_value"] = " ".join(str(1 / (s * 255 * 255)) for s in spec.std)
    assert "too small" in errors(mapper_check.check_config(dump(tmp_path, cfg, f"{key}_x5.yaml")))[0]


def test_other_mean_scale_mistakes(tmp_path):
    cfg = generated_cfg("mobileone_s2", "x3")
    cfg["input_parameters"]["mean_value"] = "103.53 116.28 123.675"
    assert "BGR order" in errors(mapper_check.check_config(dump(tmp_path, cfg, "mobileone_s2_x3.yaml")))[0]
    cfg = generated_cfg("mobileone_s2", "x3")
    cfg["input_parameters"]["scale_value"] = "58.395 57.12 57.375"                  # std x 255
    assert "standard deviation" in errors(mapper_check.check_config(dump(tmp_path, cfg, "mobileone_s2_x3.yaml")))[0]
    cfg = generated_cfg("mobileone_s2", "x3")
    cfg["input_parameters"]["mean_value"] = "127.5 127.5 127.5"                   # another model's mean
    assert "does not match" in errors(mapper_check.check_config(dump(tmp_path, cfg, "mobileone_s2_x3.yaml")))[0]
    # values rounded like the vendor's own files are accepted
    cfg = generated_cfg("mobileone_s2", "x3")
    cfg["input_parameters"]["scale_value"] = "0.01712475 0.017507 0.01742919"
    assert errors(mapper_check.check_config(dump(tmp_path, cfg, "mobileone_s2_x3.yaml"))) == []


def test_unknown_misplaced_and_generation_keys(tmp_path):
    cfg = generated_cfg("mobileone_s0", "x3")
    ip = cfg["input_parameters"]
    ip["input_space_and_rang"] = ip.pop("input_space_and_range")
    cfg["compiler_parameters"]["balance_factor"] = 2         # X5-generation only
    cfg["calibration_parameters"]["optimize_level"] = "O3"   # wrong section
    cfg["compiler_paramters"] = {}
    errs = errors(mapper_check.check_config(dump(tmp_path, cfg)))
    assert any("input_space_and_rang" in m and "did you mean 'input_space_and_range'" in m for m in errs)
    assert any("balance_factor" in m and "bayes-e" in m for m in errs)
    assert any("optimize_level" in m and "belongs in compiler_parameters" in m for m in errs)
    assert any("unknown section 'compiler_paramters'" in m for m in errs)
    # the same balance_factor is fine for X5
    cfg5 = generated_cfg("mobileone_s0", "x5")
    cfg5["compiler_parameters"]["balance_factor"] = 2
    cfg5["compiler_parameters"]["compile_mode"] = "balance"
    assert errors(mapper_check.check_config(dump(tmp_path, cfg5, "mobileone_s0_x5.yaml"))) == []


@pytest.mark.parametrize("section,key,value,needle", [
    ("input_parameters", "input_space_and_range", "bt709", "input_space_and_range"),
    ("input_parameters", "input_type_rt", "nv21", "input_type_rt"),
    ("input_parameters", "input_shape", "1x3x224", "input_shape"),
    ("input_parameters", "input_shape", "1x3x256x256", "deployed size"),
    ("input_parameters", "input_shape", "1x3x223x224", "odd"),
    ("compiler_parameters", "core_num", 2, "core_num"),      # X5 has one BPU core
    ("compiler_parameters", "optimize_level", "O4", "optimize_level"),
    ("compiler_parameters", "debug", "yes", "boolean"),
    ("calibration_parameters", "calibration_type", "minmax", "calibration_type"),
])
def test_invalid_values(tmp_path, section, key, value, needle):
    cfg = generated_cfg("mobilenetv4_conv_small", "x5")
    cfg[section][key] = value
    errs = errors(mapper_check.check_config(dump(tmp_path, cfg, "mobilenetv4_conv_small_x5.yaml")))
    assert errs and any(needle in m for m in errs), errs


def test_x3_accepts_two_cores(tmp_path):
    cfg = generated_cfg("mobilenetv4_conv_small", "x3")
    cfg["compiler_parameters"]["core_num"] = 2   # PTQ guide: core_num 1 or 2 on the X3 generation
    assert errors(mapper_check.check_config(dump(tmp_path, cfg, "mobilenetv4_conv_small_x3.yaml"))) == []


def test_missing_files_warn_or_fail_with_strict(tmp_path, capsys):
    path = write(tmp_path / "yaml" / "mobileone_s3_x5.yaml", mapper.generate_yaml(
        "mobileone_s3", "x5", onnx_model="../m/mobileone_s3.onnx", cal_data_dir="../cal_f32"))
    found = mapper_check.check_config(path)
    assert errors(found) == [] and len(warnings_(found)) == 2
    assert all("not found" in m for m in warnings_(found))
    assert len(errors(mapper_check.check_config(path, strict=True))) == 2
    assert main(["check-yaml", str(path)]) == 0
    assert main(["check-yaml", "--strict", str(path)]) == 1
    capsys.readouterr()
    # create them: the onnx file and a calibration folder with one sample of the wrong size
    write(tmp_path / "m" / "mobileone_s3.onnx", "x")
    (tmp_path / "cal_f32").mkdir()
    assert any("empty" in m for m in errors(mapper_check.check_config(path, strict=True)))
    np.zeros((1, 3, 224, 224), np.float32).tofile(tmp_path / "cal_f32" / "0.rgb")
    assert mapper_check.check_config(path, strict=True) == []
    np.zeros((1, 3, 224, 224), np.uint8).tofile(tmp_path / "cal_f32" / "1.rgb")
    errs = errors(mapper_check.check_config(path))
    assert len(errs) == 1 and "602112 bytes" in errs[0]


def test_file_naming_another_model(tmp_path):
    cfg = generated_cfg("mobileone_s0", "x3")
    cfg["model_parameters"]["onnx_model"] = "../m/mobileone_s4.onnx"
    errs = errors(mapper_check.check_config(dump(tmp_path, cfg, "mobileone_s0_x3.yaml")))
    assert any("different models" in m for m in errs)
    # an unrelated name: mean/scale cannot be checked, said as a warning
    cfg = generated_cfg("mobileone_s0", "x3")
    cfg["model_parameters"]["onnx_model"] = "net.onnx"
    cfg["model_parameters"]["output_model_file_prefix"] = "net"
    found = mapper_check.check_config(dump(tmp_path, cfg, "net.yaml"))
    assert errors(found) == [] and any("cannot tell which registry model" in m for m in warnings_(found))


def test_vendor_style_yaml_is_accepted(tmp_path):
    """The shape of D-Robotics' own X5 MobileOne config (keys and value styles from vendor_facts)."""
    text = """
model_parameters:
  onnx_model: './mobileone_s0.onnx'
  march: "bayes-e"
  layer_out_dump: False
  working_dir: 'bin_dir/mobileone_s0'
  output_model_file_prefix: 'MobileOne_S0_224x224_nv12'
input_parameters:
  input_name: ""
  input_type_rt: 'nv12'
  input_type_train: 'rgb'
  input_layout_train: 'NCHW'
  input_shape: ''
  norm_type: 'data_mean_and_scale'
  mean_value: 123.675 116.28 103.53
  scale_value: 0.01712475 0.017507 0.01742919
calibration_parameters:
  cal_data_dir: './calibration_data_rgb_f32'
  cal_data_type: 'float32'
  calibration_type: 'default'
compiler_parameters:
  compile_mode: 'latency'
  debug: False
  optimize_level: 'O3'
  jobs: 32
"""
    path = write(tmp_path / "MobileOne_S0_config.yaml", text)
    assert errors(mapper_check.check_config(path)) == []
    pre = mapper.preprocess_of(mapper.load_config(path))
    assert pre.yuv_range == "full" and pre.input_shape is None and pre.input_name == ""

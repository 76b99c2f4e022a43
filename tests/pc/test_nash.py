"""The S-series (nash) hb_compile configs: generated from the registry, checked by check-yaml, and the
vendor's own S configs accepted.

Vendor configs reconstructed here key by key (D-Robotics/rdk_model_zoo, branch main):
* ``samples/vision/mobilenetv4/conversion/ptq_s.yaml`` (OE S v3.7.0; its @MARCH@/@WORK@/@TARGET@
  placeholders filled as its header says: march nash-e / nash-m / nash-p);
* ``samples/vision/mobilenetv1/conversion/ptq_s_100.yaml`` (the same plus a bias-correction quant_config);
* ``samples/vision/mobilenetv3/conversion/mobilenetv3_s_config.yaml`` (nash-e, BGR training input,
  node_info int16 on six nodes; two of them reproduced);
* ``samples/vision/mobilenetv4/conversion/mobilenetv4_medium_config.yaml`` (nash-e, 256 build).
"""
import re

import numpy as np
import pytest
import yaml

from helpers.board import nv12, registry
from helpers.cli import main
from helpers.errors import HelpersError
from helpers.pc import mapper, mapper_check, nash

S_TARGETS = [(k, b) for k, m in registry.MODELS.items() for b in m.boards if registry.board(b).is_s]
MARCH = {"s100": "nash-e", "s100p": "nash-m", "s600": "nash-p"}


def errors(findings):
    return [f.message for f in findings if f.level == "error"]


def dump(tmp_path, cfg, name):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def ptq_s(march, work="work", target="s100"):
    """rdk_model_zoo samples/vision/mobilenetv4/conversion/ptq_s.yaml with its placeholders filled."""
    return {
        "model_parameters": {"onnx_model": f"{work}/export/model.onnx", "march": march,
                             "working_dir": f"{work}/{target}/build", "output_model_file_prefix": f"mobilenetv4_{target}",
                             "debug_mode": "", "output_nodes": "", "remove_node_name": "", "remove_node_type": ""},
        "input_parameters": {"input_name": "data", "input_type_rt": "nv12", "input_type_train": "rgb",
                             "input_layout_train": "NCHW", "input_shape": "1x3x224x224",
                             "norm_type": "data_mean_and_scale", "mean_value": "123.675 116.28 103.53",
                             "scale_value": "0.0171247538317 0.0175070028011 0.0174291938998", "std_value": "",
                             "separate_batch": False, "input_space_and_range": "bt601_video"},
        "calibration_parameters": {"cal_data_dir": f"{work}/{target}/calibration/data", "cal_data_type": "float32",
                                   "calibration_type": "default", "quant_config": {}},
        "compiler_parameters": {"optimize_level": "O2", "compile_mode": "latency", "core_num": 1, "jobs": 16,
                                "advice": 0, "balance_factor": 0, "max_time_per_fc": 0, "cache_mode": "disable",
                                "cache_path": ""},
    }


def v3_s_config():
    """rdk_model_zoo samples/vision/mobilenetv3/conversion/mobilenetv3_s_config.yaml (two of its six nodes)."""
    int16 = {"ON": "BPU", "InputType": "int16", "OutputType": "int16"}
    return {
        "model_parameters": {"onnx_model": "./mobilenetv3_large_100.onnx", "march": "nash-e", "layer_out_dump": False,
                             "working_dir": "./model_output", "output_model_file_prefix": "mobilenetv3_224x224_nv12",
                             "node_info": {"/bn1/act/Mul": int16, "/bn2/act/Mul": int16}},
        "input_parameters": {"input_name": "", "input_type_rt": "nv12", "input_type_train": "bgr",
                             "input_layout_train": "NCHW", "input_shape": "", "norm_type": "data_mean_and_scale",
                             "mean_value": "103.53 116.28 123.675", "scale_value": "0.017429 0.017507 0.017124"},
        "calibration_parameters": {"cal_data_dir": "./calibration_data_bgr", "cal_data_type": "float32",
                                   "calibration_type": "default"},
        "compiler_parameters": {"optimize_level": "O2"},
    }


# ---------------------------------------------------------------- committed configs

@pytest.mark.parametrize("key,board", S_TARGETS)
def test_s_config_values_follow_the_registry(key, board):
    spec = registry.get(key)
    path = spec.yaml_path(board)
    text = path.read_text(encoding="utf-8")
    assert text == mapper.generate_yaml(key, board)  # drift (test_mapper checks every committed file too)
    cfg = mapper.load_config(path)
    mp, ip, cp, kp = (cfg[s] for s in mapper.SECTIONS)
    assert mp["march"] == MARCH[board] and mp["output_model_file_prefix"] == spec.bin_stem
    assert ip["input_type_rt"] == "nv12" and ip["input_space_and_range"] == "bt601_video"  # as ptq_s.yaml
    assert ip["input_shape"] == "1x3x{}x{}".format(*spec.input_size)
    np.testing.assert_allclose([float(v) for v in ip["mean_value"].split()], np.array(spec.mean) * 255, rtol=1e-9)
    assert kp == {"compile_mode": "latency", "optimize_level": "O2", "core_num": 1}
    assert cp["cal_data_type"] == "float32"
    assert f"hb_compile --config {path.name}" in text and f"--march {MARCH[board]}" in text
    assert "hb_mapper" not in text
    for section, keys in cfg.items():
        assert set(keys) <= set(nash.ACCEPTED_KEYS[section])
    assert errors(mapper_check.check_config(path)) == []
    assert mapper.preprocess_of(cfg).yuv_range == "limited"


def test_the_s_medium_note_names_the_zoos_256_input():
    text = mapper.generate_yaml("mobilenetv4_conv_medium", "s600")
    assert "mobilenetv4_medium_256x256_nv12.hbm takes 256x256" in text and "1x3x224x224" in text


def test_cli_yaml_for_s_boards(tmp_path):
    out = tmp_path / "m.yaml"
    assert main(["yaml", "mobilenetv4_conv_small", "--board", "s100p", "--out", str(out)]) == 0
    assert mapper.load_config(out)["model_parameters"]["march"] == "nash-m"
    assert main(["yaml", "mobilenetv4_conv_small", "--board", "s600", "--out", str(out), "--yuv-range", "full"]) == 0
    assert mapper.load_config(out)["input_parameters"]["input_space_and_range"] == "regular"
    assert main(["yaml", "mobilenetv4_conv_small", "--board", "s700"]) == 2


# ---------------------------------------------------------------- the vendor's own S configs pass

@pytest.mark.parametrize("march", ["nash-e", "nash-m", "nash-p"])
def test_vendor_ptq_s_yaml_passes(tmp_path, march):
    errs = errors(mapper_check.check_config(dump(tmp_path, ptq_s(march), "ptq_s.yaml")))
    assert errs == []


def test_vendor_mobilenetv1_ptq_s_100_passes(tmp_path):
    cfg = ptq_s("nash-p", target="s600")
    cfg["input_parameters"].update(mean_value="127.5 127.5 127.5",
                                   scale_value="0.0078431372549 0.0078431372549 0.0078431372549")
    cfg["calibration_parameters"]["quant_config"] = {
        "model_config": {"weight": {"bias_correction": {"num_sample": 1, "metric": "cosine-similarity"}}}}
    assert errors(mapper_check.check_config(dump(tmp_path, cfg, "ptq_s_100.yaml"))) == []


def test_vendor_mobilenetv3_s_config_passes_with_its_bgr_order_and_int16_nodes(tmp_path):
    findings = mapper_check.check_config(dump(tmp_path, v3_s_config(), "mobilenetv3_s_config.yaml"))
    assert errors(findings) == []
    # it is recognised as mobilenetv3_large_100 and its BGR mean/scale checked (not skipped)
    assert not any("cannot tell which registry model" in f.message for f in findings)


def test_vendor_medium_config_passes(tmp_path):
    cfg = v3_s_config()
    del cfg["model_parameters"]["node_info"]
    cfg["model_parameters"].update(onnx_model="./mobilenetv4_conv_medium.onnx",
                                   working_dir="./mobilenetv4_medium_256x256_nv12",
                                   output_model_file_prefix="mobilenetv4_medium_256x256_nv12")
    cfg["calibration_parameters"]["cal_data_dir"] = "./calibration_data_bgr_256"
    assert errors(mapper_check.check_config(dump(tmp_path, cfg, "mobilenetv4_medium_config.yaml"))) == []


def test_set_all_nodes_int16_is_accepted_on_nash(tmp_path):
    cfg = ptq_s("nash-e")
    cfg["calibration_parameters"]["optimization"] = "set_all_nodes_int16"
    assert errors(mapper_check.check_config(dump(tmp_path, cfg, "c.yaml"))) == []


# ---------------------------------------------------------------- refused, one line naming the fix

def test_o3_on_nash_is_refused_naming_o2(tmp_path):
    cfg = ptq_s("nash-e")
    cfg["compiler_parameters"]["optimize_level"] = "O3"
    errs = errors(mapper_check.check_config(dump(tmp_path, cfg, "c.yaml")))
    assert len(errs) == 1 and "'O3'" in errs[0] and "use optimize_level: 'O2'" in errs[0]
    assert "rdk_model_zoo_s/issues/16" in errs[0] and "\n" not in errs[0]
    # O3 stays valid on X5 (the generated X5 files use it)
    assert mapper.load_config(registry.get("mobileone_s0").yaml_path("x5"))["compiler_parameters"]["optimize_level"] == "O3"


def test_x5_yaml_given_for_an_s_board(tmp_path, capsys):
    x5 = registry.get("mobilenetv4_conv_small").yaml_path("x5")
    errs = errors(mapper_check.check_config(x5, for_board="s100"))
    assert any("RDK X5 config" in m and "python -m helpers yaml mobilenetv4_conv_small --board s100" in m for m in errs)
    assert main(["check-yaml", "--board", "s100", str(x5)]) == 1
    assert "hb_compile config with march 'nash-e'" in capsys.readouterr().out
    # an X5 yaml renamed _s100: the file name says the board
    cfg = yaml.safe_load(x5.read_text())
    errs = errors(mapper_check.check_config(dump(tmp_path, cfg, "mobilenetv4_conv_small_s100.yaml")))
    assert any("RDK X5 config" in m and "--board s100" in m for m in errs)


@pytest.mark.parametrize("march,board", [("nash-p", "s100"), ("nash-e", "s600"), ("nash-m", "s100")])
def test_wrong_nash_march(tmp_path, march, board):
    cfg = yaml.safe_load(mapper.generate_yaml("mobilenetv4_conv_small", board))
    cfg["model_parameters"]["march"] = march
    errs = errors(mapper_check.check_config(dump(tmp_path, cfg, f"mobilenetv4_conv_small_{board}.yaml")))
    assert len(errs) == 1 and f"use march '{MARCH[board]}'" in errs[0]


def test_x_only_keys_in_an_s_config(tmp_path):
    cfg = ptq_s("nash-e")
    cfg["compiler_parameters"]["optimize_level"] = "O2"
    cfg["model_parameters"]["set_node_data_type"] = "int16"  # an X5 (bayes-e) key
    errs = errors(mapper_check.check_config(dump(tmp_path, cfg, "c.yaml")))
    assert any("set_node_data_type" in m and "bayes-e" in m and "remove it" in m for m in errs)


def test_require_s_keys_for_bundle_like_callers():
    x5 = mapper.load_config(registry.get("mobileone_s0").yaml_path("x5"))
    with pytest.raises(HelpersError, match=r"RDK X5 mapper yaml .*python -m helpers yaml KEY --board s100"):
        nash.require_s_keys(x5, "s100")
    s600 = mapper.load_config(registry.get("mobileone_s0").yaml_path("s600"))
    with pytest.raises(HelpersError, match="set march: 'nash-e'"):
        nash.require_s_keys(s600, registry.board("s100"))
    s600["compiler_parameters"]["optimize_level"] = "O3"
    with pytest.raises(HelpersError, match="O2"):
        nash.require_s_keys(s600, "s600")
    nash.require_s_keys(mapper.load_config(registry.get("mobileone_s0").yaml_path("s100")), "s100")


# ---------------------------------------------------------------- the quantisation preview on nash

@pytest.mark.parametrize("board", ["s100", "s100p", "s600"])
def test_nash_keeps_nodes_in_int16_like_x5(tmp_path, board):
    from helpers.pc import node_info

    b = registry.board(board)
    assert node_info.keep_as(b.march) == "int16" and b.march in node_info.NODE_INFO_MARCHES
    assert b.march in node_info.ALL_INT16_MARCHES and "x3" not in node_info.ALL_INT16_MARCHES
    text = mapper.generate_yaml("mobilenetv4_conv_small", b, keep_nodes=["/conv_stem/Conv"])
    cfg = yaml.safe_load(text)
    assert cfg["model_parameters"]["node_info"] == {"/conv_stem/Conv": {"ON": "BPU", "InputType": "int16",
                                                                         "OutputType": "int16"}}
    assert errors(mapper_check.check_config(dump(tmp_path, cfg, f"mobilenetv4_conv_small_{board}.yaml"))) == []


def test_set_all_nodes_int16_refused_on_x3_accepted_on_x5(tmp_path):
    for board, ok in (("x3", False), ("x5", True), ("s100p", True)):
        cfg = yaml.safe_load(mapper.generate_yaml("mobileone_s0", board))
        cfg["calibration_parameters"]["optimization"] = "set_all_nodes_int16"
        errs = errors(mapper_check.check_config(dump(tmp_path, cfg, f"mobileone_s0_{board}.yaml")))
        assert (errs == []) == ok, (board, errs)
        if not ok:
            assert len(errs) == 1 and "remove it" in errs[0] and "run_on_cpu" in errs[0]

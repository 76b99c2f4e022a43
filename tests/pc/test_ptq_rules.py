"""check-yaml encodes the PTQ guide's input-type rules and still accepts every config the zoo publishes.

Rules: D-Robotics/rdk_doc, docs/07_Advanced_development/04_toolchain_development/intermediate/ptq_process.md
(the input_type_train x input_type_rt table; "RDK X3 does not support input_type_rt yuv444 with
input_layout_rt NCHW"). Zoo configs: the input_parameters of D-Robotics/rdk_model_zoo's yamls for these
models, quoted below (excerpts, with their files); the other sections are ours.
"""
import itertools

import pytest
import yaml

from helpers.board import registry
from helpers.pc import mapper, mapper_check, ptq_rules

# (key, board, zoo file): every one of them has these input_parameters
ZOO_CONFIGS = [
    ("mobileone_s0", "x5", "main: samples/vision/classification/MobileOne/yaml/MobileOne_S0_config.yaml"),
    ("mobileone_s4", "x5", "main: samples/vision/classification/MobileOne/yaml/MobileOne_S4_config.yaml"),
    ("mobilenetv3_large_100", "x5", "main: samples/vision/classification/MobileNetV3/yaml/MobileNetV3_config.yaml"),
    ("mobilenetv4_conv_small", "x5", "main: samples/vision/classification/MobileNetV4/yaml/MobileNetV4_small.yaml"),
    ("mobilenetv4_conv_medium", "x5", "main: samples/vision/classification/MobileNetV4/yaml/MobileNetV4_medium.yaml"),
    ("mobileone_s1", "x3", "rdk_x3: demos/classification/MobileOne/yaml/MobileOne_config.yaml"),
    ("mobilenetv4_conv_small", "x3", "rdk_x3: demos/classification/MobileNetV4/yaml/MobileNetV4_config.yaml"),
]
ZOO_INPUT_PARAMETERS = yaml.safe_load("""
  input_name: ""
  input_type_rt: 'nv12'
  input_type_train: 'rgb'
  input_layout_train: 'NCHW'
  input_shape: ''
  norm_type: 'data_mean_and_scale'
  mean_value: 123.675 116.28 103.53
  scale_value: 0.01712475 0.017507 0.01742919
""")
# the zoo's MobileNetV3 yaml also has model_parameters.node_info (int16 on four nodes), excerpt:
ZOO_NODE_INFO = {"/bn1/act/Mul": {"ON": "BPU", "InputType": "int16", "OutputType": "int16"}}


def _config(tmp_path, key, board, **input_parameters):
    cfg = mapper.load_config(registry.get(key).yaml_path(board))
    cfg["input_parameters"] = dict(input_parameters)
    path = tmp_path / f"{key}_{board}.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _errors(path):
    return [f.message for f in mapper_check.check_config(path) if f.level == "error"]


@pytest.mark.parametrize("key,board,source", ZOO_CONFIGS)
def test_every_zoo_config_passes(tmp_path, key, board, source):
    path = _config(tmp_path, key, board, **ZOO_INPUT_PARAMETERS)
    if "MobileNetV3" in source:
        cfg = yaml.safe_load(path.read_text())
        cfg["model_parameters"]["node_info"] = ZOO_NODE_INFO
        path.write_text(yaml.safe_dump(cfg))
    assert _errors(path) == [], source


def test_the_guide_table():
    """Spot checks written from the guide's table (Y/N cells), not derived from SUPPORTED_RT."""
    yes = [("rgb", "nv12"), ("bgr", "yuv444"), ("yuv444", "nv12"), ("gray", "gray"), ("featuremap", "featuremap"),
           ("rgb", "bgr")]
    no = [("rgb", "featuremap"), ("rgb", "gray"), ("yuv444", "rgb"), ("gray", "nv12"), ("featuremap", "nv12"),
          ("bgr", "gray")]
    for train, rt in yes:
        assert ptq_rules.input_type_errors(rt, train, None, "bayes-e") == [], (train, rt)
    for train, rt in no:
        assert ptq_rules.input_type_errors(rt, train, None, "bayes-e"), (train, rt)
    n_yes = sum(not ptq_rules.input_type_errors(rt, train, None, "bayes-e")
                for train, rt in itertools.product(ptq_rules.INPUT_TYPES_TRAIN, ptq_rules.INPUT_TYPES_RT))
    assert n_yes == 2 + 4 + 4 + 1 + 1  # the Y cells of the table


@pytest.mark.parametrize("train,rt,board,layout_rt,bad", [
    ("rgb", "featuremap", "x5", None, "not a conversion the toolchain offers"),
    ("gray", "nv12", "x5", None, "not a conversion the toolchain offers"),
    ("rgb", "yuv444", "x3", "NCHW", "RDK X3 (bernoulli2) does not support input_type_rt 'yuv444'"),
    ("rgb", "yuv444", "x3", "NHWC", None),
    ("rgb", "yuv444", "x5", "NCHW", None),
    ("bgr", "bgr", "x3", "NHWC", None),
])
def test_check_yaml_applies_the_rules(tmp_path, train, rt, board, layout_rt, bad):
    ip = dict(ZOO_INPUT_PARAMETERS, input_type_train=train, input_type_rt=rt)
    if layout_rt:
        ip["input_layout_rt"] = layout_rt
    if train == "gray":
        ip.update(mean_value="128", scale_value="0.0078125")
    errs = [e for e in _errors(_config(tmp_path, "mobileone_s1", board, **ip)) if "mean_value" not in e
            and "scale_value" not in e]
    if bad:
        assert any(bad in e for e in errs), errs
        assert all("\n" not in e for e in errs)
    else:
        assert errs == []

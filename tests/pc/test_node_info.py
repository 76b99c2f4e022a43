"""node_info (int16 on X5) / run_on_cpu (X3) in the mapper yamls: written in the guide's syntax, checked by check-yaml."""
import numpy as np
import onnx
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper

from helpers.cli import main
from helpers.errors import HelpersError
from helpers.pc import mapper, mapper_check, node_info

NODES = ["/stem/conv/Conv", "/stem/act/Relu", "/blocks/blocks.0/conv_pw/Conv"]


def tiny_onnx(path):
    w1 = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w1")
    w2 = numpy_helper.from_array(np.ones((4, 4, 1, 1), np.float32), "w2")
    g = helper.make_graph(
        [helper.make_node("Conv", ["data", "w1"], ["a"], name=NODES[0], pads=[1, 1, 1, 1]),
         helper.make_node("Relu", ["a"], ["b"], name=NODES[1]),
         helper.make_node("Conv", ["b", "w2"], ["out"], name=NODES[2])],
        "tiny", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4, 8, 8])], [w1, w2])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)]), str(path))
    return path


def write_variant(tmp_path, board, nodes):
    tiny_onnx(tmp_path / "m.onnx")
    text = mapper.generate_yaml("mobileone_s0", board, onnx_model="./m.onnx", keep_nodes=nodes)
    path = tmp_path / f"mobileone_s0_{board}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def errors(findings):
    return [f.message for f in findings if f.level == "error"]


def test_x5_variant_keeps_nodes_in_int16_with_the_zoo_syntax(tmp_path):
    path, text = write_variant(tmp_path, "x5", NODES[::2])
    # the zoo's MobileNetV3 X5 config writes: "name": {'ON': 'BPU', 'InputType': 'int16', 'OutputType': 'int16'}
    assert "\"/stem/conv/Conv\": {'ON': 'BPU', 'InputType': 'int16', 'OutputType': 'int16'}," in text
    cfg = yaml.safe_load(text)
    assert cfg["model_parameters"]["node_info"] == {
        "/stem/conv/Conv": {"ON": "BPU", "InputType": "int16", "OutputType": "int16"},
        "/blocks/blocks.0/conv_pw/Conv": {"ON": "BPU", "InputType": "int16", "OutputType": "int16"}}
    assert "run_on_cpu" not in cfg["calibration_parameters"]
    assert not [m for m in errors(mapper_check.check_config(path)) if "node" in m]
    assert node_info.kept_nodes(cfg) == (NODES[::2], [])


def test_x3_variant_runs_nodes_on_the_cpu(tmp_path):
    path, text = write_variant(tmp_path, "x3", NODES[::2])
    cfg = yaml.safe_load(text)
    assert "node_info" not in cfg["model_parameters"]
    assert cfg["calibration_parameters"]["run_on_cpu"] == "/stem/conv/Conv; /blocks/blocks.0/conv_pw/Conv"
    assert not [m for m in errors(mapper_check.check_config(path)) if "node" in m or "run_on_cpu" in m]
    assert node_info.kept_nodes(cfg) == ([], NODES[::2])


def test_check_yaml_finds_unknown_nodes_and_node_info_on_x3(tmp_path, capsys):
    path, text = write_variant(tmp_path, "x5", NODES[:1])
    path.write_text(text.replace("/stem/conv/Conv", "/stem/conv/Cnv"), encoding="utf-8")
    errs = errors(mapper_check.check_config(path))
    assert any("not in m.onnx" in e and "'/stem/conv/Conv'" in e for e in errs), errs
    assert main(["check-yaml", str(path)]) == 1
    # node_info in an X3 file: the X3 toolchain has no int16; run_on_cpu is the way
    x3, _ = write_variant(tmp_path, "x3", [])
    cfg = yaml.safe_load(x3.read_text())
    cfg["model_parameters"]["node_info"] = {NODES[0]: {"ON": "BPU", "InputType": "int16"}}
    x3.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    assert any("run_on_cpu" in e and "int16" in e for e in errors(mapper_check.check_config(x3)))


@pytest.mark.parametrize("value, needle", [
    ({"/a": {"ON": "GPU"}}, "not BPU or CPU"),
    ({"/a": {"OutputType0": "int16"}}, "OutputType0 is not supported"),
    ({"/a": {"InputType1": "int32"}}, "'int32' is not one of"),
    ({"/a": {"Precision": "int16"}}, "unknown key 'Precision'"),
    ({"/a": "int16"}, "not a mapping"),
    ("/a:int16;/b", "is not 'node_name:int16'"),
    (["/a"], "give a mapping"),
])
def test_bad_node_info_values(value, needle):
    _, problems = node_info.parse_node_info(value)
    assert any(needle in p for p in problems), problems


def test_short_form_and_per_input_types():
    nodes, problems = node_info.parse_node_info("/a:int16; /b:int8")
    assert problems == [] and nodes == {"/a": {"InputType": "int16", "OutputType": "int16"},
                                        "/b": {"InputType": "int8", "OutputType": "int8"}}
    nodes, problems = node_info.parse_node_info({"/c": {"ON": "CPU"}, "/d": {"InputType0": "int16"}})
    assert problems == []
    cfg = {"model_parameters": {"node_info": {"/c": {"ON": "CPU"}, "/d": {"InputType0": "int16"}}},
           "calibration_parameters": {"run_on_cpu": "/e"}}
    assert node_info.kept_nodes(cfg) == (["/d"], ["/c", "/e"])
    with pytest.raises(HelpersError, match="quote"):
        node_info.yaml_lines("bayes-e", ["/a'b"])

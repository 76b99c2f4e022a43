"""The PC board model: NV12 uint8 in, the yaml's colour conversion and normalisation, then the float graph."""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper

from helpers.pc import board_model, mapper
from helpers.board import nv12, registry
from helpers.board.image import sample_images
from helpers.cli import main
from helpers.errors import HelpersError
from helpers.board.image import board_resize, load_image
from helpers.board.runtime import open_model


def make_onnx(path, kind="conv", key="mobileone_s0", h=224, w=224, opset=11, classes=10, seed=0):
    """A tiny float model with our export's interface: input 'data' (1,3,H,W) float, output 'output'.

    ``kind="scale"`` multiplies the input by 1, so the board model's output is exactly what the
    float model sees (the pre-processing result).
    """
    rng = np.random.default_rng(seed)
    inits = []
    if kind == "scale":
        inits.append(numpy_helper.from_array(np.array(1.0, np.float32), "one"))
        nodes = [helper.make_node("Mul", ["data", "one"], ["output"])]
        out_shape = [1, 3, h, w]
    else:
        inits += [numpy_helper.from_array(rng.normal(0, .3, (8, 3, 3, 3)).astype(np.float32), "w1"),
                  numpy_helper.from_array(rng.normal(0, .3, (classes, 8)).astype(np.float32), "w2"),
                  numpy_helper.from_array(np.zeros(classes, np.float32), "b2")]
        nodes = [helper.make_node("Conv", ["data", "w1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
                 helper.make_node("Relu", ["c1"], ["r1"]),
                 helper.make_node("GlobalAveragePool", ["r1"], ["p"]),
                 helper.make_node("Flatten", ["p"], ["f"]),
                 helper.make_node("Gemm", ["f", "w2", "b2"], ["output"], transB=1)]
        out_shape = [1, classes]
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("data", TensorProto.FLOAT, [1, 3, h, w])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    for k, v in {"rdk.model_key": key, "rdk.weights": "random", "rdk.opset": str(opset)}.items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(m, str(path))
    return path


def yaml_file(tmp_path, key="mobileone_s0", board="x5", yuv_range="full", **changes):
    cfg = yaml.safe_load(mapper.generate_yaml(key, board, yuv_range))
    cfg["input_parameters"].update(changes)
    path = tmp_path / f"{key}_{board}_{yuv_range}_{'_'.join(map(str, changes.values()))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def expected_input(buf, cfg, h, w, yuv_range):
    """Independent NumPy reference: helpers.board.nv12's decode, then (x - mean_value) * scale_value."""
    ip = cfg["input_parameters"]
    mean = np.array([float(v) for v in str(ip["mean_value"]).split()], np.float32)
    scale = np.array([float(v) for v in str(ip["scale_value"]).split()], np.float32)
    rgb = nv12.nv12_to_rgb_float(buf, h, w, yuv_range)
    return ((rgb - mean) * scale).transpose(2, 0, 1)[None]


def random_nv12(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, h * w * 3 // 2, dtype=np.uint8)


# ---------------------------------------------------------------- correctness

@pytest.mark.parametrize("key,board,yuv_range", [("mobileone_s0", "x5", "full"), ("mobilenetv1_100", "x3", "full"),
                                                 ("mobileone_s0", "x3", "limited"), ("mobilenetv1_100", "x5", "limited")])
def test_preprocessing_matches_numpy_reference(tmp_path, key, board, yuv_range):
    src = make_onnx(tmp_path / "scale.onnx", "scale", key=key)
    y = yaml_file(tmp_path, key, board, yuv_range)
    out = board_model.build_board_model(src, y, tmp_path / "board.onnx")
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    cfg = yaml.safe_load(y.read_text())
    for seed in range(3):
        buf = random_nv12(224, 224, seed)
        got = sess.run(None, {"data": buf.reshape(1, 336, 224)})[0]
        want = expected_input(buf, cfg, 224, 224, yuv_range)
        assert got.shape == (1, 3, 224, 224)
        assert np.abs(got - want).max() <= 1e-5
        pre = mapper.preprocess_of(cfg)
        assert np.abs(board_model.reference_input(buf, pre, 224, 224) - want).max() <= 1e-6


def test_range_changes_the_result(tmp_path):
    """A guard that the test above can fail: decoding in the other range gives a visibly different input."""
    src = make_onnx(tmp_path / "scale.onnx", "scale")
    full = board_model.build_board_model(src, yaml_file(tmp_path, yuv_range="full"), tmp_path / "f.onnx")
    lim = board_model.build_board_model(src, yaml_file(tmp_path, yuv_range="limited"), tmp_path / "l.onnx")
    buf = random_nv12(224, 224, 7).reshape(1, 336, 224)
    a = ort.InferenceSession(str(full)).run(None, {"data": buf})[0]
    b = ort.InferenceSession(str(lim)).run(None, {"data": buf})[0]
    assert np.abs(a - b).max() > 0.05


def test_odd_size_input_and_nonsquare(tmp_path):
    src = make_onnx(tmp_path / "scale.onnx", "scale", h=96, w=160)
    y = yaml_file(tmp_path, input_shape="1x3x96x160")
    out = board_model.build_board_model(src, y, tmp_path / "board.onnx")
    buf = random_nv12(96, 160, 3)
    got = ort.InferenceSession(str(out)).run(None, {"data": buf.reshape(1, 144, 160)})[0]
    assert np.abs(got - expected_input(buf, yaml.safe_load(y.read_text()), 96, 160, "full")).max() <= 1e-5


def test_full_model_logits_match_reference(tmp_path):
    src = make_onnx(tmp_path / "conv.onnx")
    y = yaml_file(tmp_path)
    out = board_model.build_board_model(src, y, tmp_path / "board.onnx")
    board, flt = ort.InferenceSession(str(out)), ort.InferenceSession(str(src))
    cfg = yaml.safe_load(y.read_text())
    buf = random_nv12(224, 224, 11)
    got = board.run(None, {"data": buf.reshape(1, 336, 224)})[0]
    want = flt.run(None, {"data": expected_input(buf, cfg, 224, 224, "full").astype(np.float32)})[0]
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


def test_exported_model_matches_reference(tmp_path, random_onnx):
    pytest.importorskip("helpers.pc.export")
    key = "mobilenetv4_conv_small"
    src = random_onnx(key)
    out = board_model.build_board_model(src, registry.get(key).yaml_path("x5"), tmp_path / "board.onnx")
    board, flt = open_model(out), open_model(src)
    assert board.input.shape == (1, 3, 224, 224) and board.input.dtype == "nv12"
    cfg = mapper.load_config(registry.get(key).yaml_path("x5"))
    for seed in range(2):
        buf = random_nv12(224, 224, seed)
        got = board.run(buf)[0]
        want = flt.run(expected_input(buf, cfg, 224, 224, "full").astype(np.float32))[0]
        assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
    assert onnx.load(str(out)).opset_import[0].version == onnx.load(str(src)).opset_import[0].version


def test_metadata_and_runtime_view(tmp_path):
    src = make_onnx(tmp_path / "conv.onnx")
    out = board_model.build_board_model(src, yaml_file(tmp_path, yuv_range="limited"), tmp_path / "board.onnx")
    m = open_model(out)
    assert m.metadata["rdk.input_type_rt"] == "nv12" and m.metadata["rdk.yuv_range"] == "limited"
    assert m.metadata["rdk.model_key"] == "mobileone_s0" and m.metadata["rdk.weights"] == "random"
    assert json.loads(m.metadata["rdk.mean_value"]) == pytest.approx([123.675, 116.28, 103.53])
    assert m.input.shape == (1, 3, 224, 224) and m.input.dtype == "nv12"
    sess = ort.InferenceSession(str(out))
    i = sess.get_inputs()[0]
    assert (i.name, i.type, list(i.shape)) == ("data", "tensor(uint8)", [1, 336, 224])
    assert onnx.load(str(out)).opset_import[0].version == 11


def test_opset10_source_keeps_opset(tmp_path):
    src = make_onnx(tmp_path / "s10.onnx", "scale", opset=10)
    out = board_model.build_board_model(src, yaml_file(tmp_path), tmp_path / "b10.onnx")
    assert onnx.load(str(out)).opset_import[0].version == 10
    buf = random_nv12(224, 224, 5)
    got = ort.InferenceSession(str(out)).run(None, {"data": buf.reshape(1, 336, 224)})[0]
    cfg = yaml.safe_load(yaml_file(tmp_path).read_text())
    assert np.abs(got - expected_input(buf, cfg, 224, 224, "full")).max() <= 1e-5


@pytest.mark.parametrize("rt", ["rgb", "bgr"])
def test_rgb_and_bgr_runtime_inputs(tmp_path, rt):
    src = make_onnx(tmp_path / "scale.onnx", "scale")
    y = yaml_file(tmp_path, input_type_rt=rt)
    out = board_model.build_board_model(src, y, tmp_path / f"{rt}.onnx")
    m = open_model(out)
    assert m.metadata["rdk.input_type_rt"] == rt and "rdk.yuv_range" not in m.metadata
    assert m.input.layout == "NHWC" and m.input.dtype == rt
    rgb = np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    feed = rgb[None] if rt == "rgb" else np.ascontiguousarray(rgb[None, :, :, ::-1])
    got = ort.InferenceSession(str(out)).run(None, {"data": feed})[0]
    cfg = yaml.safe_load(y.read_text())
    mean = np.array([float(v) for v in cfg["input_parameters"]["mean_value"].split()], np.float32)
    scale = np.array([float(v) for v in cfg["input_parameters"]["scale_value"].split()], np.float32)
    want = ((rgb.astype(np.float32) - mean) * scale).transpose(2, 0, 1)[None]
    assert np.abs(got - want).max() <= 1e-5


# ---------------------------------------------------------------- bad inputs

def test_nv12_buffer_of_wrong_length(tmp_path):
    src = make_onnx(tmp_path / "conv.onnx")
    out = board_model.build_board_model(src, yaml_file(tmp_path), tmp_path / "board.onnx")
    m = open_model(out)
    for bad in (np.zeros(224 * 224, np.uint8), np.zeros(224 * 224 * 3 // 2 + 1, np.uint8),
                np.zeros(224 * 224 * 3 // 2, np.float32)):
        with pytest.raises(HelpersError, match="W\\*H\\*3/2") as e:
            m.run(bad)
        assert "\n" not in str(e.value)
    pre = mapper.preprocess_of(mapper.load_config(yaml_file(tmp_path)))
    with pytest.raises(HelpersError, match="bytes"):
        board_model.reference_input(np.zeros(100, np.uint8), pre, 224, 224)


@pytest.mark.parametrize("rt", ["yuv444", "featuremap", "gray"])
def test_unsupported_input_type_rt_refused(tmp_path, rt):
    src = make_onnx(tmp_path / "conv.onnx")
    with pytest.raises(HelpersError, match=f"input_type_rt '{rt}' is not supported"):
        board_model.build_board_model(src, yaml_file(tmp_path, input_type_rt=rt), tmp_path / "b.onnx")
    assert not (tmp_path / "b.onnx").exists()


def test_other_bad_inputs(tmp_path):
    src = make_onnx(tmp_path / "conv.onnx")
    y = yaml_file(tmp_path)
    out = board_model.build_board_model(src, y, tmp_path / "board.onnx")
    with pytest.raises(HelpersError, match="--overwrite"):
        board_model.build_board_model(src, y, out)
    board_model.build_board_model(src, y, out, overwrite=True)
    with pytest.raises(HelpersError, match="already a board model"):
        board_model.build_board_model(out, y, tmp_path / "again.onnx")
    with pytest.raises(HelpersError, match="input_shape"):
        board_model.build_board_model(src, yaml_file(tmp_path, input_shape="1x3x256x256"), tmp_path / "x.onnx")
    with pytest.raises(HelpersError, match="input_name"):
        board_model.build_board_model(src, yaml_file(tmp_path, input_name="input"), tmp_path / "x.onnx")
    with pytest.raises(HelpersError, match="not found"):
        board_model.build_board_model(tmp_path / "none.onnx", y, tmp_path / "x.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(HelpersError, match="not a readable ONNX"):
        board_model.build_board_model(tmp_path / "junk.onnx", y, tmp_path / "x.onnx")
    (tmp_path / "bad.yaml").write_text("input_parameters: {input_type_rt: nv12\n")
    with pytest.raises(HelpersError, match="not valid YAML"):
        board_model.build_board_model(src, tmp_path / "bad.yaml", tmp_path / "x.onnx")


def test_default_path_is_the_bin_stem():
    for key, spec in registry.MODELS.items():
        p = registry.get(key).board_onnx_path
        assert p.parent.name == spec.arch and p.name == f"{spec.bin_stem}.onnx"


# ---------------------------------------------------------------- RGB vs NV12 on real photos

def test_compare_paths_on_sample_images(tmp_path):
    src = make_onnx(tmp_path / "conv.onnx")
    out = board_model.build_board_model(src, yaml_file(tmp_path), tmp_path / "board.onnx")
    c = board_model.compare_paths(src, out, sample_images())
    assert len(c["rows"]) == len(sample_images()) == 5
    # the two paths differ only by NV12 rounding and 4:2:0 chroma: small, but not zero
    rows = [a for _, a in c["rows"]]
    assert all(a.ok for a in rows) and c["summary"]["passed"] == 5 and c["summary"]["ok"]
    assert all(0 < a.colour_rel_err < 0.05 for a in rows)
    assert all(a.contract_rel_err <= 1e-5 for a in rows)
    text = board_model.format_comparison(c)
    assert "not the pretrained ImageNet ones" in text and "top-1 agreement" in text
    # an independent check of one row: the RGB path computed by hand
    rgb = board_resize(load_image(sample_images()[1]), (224, 224))
    spec = registry.get("mobileone_s0")
    x = ((rgb / 255.0 - np.array(spec.mean)) / np.array(spec.std)).astype(np.float32).transpose(2, 0, 1)[None]
    lf = ort.InferenceSession(str(src)).run(None, {"data": x})[0].reshape(-1)
    assert c["rows"][1][1].top1_rgb == int(np.argmax(lf))


def test_cli_board_model(tmp_path, capsys):
    src = make_onnx(tmp_path / "conv.onnx")
    out = tmp_path / "cli.onnx"
    assert main(["board-model", str(src), str(yaml_file(tmp_path)), "--out", str(out), "--compare"]) == 0
    text = capsys.readouterr().out
    assert "nv12 [1, 3, 224, 224]" in text and "chelsea.jpg" in text
    assert main(["board-model", str(src), str(yaml_file(tmp_path, input_type_rt="yuv444")), "--out",
                 str(tmp_path / "y.onnx")]) == 2
    assert "not supported" in capsys.readouterr().err


# ---------------------------------------------------------------- the S-series (.hbm) contract

def test_s_board_model_takes_split_nv12(tmp_path):
    """An S yaml (march nash-*) gives the .hbm's inputs: uint8 y (1,H,W,1) and uv (1,H/2,W/2,2); the
    pre-processing is the packed model's, in the yaml's range (bt601_video for the S configs)."""
    src = make_onnx(tmp_path / "scale.onnx", "scale")
    y = yaml_file(tmp_path, board="s100", yuv_range="limited")
    out = board_model.build_board_model(src, y, tmp_path / "s.onnx")
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape, i.type) for i in sess.get_inputs()] == [
        ("y", [1, 224, 224, 1], "tensor(uint8)"), ("uv", [1, 112, 112, 2], "tensor(uint8)")]
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta["rdk.nv12_inputs"] == "split" and meta["rdk.yuv_range"] == "limited" and meta["rdk.march"] == "nash-e"
    cfg = yaml.safe_load(y.read_text())
    buf = random_nv12(224, 224, 5)
    got = sess.run(None, {"y": buf[:224 * 224].reshape(1, 224, 224, 1), "uv": buf[224 * 224:].reshape(1, 112, 112, 2)})[0]
    assert np.abs(got - expected_input(buf, cfg, 224, 224, "limited")).max() <= 1e-5
    # OrtBackend: reported like every NV12 model, fed the packed bytes (the shared contract), split inside
    m = open_model(out)
    assert m.input.shape == (1, 3, 224, 224) and m.input.dtype == "nv12" and "split" in m.input.note
    assert np.abs(m.run(buf)[0] - got).max() == 0
    with pytest.raises(HelpersError, match="uint8 bytes"):
        m.run(buf[:-2])


def test_s_board_model_agrees_with_the_x5_board_model_on_photos(tmp_path, random_onnx):
    """Same float model, same range: the S (split) and X5 (packed) board models give the same logits and
    top-1 on the sample photos, through the Classifier (which encodes NV12 in the range the metadata names)."""
    from helpers.board.classifier import Classifier

    key = "mobilenetv4_conv_small"
    src = random_onnx(key)
    s = board_model.build_board_model(src, registry.get(key).yaml_path("s100"), tmp_path / "s100.onnx")
    x5_limited = tmp_path / f"{key}_x5.yaml"
    x5_limited.write_text(mapper.generate_yaml(key, "x5", "limited"))
    x = board_model.build_board_model(src, x5_limited, tmp_path / "x5.onnx")
    cs, cx = Classifier(s), Classifier(x)
    assert cs.yuv_range == cx.yuv_range == "limited"
    for img in sample_images():
        rgb = board_resize(load_image(img), cs.size)
        a, b = cs.runtime.run(cs.feed(rgb))[0].ravel(), cx.runtime.run(cx.feed(rgb))[0].ravel()
        assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(b).max()) and a.argmax() == b.argmax()
    # predict and bench take it like any model file
    assert main(["predict", str(s), str(sample_images()[0])]) == 0
    assert main(["bench", str(s), "--threads", "1", "--seconds", "0.1", "--no-end-to-end"]) == 0

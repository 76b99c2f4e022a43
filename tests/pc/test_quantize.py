"""INT8 preview: onnxruntime static quantisation from the mapper's calibration files."""
import json

import numpy as np
import onnx
import pytest
import torch

from helpers.pc import quantize as Q
from helpers.cli import main
from helpers.errors import HelpersError
from helpers.board.runtime import open_model
from helpers.board.meta import META_KEY, META_LABELS, META_MEAN, META_STD

SIZE = 16
MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]


class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 4))

    def forward(self, x):
        return self.body(x)


@pytest.fixture(scope="module")
def float_onnx(tmp_path_factory):
    torch.manual_seed(0)
    m = Small().eval()
    with torch.no_grad():  # give BatchNorm non-trivial statistics
        for bn in (m.body[1], m.body[4]):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("q") / "small.onnx"
    torch.onnx.export(m, (torch.randn(1, 3, SIZE, SIZE),), str(path), dynamo=False, opset_version=11,
                      input_names=["data"], output_names=["output"])
    proto = onnx.load(str(path))
    for k, v in {META_KEY: "mobileone_s0", META_MEAN: json.dumps(MEAN), META_STD: json.dumps(STD),
                 META_LABELS: json.dumps(list("abcd"))}.items():
        proto.metadata_props.add(key=k, value=v)
    onnx.save(proto, str(path))
    return path


@pytest.fixture(scope="module")
def calib(tmp_path_factory):
    """Raw float32 1x3xHxW 0..255 files, as `python -m helpers calib` writes them."""
    d = tmp_path_factory.mktemp("calib_f32")
    rng = np.random.default_rng(1)
    for i in range(24):
        base = rng.uniform(0, 255, (1, 3, 1, 1))
        x = np.clip(base + rng.normal(0, 40, (1, 3, SIZE, SIZE)), 0, 255).astype(np.float32)
        x.tofile(d / f"{i:05d}_s.rgb")
    return d


def test_reader_normalises_with_the_onnx_mean_std(calib):
    files = Q.calibration_files(calib)
    r = Q.RawCalibrationReader(files[:2], "data", (SIZE, SIZE), MEAN, STD)
    raw = np.fromfile(str(files[0]), np.float32).reshape(1, 3, SIZE, SIZE)
    expect = np.stack([(raw[0, c] / 255.0 - MEAN[c]) / STD[c] for c in range(3)])[None]
    got = r.get_next()["data"]
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)
    assert r.get_next() is not None and r.get_next() is None
    r.rewind()
    assert r.get_next() is not None


def test_quantize_writes_qdq_int8_with_metadata(float_onnx, calib, tmp_path):
    res = Q.quantize(float_onnx, calib, tmp_path / "int8.onnx")
    proto = onnx.load(str(res.path))
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    ints = [i for i in proto.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert ints, "weights must be stored as int8"
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta[META_KEY] == "mobileone_s0" and json.loads(meta[META_LABELS]) == list("abcd")
    assert json.loads(meta[Q.META_QUANT])["format"] == "QDQ"
    # both per-channel variants were measured and the kept one is the better-agreeing one
    assert {c.per_channel for c in res.candidates} == {False, True}
    best = max(res.candidates, key=lambda c: (c.top1_agreement, -c.logit_rel_err))
    assert res.per_channel == best.per_channel
    # independently: the int8 model's logits stay close to the float model's on the calibration data
    f, q = open_model(float_onnx), open_model(res.path)
    r = Q.RawCalibrationReader(Q.calibration_files(calib), "data", (SIZE, SIZE), MEAN, STD)
    errs = [np.linalg.norm(q.run(x)[0] - f.run(x)[0]) / np.linalg.norm(f.run(x)[0]) for x in r.samples]
    assert float(np.mean(errs)) < 0.2
    assert "not the BPU's" in res.summary() or "not the board's" in res.summary()


def test_forced_per_channel_and_overwrite(float_onnx, calib, tmp_path):
    out = tmp_path / "q.onnx"
    res = Q.quantize(float_onnx, calib, out, per_channel="on", count=8)
    assert [c.per_channel for c in res.candidates] == [True] and res.samples == 8
    with pytest.raises(HelpersError, match="already exists"):
        Q.quantize(float_onnx, calib, out)
    with pytest.raises(HelpersError, match="already quantised"):
        Q.quantize(out, calib, tmp_path / "again.onnx")


def test_bad_inputs(float_onnx, calib, tmp_path):
    with pytest.raises(HelpersError, match="calibration folder not found"):
        Q.quantize(float_onnx, tmp_path / "nope", tmp_path / "a.onnx")
    (tmp_path / "empty").mkdir()
    with pytest.raises(HelpersError, match="no calibration samples"):
        Q.quantize(float_onnx, tmp_path / "empty", tmp_path / "a.onnx")
    (tmp_path / "wrong").mkdir()
    np.zeros((1, 3, 8, 8), np.float32).tofile(tmp_path / "wrong" / "x.rgb")
    with pytest.raises(HelpersError, match="needs 768"):
        Q.quantize(float_onnx, tmp_path / "wrong", tmp_path / "a.onnx")
    proto = onnx.load(str(float_onnx))
    proto.metadata_props.add(key="rdk.input_type_rt", value="nv12")
    onnx.save(proto, str(tmp_path / "board.onnx"))
    with pytest.raises(HelpersError, match="board model"):
        Q.quantize(tmp_path / "board.onnx", calib, tmp_path / "a.onnx")


def test_cli_reports_and_requires_data_for_record(float_onnx, calib, tmp_path, capsys):
    assert main(["quantize", str(float_onnx), "--calib", str(calib), "--out", str(tmp_path / "c.onnx")]) == 0
    out = capsys.readouterr().out
    assert "per-channel" in out and "hb_mapper" in out
    assert main(["quantize", str(float_onnx), "--calib", str(calib), "--out", str(tmp_path / "d.onnx"), "--record"]) == 2


def test_a_conv_kept_in_float_inside_a_qdq_graph_runs_in_float(tmp_path):
    """onnxruntime's WeightBiasQuantization would quantise its weights per tensor (the X3 run_on_cpu preview
    then read 57 % instead of 95 % on the demo); our runtime must run the graph as written."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from helpers.board.runtime import open_model

    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 1, 3, 3)).astype(np.float32) * np.array([1e-3, 1.0, 30.0, 1e3], np.float32)[:, None, None, None]
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.zeros(4, np.float32), "b"),
             numpy_helper.from_array(np.array(0.02, np.float32), "s"), numpy_helper.from_array(np.array(0, np.int8), "z"),
             numpy_helper.from_array(np.array(0.05, np.float32), "s2")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"]),
             helper.make_node("Conv", ["xd", "w", "b"], ["c"], group=4, pads=[1, 1, 1, 1], name="dw"),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("QuantizeLinear", ["r", "s2", "z"], ["rq"]),
             helper.make_node("DequantizeLinear", ["rq", "s2", "z"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])], inits)
    path = tmp_path / "kept_float.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8), str(path))
    x = rng.uniform(-1, 1, (1, 4, 8, 8)).astype(np.float32)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    as_written = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    ours = np.asarray(open_model(path).run(x)[0])
    small = max(np.abs(as_written[0, 0]).max(), 1e-12)
    assert np.abs(ours - as_written).max() <= 1e-5 * np.abs(as_written).max()
    # the small-weight channel is the one a per-tensor int8 weight scale would wipe out
    assert np.abs(ours[0, 0] - as_written[0, 0]).max() <= 1e-3 * small

"""Per-layer INT8 sensitivity, the BPU-like scheme and the mapper calibration types of the preview."""
import json

import numpy as np
import onnx
import pytest

from helpers.errors import HelpersError
from helpers.pc import precision, sensitivity as S
from helpers.pc import quantize as Q
from helpers.board.runtime import open_model

from test_quantize import MEAN, SIZE, STD, calib, float_onnx  # noqa: F401 (fixtures)


def _labelled(float_onnx, n=24, seed=3):  # noqa: F811
    """Inputs labelled with the float model's own prediction: float top-1 is 100 % by construction."""
    rng = np.random.default_rng(seed)
    be = open_model(float_onnx)
    feeds = [rng.normal(0, 1, (1, 3, SIZE, SIZE)).astype(np.float32) for _ in range(n)]
    targets = np.array([int(np.argmax(be.run(x)[0])) for x in feeds])
    return S.Labelled(feeds, targets, f"synthetic, {n} images")


def _zero_points(path):
    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    out = {}
    for n in model.graph.node:
        if n.op_type == "QuantizeLinear" and len(n.input) > 2:
            zp = onnx.numpy_helper.to_array(inits[n.input[2]])
            out[n.input[0]] = zp
    return out


def test_calibration_types_map_to_onnxruntime_calibrators():
    assert [(m.ort, dict(m.options)) for m in precision.methods("default")] == [
        ("MinMax", {}), ("Percentile", {"percentile": 99.995}), ("Entropy", {})]
    assert [m.ort for m in precision.methods("kl")] == ["Entropy"]
    assert [(m.ort, dict(m.options)) for m in precision.methods("max", max_percentile=0.9999)] == [
        ("Percentile", {"percentile": pytest.approx(99.99)})]
    assert [m.ort for m in precision.methods(None, "entropy")] == ["Entropy"]
    for bad in ("mix", "load", "skip"):
        with pytest.raises(HelpersError, match="cannot be previewed"):
            precision.methods(bad)
    with pytest.raises(HelpersError, match="the mapper's names"):
        precision.methods("minmax")


def test_bpu_scheme_is_symmetric_per_channel_and_kept_nodes_are_int16_or_float(float_onnx, calib, tmp_path):  # noqa: F811
    res = Q.quantize(float_onnx, calib, tmp_path / "bpu.onnx", scheme="bpu", calibration_type="max")
    zps = _zero_points(res.path)
    assert zps and all(np.all(z == 0) for z in zps.values()), "symmetric activations have zero point 0"
    model = onnx.load(str(res.path))
    scales = [onnx.numpy_helper.to_array(i) for i in model.graph.initializer if i.name.endswith("weight_scale")]
    assert scales and any(s.size > 1 for s in scales), "per-channel weight scales"
    assert json.loads({p.key: p.value for p in model.metadata_props}[Q.META_QUANT])["scheme"] == "bpu"
    conv = [n.name for n in onnx.load(str(float_onnx)).graph.node if n.op_type == "Conv"][1]
    q16 = Q.quantize(float_onnx, calib, tmp_path / "k16.onnx", scheme="bpu", calibration_type="max", int16_nodes=[conv])
    node = next(n for n in onnx.load(str(q16.path)).graph.node if n.name == conv)
    z16 = _zero_points(q16.path)
    assert any(z.dtype == np.int16 for t, z in z16.items() if t in node.output)
    assert z16["data"].dtype == np.int8, "the rest of the network stays int8"
    qf = Q.quantize(float_onnx, calib, tmp_path / "kf.onnx", scheme="bpu", calibration_type="max", float_nodes=[conv])
    nodef = next(n for n in onnx.load(str(qf.path)).graph.node if n.name == conv)
    assert not any(i.endswith("_DequantizeLinear_Output") or "weight_DequantizeLinear" in i for i in nodef.input[1:])


def test_ranges_are_computed_once_per_method_and_the_ranking_is_reported(float_onnx, calib, monkeypatch):  # noqa: F811
    calls = []
    real = precision.calibrate
    monkeypatch.setattr(precision, "calibrate", lambda *a, **k: calls.append(a[2].label) or real(*a, **k))
    data = _labelled(float_onnx)
    res = S.analyse(float_onnx, calib, data, board="x5", calibration_type="default", budget=1.0, max_k=2,
                    report=data, progress=False)
    assert calls == ["max", "max 0.99995", "kl"], "one calibration per method, reused by every variant"
    names = {n.name for n in onnx.load(str(float_onnx)).graph.node}
    assert res.n_layers == 3 and {s.op for s in res.layers} == {"Conv", "Gemm"}
    assert all(s.name in names for s in res.layers) and set(res.chosen) <= names
    # ranked by logit error against float (keep mode: the layer whose keeping recovers most first)
    assert [s.logit_err for s in res.layers] == sorted(s.logit_err for s in res.layers)
    # the chosen prefix is the one closest to float; the ceiling keeps every layer and removes error
    errs = [s.logit_err for s in res.cumulative]
    assert errs[len(res.chosen) - 1] == min(errs)
    assert res.ceiling is not None and res.ceiling.logit_err < res.baseline.logit_err
    assert 0 < res.ceiling_share() <= 100 and "ceiling (all 3 kept as int16)" in res.summary()
    assert res.float_top1_rank == 100.0 and res.report["float"].top1 == 100.0
    assert 1 <= len(res.chosen) <= 2 and len(res.cumulative) == 2
    assert res.keep_as == "int16" and res.analysis_s > 0
    row = res.record_row()
    assert row["kept_layers"] == len(res.chosen) and row["layers"] == 3 and row["images"] == 24
    assert "rank" in res.table() and res.summary().count("top ") >= 2
    x3 = S.analyse(float_onnx, calib, data, board="x3", calibration_type="max", mode="only", progress=False)
    assert x3.keep_as == "float" and x3.budget_k == 1
    assert [s.logit_err for s in x3.layers] == sorted((s.logit_err for s in x3.layers), reverse=True)


def test_cli_writes_table_plot_json_and_yaml(float_onnx, calib, tmp_path, capsys):  # noqa: F811
    """`python -m helpers sensitivity` on a tiny labelled folder; the preview then honours its yaml."""
    import sys
    from pathlib import Path

    import yaml

    from helpers.board.meta import META_LABELS
    from helpers.cli import main
    from helpers.pc import mapper

    sys.path.insert(0, str(Path(__file__).parents[1] / "training"))
    from test_train import make_dataset

    data = make_dataset(tmp_path / "data", n_train=2, n_val=2)
    model = onnx.load(str(float_onnx))
    for p in model.metadata_props:
        if p.key == META_LABELS:
            p.value = json.dumps(["circle", "square", "stripe", "other"])
    onnx_file = tmp_path / "m.onnx"
    onnx.save(model, str(onnx_file))
    base = tmp_path / "base_x3.yaml"
    base.write_text(mapper.generate_yaml("mobileone_s0", "x3"), encoding="utf-8")
    assert main(["sensitivity", str(onnx_file), "--calib", str(calib), "--data", str(data), "--board", "x3",
                 "--calibration-type", "max", "--max-layers", "2", "--yaml-out", str(tmp_path / "kept_x3.yaml"),
                 "--yaml-base", str(base)]) == 0
    out = capsys.readouterr().out
    assert "rank" in out and "analysis" in out and "layers kept as float" in out
    doc = json.loads((tmp_path / "m_sensitivity.json").read_text())
    assert len(doc["layers"]) == 2 and doc["keep_as"] == "float" and doc["n_layers"] == 3
    assert (tmp_path / "m_sensitivity.png").stat().st_size > 1000
    cfg = yaml.safe_load((tmp_path / "kept_x3.yaml").read_text())
    assert cfg["calibration_parameters"]["run_on_cpu"] == "; ".join(doc["chosen"])
    # the preview honours the yaml: its run_on_cpu nodes stay float
    choice = Q.yaml_choice(tmp_path / "kept_x3.yaml")
    assert choice["float_nodes"] == doc["chosen"] and choice["int16_nodes"] == []

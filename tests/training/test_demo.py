"""The demo pipeline: its steps end to end on a tiny dataset, its table/targets, and its bad inputs."""
import json

import numpy as np
import onnx
import pytest

from helpers.training import demo as D
from helpers.cli import main
from helpers.errors import HelpersError
from helpers.training.evaluate import EvalResult


def _row(stage, top1, ms=1.0):
    return EvalResult(stage=stage, model=f"{stage}.onnx", path="", kind=stage, backend="onnxruntime",
                      weights="model.safetensors", key="mobileone_s0", dataset="d", images=400, top1=top1,
                      top5=100.0, images_per_s=1000.0 / ms, latency_ms=ms, latency_mean_ms=ms, seconds=1.0,
                      input_size=[32, 32], threads=None, class_match="by class name")


def _results(float_top1, nv12_top1, int8_top1):
    r = D.PipelineResults("mobileone_s0", None, 32, 3, "x5", "digits")
    r.stages = [_row(D.STAGE_TORCH, float_top1), _row(D.STAGE_FLOAT, float_top1),
                _row(D.STAGE_NV12, nv12_top1), _row(D.STAGE_INT8, int8_top1)]
    return r


def test_targets_are_judged_from_the_measured_rows():
    ok = _results(97.0, 96.75, 95.5)
    t = ok.targets()
    assert t["float_ok"] and t["nv12_ok"] and t["int8_drop"] == pytest.approx(1.5)
    assert ok.check_targets() == []
    low = _results(94.0, 94.0, 90.0)
    assert any("below the 95 % target" in m for m in low.check_targets())
    far = _results(97.0, 96.0, 96.0)
    assert any("NV12 board model differs" in m for m in far.check_targets())
    table = ok.table().splitlines()
    assert table[0].split()[:2] == ["stage", "file"] and len(table) == 2 + 4
    assert "96.75" in ok.table()


def test_epochs_from_the_environment(monkeypatch):
    monkeypatch.delenv(D.EPOCHS_ENV, raising=False)
    assert D.default_epochs() == D.DEFAULT_EPOCHS
    monkeypatch.setenv(D.EPOCHS_ENV, "3")
    assert D.default_epochs() == 3
    for bad in ("x", "0"):
        monkeypatch.setenv(D.EPOCHS_ENV, bad)
        with pytest.raises(HelpersError, match=D.EPOCHS_ENV):
            D.default_epochs()


def test_demo_refuses_epochs_0_and_a_foreign_output_folder(tmp_path, capsys):
    assert main(["demo", "--epochs", "0", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == "error: --epochs must be at least 1, got 0"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("user file")
    with pytest.raises(HelpersError, match="not made by the demo"):
        D.Pipeline(out=tmp_path / "mine", epochs=1)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "user file"


def test_pipeline_end_to_end_on_a_tiny_dataset(tmp_path):
    """Every step on a tiny ImageFolder at 32 px: files, metadata, one row per stage, JSON, plot."""
    from test_train import make_dataset

    data = make_dataset(tmp_path / "data", n_train=6, n_val=4)
    said = []
    p = D.Pipeline(out=tmp_path / "run", epochs=1, img_size=32, data=data, progress=False, log=said.append)
    p.max_layers, p.calibration_type = 1, "max"   # one layer, one calibration: keeps this test short
    res = p.run()
    # without progress bars the ranking still says where it is, as plain lines
    assert any(x.startswith("sensitivity: ranking 1 of ") for x in said) and "  1/1 layers, " in "\n".join(said)
    p.save()
    board = onnx.load(str(p.out / "MobileOne_S0_32x32_nv12.onnx"))
    meta = {m.key: m.value for m in board.metadata_props}
    assert meta["rdk.input_type_rt"] == "nv12" and json.loads(meta["rdk.labels"]) == ["circle", "square", "stripe"]
    dims = [d.dim_value for d in board.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 32 * 3 // 2, 32]
    assert [s.stage for s in res.stages] == [D.STAGE_TORCH, D.STAGE_FLOAT, D.STAGE_NV12, D.STAGE_INT8,
                                             D.STAGE_INT8_BPU, D.STAGE_INT8_KEPT]
    assert all(s.images == 12 for s in res.stages)
    # the re-parameterised PyTorch model and its ONNX export classify identically
    assert res.stage(D.STAGE_TORCH).top1 == res.stage(D.STAGE_FLOAT).top1
    doc = json.loads((p.out / D.RESULTS).read_text())
    assert [r["stage"] for r in doc["rows"]] == [s.stage for s in res.stages]
    assert doc["train"]["history"] and doc["quantize"]["format"] == "QDQ"
    assert (p.out / "demo.png").stat().st_size > 1000
    assert set(res.files) >= {"checkpoint", "float_onnx", "calibration", "yaml", "board_model", "int8_onnx"}
    # the yaml it wrote describes the digits-size model
    import yaml

    cfg = yaml.safe_load((p.out / "mobileone_s0_x5.yaml").read_text())
    assert cfg["input_parameters"]["input_shape"] == "1x3x32x32"
    # the variant keeps the chosen layer in int16 (node_info), and the kept INT8 preview honours it
    kept_text = (p.out / "mobileone_s0_x5_kept.yaml").read_text()
    kept = yaml.safe_load(kept_text)
    # its header names its own config, the digits-size output file and input shape (not the registry's 224)
    header = "\n".join(ln for ln in kept_text.splitlines() if ln.startswith("#"))
    assert "--config mobileone_s0_x5_kept.yaml" in header and "-> MobileOne_S0_32x32_nv12.bin" in header
    assert "1x3x32x32" in header and "224" not in header
    chosen = res.sensitivity.chosen
    assert len(chosen) == 1 and kept["model_parameters"]["node_info"] == {
        chosen[0]: {"ON": "BPU", "InputType": "int16", "OutputType": "int16"}}
    assert chosen[0] in {n.name for n in onnx.load(str(p.out / "mobileone_s0.onnx")).graph.node}
    q = onnx.load(str(p.out / "mobileone_s0_int8_kept.onnx"))
    assert {i.data_type for i in q.graph.initializer if i.name.endswith("_zero_point")} >= {onnx.TensorProto.INT16}
    assert doc["sensitivity"]["chosen"] == chosen and doc["targets"]["kept_layers"] == 1
    assert len(list((p.out / "calibration_data_rgb_f32").iterdir())) == 18
    raw = np.fromfile(str(sorted((p.out / "calibration_data_rgb_f32").iterdir())[0]), np.float32)
    assert raw.size == 3 * 32 * 32 and 0 <= raw.min() and raw.max() <= 255
    # re-running into its own folder is allowed (the folder is marked as the demo's)
    D.Pipeline(out=tmp_path / "run", epochs=1, img_size=32, data=data, progress=False, log=lambda *a: None)


def _with_kept(float_top1, bpu_top1, kept_top1, epochs):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "pc"))
    from test_sensitivity_explain import result

    r = _results(float_top1, float_top1, bpu_top1)
    r.epochs = epochs
    r.stages += [_row(D.STAGE_INT8_BPU, bpu_top1), _row(D.STAGE_INT8_KEPT, kept_top1)]
    r.sensitivity = result()
    return r


def test_report_explains_a_missed_kept_target_in_words():
    miss = _with_kept(96.0, 88.89, 88.0, epochs=1).report()
    assert "MISSED, see below" in miss
    words = miss.split("The kept layers:", 1)[1]
    assert "do not beat all-INT8" in words and "Try: " in words and "(400 images, one image = 0.25 point)" in words
    assert f"trained 1 epoch(s), not the {D.DEFAULT_EPOCHS}" in words
    met = _with_kept(96.0, 94.0, 95.5, epochs=D.DEFAULT_EPOCHS).report()
    words = met.split("The kept layers:", 1)[1]
    assert "MISSED" not in met and ": met;" in words and "Try: " not in words and "epoch" not in words


def test_plot_is_an_agg_figure_with_readable_labels():
    from matplotlib.figure import Figure

    r = _with_kept(96.0, 88.9, 88.0, epochs=3)
    fig = r.plot()
    assert type(fig) is Figure
    fig.canvas.draw()
    rend, box = fig.canvas.get_renderer(), fig.bbox
    names = [t for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert [t.get_text() for t in names] == [s.stage for s in r.stages]
    shown = [t for a in fig.axes for t in a.get_xticklabels()   # the ticks inside the axis range are drawn
             if t.get_text() and min(a.get_xlim()) <= t.get_position()[0] <= max(a.get_xlim())]
    for t in names + shown:
        e = t.get_window_extent(rend)
        assert box.x0 - 1 <= e.x0 and e.x1 <= box.x1 + 1 and box.y0 - 1 <= e.y0 and e.y1 <= box.y1 + 1, t.get_text()
    lo, hi = fig.axes[0].get_xlim()
    assert 80.0 <= lo <= 88.0, "the top-1 axis starts near the lowest stage, so a point's difference shows"
    png = r.png()
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (
        round(fig.get_figwidth() * fig.dpi), round(fig.get_figheight() * fig.dpi))

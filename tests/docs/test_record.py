"""`--record` on export, board-model and bench writes the rows the README tables read."""
import json

import pytest

from helpers.board import records, registry
from helpers.cli import main


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "RESULTS_DIR", tmp_path)
    return tmp_path


def test_bench_and_board_model_record(random_onnx, results_dir, tmp_path, capsys):

    key = "mobilenetv4_conv_small"
    onnx = random_onnx(key)
    board = tmp_path / "board.onnx"
    assert main(["board-model", str(onnx), str(registry.get(key).yaml_path("x5")), "--out", str(board),
                 "--compare", "--record"]) == 0
    nv12 = json.loads((results_dir / "nv12.json").read_text())
    (row,) = nv12["rows"]
    assert row["key"] == key and row["weights"] == "random" and row["images"] >= 4
    assert 0 <= row["top1_agreement"] <= 100 and row["passed"] == row["images"]
    assert 0 <= row["worst_contract_rel_err"] <= 1e-3 and row["min_logit_corr"] >= 0.9
    assert main(["bench", str(board), "--threads", "1,2", "--seconds", "0.3", "--record"]) == 0
    bench = json.loads((results_dir / "bench.json").read_text())
    assert [r["threads"] for r in bench["rows"]] == [1, 2]
    assert all(r["key"] == key and r["fps"] > 0 and r["latency_ms"] > 0 for r in bench["rows"])
    assert all(r["weights"] == "random" and r["machine"] and r["date"] for r in bench["rows"])  # from the ONNX
    assert main(["board-model", str(onnx), str(registry.get(key).yaml_path("x5")), "--out", str(board),
                 "--overwrite", "--record"]) == 2
    assert "--record needs --compare" in capsys.readouterr().err


def test_export_record(results_dir, tmp_path):
    assert main(["export", "mobilenetv4_conv_small", "--weights", "random", "--out", str(tmp_path / "m.onnx"),
                 "--record"]) == 0
    (row,) = json.loads((results_dir / "export.json").read_text())["rows"]
    assert row["key"] == "mobilenetv4_conv_small" and row["opset"] == 11
    assert row["params_onnx"] > 3_000_000 and row["rel_err"] < 1e-3

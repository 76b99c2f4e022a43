"""python -m helpers: list, one-line errors, predict."""

import pytest
from PIL import Image
from testkit import run_cli, smooth_image, tiny_onnx

from helpers.board import registry


def test_cli_list_shows_all_variants():
    r = run_cli("list")
    assert r.returncode == 0, r.stderr
    for key in registry.MODELS:
        assert key in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["info", "nope"], "unknown model key"),
    (["predict", "missing.onnx", "x.jpg"], "model file not found"),
])
def test_cli_errors_are_one_line(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and needle in r.stderr and "Traceback" not in r.stderr


def test_cli_predict(tmp_path):
    tiny_onnx(tmp_path / "tiny.onnx")
    Image.fromarray(smooth_image()).save(tmp_path / "img.png")
    r = run_cli("predict", str(tmp_path / "tiny.onnx"), str(tmp_path / "img.png"), "-k", "2")
    assert r.returncode == 0, r.stderr
    assert "RANDOM weights" in r.stdout and r.stdout.count("%") == 2

"""helpers.board.runtime on a PC: the onnxruntime backend, the classifier, one-line errors for bad files."""

import numpy as np
import pytest
from testkit import tiny_onnx

from helpers.board.runtime import available_backends, open_model
from helpers.errors import HelpersError


def test_onnxruntime_backend_and_classifier(tmp_path):
    from helpers.board.classifier import Classifier

    wmat = tiny_onnx(tmp_path / "tiny.onnx")
    rt = open_model(tmp_path / "tiny.onnx")
    assert rt.name == "onnxruntime" and rt.input.shape == (1, 3, 4, 4) and rt.input.dtype == "float32"
    assert "data: float32 [1, 3, 4, 4] NCHW" in rt.describe()
    clf = Classifier(tmp_path / "tiny.onnx")
    assert clf.random_weights and clf.labels == ["a", "b", "c"]
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 2] = 255  # blue: normalised input (-1, -1, +1)
    expected = np.array([-1, -1, 1], np.float32) @ wmat
    assert np.allclose(clf.logits(img), expected, atol=1e-5)
    preds = clf.predict(img, k=3)
    assert preds[0].index == int(np.argmax(expected)) and np.isclose(sum(p.prob for p in preds), 1.0)


@pytest.mark.parametrize("case", ["missing", "wrong_ext", "not_a_model", "bin_on_pc", "forced_backend", "directory"])
def test_bad_model_files(tmp_path, case):
    p = tmp_path / "m.onnx"
    backend = "auto"
    if case == "wrong_ext":
        p = tmp_path / "m.pt"
        p.write_bytes(b"123")
    elif case == "not_a_model":
        p.write_text("definitely not protobuf" * 10)
    elif case == "bin_on_pc":
        p = tmp_path / "m.bin"
        p.write_bytes(b"\0" * 64)
    elif case == "forced_backend":
        p = tmp_path / "m.bin"
        p.write_bytes(b"\0" * 64)
        backend = "hobot_dnn"
    elif case == "directory":
        p = tmp_path
    if "hobot_dnn" in available_backends():
        pytest.skip("a board runtime is installed here")
    with pytest.raises(HelpersError) as e:
        open_model(p, backend=backend)
    msg = str(e.value)
    assert "\n" not in msg
    assert {"missing": "not found", "wrong_ext": "must be .onnx", "not_a_model": "not a valid ONNX",
            "bin_on_pc": "needs an RDK board", "forced_backend": "not available here",
            "directory": "directory"}[case] in msg

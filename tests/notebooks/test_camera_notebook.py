"""notebooks/MobileOne/camera_MobileOne.ipynb on the camera fake: the MIPI cells run as on an RDK X5.

nbval runs the notebook as a PC sees it (no camera API: the calls are printed, the frames come from a
generated video file). Here the kernel also finds ``hobot_vio_rdkx5.libsrcampy``: the NumPy fake of
``tests/fake_board`` (its names recorded from the ``hobot-vio-rdkx5`` wheel), alone on the path (the
runtime fakes stay out, so the model is still the board-model ONNX). ``CAMERA=auto`` then opens the
"MIPI camera", the scaler's NV12 goes to the model as it is, and the notebook's checks hold.
"""
import json
import os
import shutil
from pathlib import Path

import pytest

from helpers.board.files import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "MobileOne" / "camera_MobileOne.ipynb"
FAKE = REPO_ROOT / "tests" / "fake_board" / "hobot_vio_rdkx5"


def _text(nb) -> str:
    out = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            out.append(o.get("text", "") if o.get("output_type") == "stream" else json.dumps(o.get("data", {})))
            if o.get("output_type") == "error":
                out.append("ERROR " + o.get("ename", "") + ": " + o.get("evalue", ""))
    return "\n".join(out)


def _run_on_the_fake(tmp_path, monkeypatch, env, last_cell=None):
    """The camera notebook (up to the cell ``last_cell``, else whole) with the MIPI fake first on the path."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    shutil.copytree(FAKE, tmp_path / "fakes" / FAKE.name)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path / "fakes"), str(REPO_ROOT),
                                                      os.environ.get("PYTHONPATH", "")]))
    for name, value in {**env, "MPLBACKEND": "Agg"}.items():
        monkeypatch.setenv(name, value)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    if last_cell is not None:
        ids = [c.get("id") for c in nb.cells]
        nb.cells = nb.cells[: ids.index(last_cell) + 1]
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return nb


def test_camera_notebook_on_the_mipi_fake(tmp_path, monkeypatch):
    # the live view too, redrawn in place
    nb = _run_on_the_fake(tmp_path, monkeypatch, {"RDK_CAMERA_FRAMES": "12", "RDK_CAMERA_LIVE_SECONDS": "0.5"})
    text = _text(nb)
    assert "ERROR" not in text, text[-2000:]
    assert "hobot_vio_rdkx5.libsrcampy: open_cam returned 0" in text
    assert "straight into the model" in text
    assert "source: MIPI camera (hobot_vio_rdkx5.libsrcampy, 224x224 NV12 from the scaler)" in text
    assert "frames reached the model without a CPU resize (scaler): True" in text
    assert "12 frames" in text and "post-process" in text
    view = next(c for c in nb.cells if c.get("id") == "view")
    kinds = [o.get("output_type") for o in view.outputs]
    # one image output, redrawn in place (update_display_data), not one output per redraw
    assert kinds.count("display_data") == 1 and "image/jpeg" in view.outputs[kinds.index("display_data")]["data"], kinds


def test_camera_calls_cell_when_get_img_returns_none(tmp_path, monkeypatch):
    """The vendor's get_img returns None when no frame is ready (its reference code checks it,
    object_camera.md of HorizonRDK/rdk_x3_doc): the calls cell says so in one line, no traceback."""
    nb = _run_on_the_fake(tmp_path, monkeypatch, {"FAKE_NO_FRAME": "1"}, last_cell="vendor_calls")
    text = _text(nb)
    assert "ERROR" not in text, text[-2000:]
    assert "open_cam returned 0" in text and "get_img returned None" in text

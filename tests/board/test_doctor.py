"""python -m helpers doctor: on a PC it says what it would check; on the (fake) board it reports every .bin."""
import sys
from pathlib import Path

import pytest

from helpers.board import doctor
from helpers.cli import main

FAKE_DIR = Path(__file__).resolve().parents[1] / "fake_board"
FAKES = ("hobot_dnn", "hobot_dnn_rdkx5", "bpu_infer_lib", "_fake_common", "fake_models", "hbm_runtime")


@pytest.fixture
def board(tmp_path):
    sys.path.insert(0, str(FAKE_DIR))
    import fake_models

    root = tmp_path / "model"
    good = fake_models.write_fake_bin(root / "MobileOne" / "rdk_x5" / "MobileOne_S0_224x224_nv12.bin", output="S8")
    bad = root / "MobileNetV1" / "rdk_x5" / "mobilenetv1_224x224_nv12.bin"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\x7fELF truncated")
    try:
        yield root, good, bad
    finally:
        sys.path.remove(str(FAKE_DIR))
        for m in list(sys.modules):
            if m.split(".")[0] in FAKES:
                sys.modules.pop(m)


def test_on_a_pc_it_says_what_it_would_check(tmp_path, capsys):
    (tmp_path / "MobileOne").mkdir()
    (tmp_path / "MobileOne" / "x.bin").write_bytes(b"x")
    assert main(["doctor", "--model-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "runtime : none" in out and "On an RDK board this command loads every .bin" in out
    assert "found under" in out and "x.bin" in out


def test_on_the_board_it_reports_each_bin(board, capsys):
    root, good, bad = board
    assert main(["doctor", "--model-dir", str(root), "--runs", "2"]) == 1  # one file is broken
    out = capsys.readouterr().out
    assert "hobot_dnn.pyeasy_dnn" in out and "bpu_infer_lib" in out
    assert "MobileOne_S0_224x224_nv12.bin" in out and "published mobileone_s0 for RDK X5" in out
    assert "output  : output: int8 [1, 1000, 1, 1] NCHW (buffer int8, dequantised by 1000 scale(s))" in out
    assert "latency : median" in out and "verdict : OK" in out
    assert "mobilenetv1_224x224_nv12.bin" in out and "verdict : FAILED: hobot_dnn could not load" in out
    assert out.count("verdict :") == 2


def test_it_identifies_an_s_board_and_lists_hbm_files(tmp_path, capsys, monkeypatch):
    """The board line comes from helpers.board.identity (soc_name / board_type on S boards); .hbm files are listed."""
    from helpers.board import identity, registry

    monkeypatch.setattr(identity, "identify", lambda root="/": identity.Identity(
        registry.board("s100p"), soc_name="s100", board_type="rdk s100p"))
    hbm = tmp_path / "MobileNetV4" / "rdk_s100" / "mobilenetv4_small_224x224_nv12.hbm"
    hbm.parent.mkdir(parents=True)
    hbm.write_bytes(b"x")
    text = doctor.report(tmp_path)
    assert "device  : RDK S100P" in text
    assert "board   : RDK S100P: BPU Nash (nash-m), march nash-m, runs .hbm files (split NV12 input) built by hb_compile" in text
    assert "mobilenetv4_small_224x224_nv12.hbm  (published mobilenetv4_conv_small for RDK S100)" in text

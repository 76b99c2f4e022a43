"""helpers.board.hrt: reading ``hrt_model_exec perf``'s output and running it where it exists.

The fixtures in ``fixtures/hrt_perf_*.txt`` are written in the three layouts the vendor's material shows
(our own numbers): the RDK X3 toolchain guide's padded summary (``HorizonRDK/rdk_x3_doc``,
``docs/toolchain_development/intermediate/ptq_process.md``), the Model Zoo S100 pages' Markdown list
(``D-Robotics/rdk_model_zoo``, ``samples/vision/mobilenetv4/README.md``) and the progress lines printed
before the summary (a run cut short prints only those).
"""
import os
import stat
import sys
from pathlib import Path

import pytest

from helpers.board import hrt
from helpers.errors import HelpersError

FIX = Path(__file__).with_name("fixtures")


@pytest.mark.parametrize("name,expected", [
    ("hrt_perf_x3.txt", (2, 400, 5.9753, 332.363281, False)),
    ("hrt_perf_s100.txt", (3, 200, 0.751, 3993.344, False)),
    ("hrt_perf_partial.txt", (1, 400, 1.505, 662.125, True)),
])
def test_parse_perf_layouts(name, expected):
    p = hrt.parse_perf((FIX / name).read_text())
    assert (p.threads, p.frames, p.latency_ms, p.fps, p.partial) == expected
    assert "FPS" in p.line() and (("partial" in p.line()) == expected[-1])


def test_parse_perf_without_figures_is_one_line():
    with pytest.raises(HelpersError, match="could not read hrt_model_exec") as e:
        hrt.parse_perf("hbDNNInitializeFromFiles failed\nmodel file does not exist")
    assert "\n" not in str(e.value) and "model file does not exist" in str(e.value)


def test_command_text():
    assert hrt.hrt_model_exec_command("/x/y/m.bin", 4, 200) == \
        "hrt_model_exec perf --model_file m.bin --thread_num 4 --frame_count 200"


@pytest.fixture
def fake_tool(tmp_path, monkeypatch):
    """An ``hrt_model_exec`` on PATH that prints a fixture (or fails), like the tool on a board."""
    system_path = os.environ["PATH"]

    def make(fixture=None, code=0):
        script = tmp_path / "bin" / "hrt_model_exec"
        script.parent.mkdir(exist_ok=True)
        body = f"cat '{FIX / fixture}'" if fixture else "echo 'hbDNNInitializeFromFiles failed' >&2"
        script.write_text(f"#!/bin/sh\n{body}\nexit {code}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{system_path}")
        return script
    return make


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script stands in for the tool")
def test_maybe_run_uses_the_tool_when_it_exists(fake_tool, tmp_path, monkeypatch):
    model = tmp_path / "m.bin"
    model.write_bytes(b"x")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert hrt.maybe_run(model, 2) is None  # no tool: nothing run
    fake_tool("hrt_perf_x3.txt")
    got = hrt.maybe_run(model, 2, frames=400)
    assert got.fps == pytest.approx(332.363281) and got.command.startswith("hrt_model_exec perf --model_file m.bin")
    assert hrt.maybe_run(tmp_path / "m.onnx", 2) is None  # not a board model
    fake_tool(None, code=3)
    with pytest.raises(HelpersError, match="exit code 3.*hbDNNInitializeFromFiles failed"):
        hrt.run_perf(model, 2)

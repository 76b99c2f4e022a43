"""How the benchmark tests run a script of ``benchmarks/``: as a user does, in a subprocess from the root."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture
def run_benchmark():
    """``run_benchmark("camera.py", "--seconds", "0.05")``: the finished process (stdout, stderr, returncode)."""
    return _run

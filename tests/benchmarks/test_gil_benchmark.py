"""benchmarks/gil.py runs on a short budget and ends with the line the README quotes."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gil_benchmark_prints_threads_and_processes():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gil.py"), "--seconds", "0.3"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    last = out.stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"4 workers / 1 on a GIL-holding runtime: threads (\d+\.\d\d)x, processes (\d+\.\d\d)x", last)
    assert m, last
    assert float(m.group(1)) < 1.6 and float(m.group(2)) >= 2.4, last

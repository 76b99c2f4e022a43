"""benchmarks/gil.py runs on a short budget and ends with the line the README quotes."""
import re


def test_gil_benchmark_prints_threads_and_processes(run_benchmark):
    out = run_benchmark("gil.py", "--seconds", "0.3")
    assert out.returncode == 0, out.stderr[-2000:]
    last = out.stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"4 workers / 1 on a GIL-holding runtime: threads (\d+\.\d\d)x, processes (\d+\.\d\d)x", last)
    assert m, last
    assert float(m.group(1)) < 1.6 and float(m.group(2)) >= 2.4, last

"""benchmarks/preprocess.py runs end to end on a very short budget and ends with the line we track."""
import re


def test_preprocess_benchmark_prints_every_frame_and_the_tracked_line(run_benchmark):
    out = run_benchmark("preprocess.py", "--seconds", "0.05")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert re.fullmatch(r"worst ratio to OpenCV native: \d+\.\d\d", lines[-1]), lines[-1]
    rows = [ln for ln in lines if ln.startswith(("451x300 photo", "640x480 frame", "1920x1080 frame"))]
    assert len(rows) == 6, "three frame sizes, in the speed table and the anti-aliasing table"
    speed = [ln for ln in rows if "ms" in ln]
    assert len(speed) == 3 and all(len(ln.split()) == 13 for ln in speed), speed
    # the tracked figure is the worst of the full/limited ratios printed above it
    ratios = [max(float(ln.split()[4]), float(ln.split()[6])) for ln in speed]
    assert abs(max(ratios) - float(lines[-1].split()[-1])) < 0.006

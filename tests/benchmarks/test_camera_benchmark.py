"""benchmarks/camera.py runs end to end on a very short budget and ends with the line we track."""
import re


def test_camera_benchmark_prints_every_path_and_the_tracked_line(run_benchmark):
    out = run_benchmark("camera.py", "--seconds", "0.05")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert re.fullmatch(r"CPU time per frame, board path from 1080p / scaler NV12: \d+", lines[-1]), lines[-1]
    rows = {ln[:28].strip(): ln[28:].split() for ln in lines if ln.startswith(("scaler NV12", "NV12 1080p", "BGR 1080p"))}
    assert set(rows) == {"scaler NV12 (no CPU resize)", "NV12 1080p, CPU resize", "BGR 1080p, board path",
                         "BGR 1080p, OpenCV native"}
    assert rows["scaler NV12 (no CPU resize)"][1] == "1x"
    assert rows["BGR 1080p, board path"][1] == lines[-1].split()[-1] + "x"
    bad = run_benchmark("camera.py", "--size", "15", timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")

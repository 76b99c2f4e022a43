"""Why ``bench`` runs processes on a board: threads vs processes on a runtime that holds the GIL, in one run.

    python benchmarks/gil.py [--seconds 1]

The runtime is the GIL-holding fake of ``tests/fake_board/gil_runtime.py`` (5 ms in C per call with the GIL
held, as ``hobot_dnn``'s ``Model_forward`` does: HorizonRDK/hobot-spdev ``src/python/dnn_python.cpp``).
``helpers.board.bench.benchmark`` measures 1 and 4 workers as threads, then as processes; printed are the
FPS of each and the 4-worker / 1-worker ratio. The last line is the figure the README quotes.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fake_board"))  # spawned workers get the parent's sys.path


def main(argv=None) -> int:
    import gil_runtime

    from helpers.board import bench

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=1.0, help="seconds per worker count (default 1)")
    args = p.parse_args(argv)
    ratios = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fake.bin"
        path.write_bytes(b"fake")
        for mode in ("threads", "processes"):
            r = bench.benchmark(path, threads=(1, 4), seconds=args.seconds, opener=gil_runtime.open_gil,
                                mode=mode, warmup=1)
            one, four = r.rows
            ratios[mode] = four.fps / one.fps
            print(f"{mode:9s}: 1 worker {one.fps:7.1f} FPS, 4 workers {four.fps:7.1f} FPS ({ratios[mode]:.2f}x)")
    print(f"4 workers / 1 on a GIL-holding runtime: threads {ratios['threads']:.2f}x, "
          f"processes {ratios['processes']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

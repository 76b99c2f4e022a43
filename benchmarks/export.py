"""Export speed per model: torch.onnx.export + checker + onnxsim seconds, measured in one run.

For each registry key (or ``--keys``): build the model (random weights unless ``--weights``), then
``helpers.pc.export.export_onnx`` into a temporary directory and report the time of the export +
checker + simplify step, the whole call (model creation, BatchNorm settling, re-parameterisation,
parity), parameter counts, parity error and opset. Target: export+simplify <= 30 s per model.
The ratio column is seconds / target (<= 1.00 meets it).

    python benchmarks/export.py [--keys k1 k2 ...] [--weights random|imagenet|PATH] [--opset 11]

The machine's core count, torch's thread count and the load average are printed with the table:
on a shared machine, torch's OpenMP threads slow down badly when the cores are oversubscribed
(try OMP_NUM_THREADS=1 to compare).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

from helpers.pc import export, models
from helpers.board import registry
from helpers.errors import HelpersError

TARGET_S = 30.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", nargs="+", default=registry.keys())
    ap.add_argument("--weights", default="random")
    ap.add_argument("--opset", type=int, default=export.DEFAULT_OPSET)
    args = ap.parse_args(argv)

    import torch

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for key in args.keys:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", models.RandomWeightsWarning)
                try:
                    r = export.export_onnx(key, weights=args.weights, out=Path(tmp) / f"{key}.onnx",
                                           opset=args.opset)
                except HelpersError as e:
                    print(f"error: {e}", file=sys.stderr)
                    return 2
            results.append(r)
            print(f"{key}: {r.seconds:.1f} s export+simplify, {r.seconds_total:.1f} s in all", flush=True)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\nweights {args.weights}; {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
          f"load average {load:.1f}; target {TARGET_S:.0f} s export+simplify per model\n")
    table = export.results_table(results).splitlines()
    print(f"{table[0]}  total s  ratio  ok")
    print(f"{table[1]}  -------  -----  --")
    worst = 0.0
    for line, r in zip(table[2:], results):
        ratio = r.seconds / TARGET_S
        worst = max(worst, ratio)
        print(f"{line}  {r.seconds_total:7.1f}  {ratio:5.2f}  {'yes' if ratio <= 1 else 'NO'}")
    print(f"\nworst ratio {worst:.2f} ({'meets' if worst <= 1 else 'misses'} the {TARGET_S:.0f} s target)")
    return 0 if worst <= 1 else 1


if __name__ == "__main__":
    sys.exit(main())

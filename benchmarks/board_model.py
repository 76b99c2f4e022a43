"""Board model vs float model on a PC: latency ratio and RGB-vs-NV12 agreement, per model, in one run.

For each registry model: export the float ONNX (cached; random weights unless ``--weights``),
build the NV12 board model from the committed X5 yaml, then

* latency: onnxruntime, 1 thread, the two graphs timed in alternating blocks; the ratio is the
  median over rounds of NV12 block / RGB block (float model fed a ready normalised tensor), so
  drifts in machine load hit both sides. Target: <= 1.10.
* agreement: the photos in data/ through the RGB float path and the NV12 board path
  (helpers.pc.board_model.compare_paths, the rule of helpers.board.agreement): images passing, top-1
  agreement, top-5 overlap.

    python benchmarks/board_model.py [--keys k1 k2 ...] [--weights random|imagenet] [--rounds 7]

With random weights the classes mean nothing; the agreement then only measures how much the NV12
round trip (4:2:0 chroma, rounding) moves the logits of an untrained network.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from helpers.pc import board_model
from helpers.board import registry
from helpers.board.image import sample_images
from helpers.errors import HelpersError

TARGET = 1.10


def session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def block(sess, feed, n):
    name = sess.get_inputs()[0].name
    t0 = time.perf_counter()
    for _ in range(n):
        sess.run(None, {name: feed})
    return (time.perf_counter() - t0) / n


def float_onnx(key, weights, cache: Path) -> Path:
    from helpers.pc.export import export_onnx

    out = cache / f"{key}.{weights}.onnx"
    if not out.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_onnx(key, weights=weights, out=out)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keys", nargs="+", default=list(registry.MODELS))
    ap.add_argument("--weights", default=os.environ.get("RDK_WEIGHTS", "random"))
    ap.add_argument("--board", default="x5", choices=list(registry.BOARDS))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--runs", type=int, default=10, help="runs per timed block")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "rdk_board_model_bench"))
    args = ap.parse_args(argv)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    images = sample_images()
    rows, skipped = [], []
    for key in args.keys:
        spec = registry.get(key)
        try:
            src = float_onnx(key, args.weights, cache)
        except HelpersError as e:
            print(f"{key:24s} SKIPPED: export failed: {e}", flush=True)
            skipped.append(key)
            continue
        board = board_model.build_board_model(src, registry.get(key).yaml_path(args.board),
                                              cache / f"{spec.bin_stem}.{args.weights}.onnx", overwrite=True)
        h, w = spec.input_size
        rng = np.random.default_rng(0)
        rgb_feed = rng.standard_normal((1, 3, h, w)).astype(np.float32)
        nv12_feed = rng.integers(0, 256, (1, h * 3 // 2, w), dtype=np.uint8)
        s_rgb, s_nv12 = session(src), session(board)
        block(s_rgb, rgb_feed, 3)
        block(s_nv12, nv12_feed, 3)
        t_rgb, t_nv12 = [], []
        for r in range(args.rounds):  # alternate the order so drifts in machine load hit both
            pair = [(s_rgb, rgb_feed, t_rgb), (s_nv12, nv12_feed, t_nv12)]
            for sess, feed, acc in (pair if r % 2 == 0 else pair[::-1]):
                acc.append(block(sess, feed, args.runs))
        rgb_ms, nv12_ms = 1e3 * statistics.median(t_rgb), 1e3 * statistics.median(t_nv12)
        ratio = statistics.median(b / a for a, b in zip(t_rgb, t_nv12))   # paired per round
        c = board_model.compare_paths(src, board, images)
        rows.append((key, rgb_ms, nv12_ms, ratio, c))
        print(f"{key:24s} rgb {rgb_ms:7.2f} ms  nv12 {nv12_ms:7.2f} ms  ratio {ratio:.3f}  "
              f"agreement {c['summary']['passed']}/{c['summary']['images']} images  "
              f"top-1 agree {c['summary']['top1_agreement']:.0%}  "
              f"top-5 overlap {c['summary']['top5_overlap']:.0%}", flush=True)
    if not rows:
        print("no model could be measured")
        return 1
    worst = max(r[3] for r in rows)
    weights = {r[4]["weights"] for r in rows}
    print(f"\nweights: {', '.join(sorted(weights))}"
          + ("  (NOT trained: classes are meaningless, only RGB-vs-NV12 agreement is)" if weights != {"imagenet"} else ""))
    print(f"images: {', '.join(p.name for p in images)}; yaml: {args.board}; onnxruntime 1 thread; "
          f"ratio = median over {args.rounds} rounds of (NV12 block / RGB block), {args.runs} runs per block")
    print(f"worst latency ratio {worst:.3f} (target <= {TARGET:.2f}): {'OK' if worst <= TARGET else 'ABOVE TARGET'}")
    print(f"overall top-1 agreement {statistics.mean(r[4]['summary']['top1_agreement'] for r in rows):.0%} "
          f"over {len(rows)} models x {len(images)} images"
          + (f"; skipped (export failed): {', '.join(skipped)}" if skipped else ""))
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())

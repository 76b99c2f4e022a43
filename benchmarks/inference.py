"""Speed ratios of the inference path, measured in one run (PC; needs requirements.txt).

    python benchmarks/inference.py [--models mobileone_s0,...|all] [--seconds 3]

For each model it prints three ratios and checks them against the project's targets:

1. helpers vs raw onnxruntime, on the NV12 board model (the PC stand-in for the .bin):
   ``Classifier.run(feed)`` vs ``session.run`` on the same prepared feed with an identically
   configured session (target <= 1.05). The verdict uses helpers' own cost per call, measured
   around a stand-in session that returns at once, added to the raw run time: on a shared machine
   the end-to-end ratios (also printed) scatter by several percent either way, far more than the
   microseconds helpers adds. Also reported, without a
   target: full ``Classifier.predict(image)`` (resize, NV12 conversion, run, softmax, top-5) vs
   ``session.run``.
2. onnxruntime vs PyTorch eager on the float model: ``torch.inference_mode`` forward of the same
   (re-parameterised) timm model vs ``session.run`` of its float ONNX (target >= 3).
3. Pre-processing share: ``Classifier.prepare`` (board resize + NV12 conversion of a decoded photo)
   over ``Classifier.run`` (target <= 25 %).
4. The GIL during ``session.run`` (no target; it decides threads vs processes in ``helpers.board.bench``):
   :func:`helpers.board.bench.gil_free_share` of the board model, the share of ``run`` calls during which
   another Python thread ran (1.0: onnxruntime releases the GIL; a runtime that holds it, like the RDK's
   ``hobot_dnn``, gives 0.0, as the GIL-holding fake of ``tests/fake_board/gil_runtime.py`` does).

Timing: the two sides of each ratio are called alternately, one call each per round (random order),
after a warm-up; times are medians of per-call wall times and each ratio is the median of the
per-round ratios, so that load from other processes hits both sides alike. The helpers overhead
is also measured directly: ``Classifier.run`` around a stand-in session that returns at once.
Default models: the smallest variant of each architecture (mobileone_s0, mobilenetv1_100,
mobilenetv3_large_100, mobilenetv4_conv_small); ``--models all`` runs the nine. Missing model files
are made with helpers (export with ``$RDK_WEIGHTS``, default random here: speed does not depend on
the weights) into model/<Arch>/, as the notebooks do.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.board import registry  # noqa: E402
from helpers.notebooks import inference as nb  # noqa: E402
from helpers.board.classifier import Classifier  # noqa: E402
from helpers.errors import HelpersError  # noqa: E402
from helpers.board import nv12  # noqa: E402
from helpers.board.image import board_resize, load_image  # noqa: E402

DEFAULT_MODELS = ("mobileone_s0", "mobilenetv1_100", "mobilenetv3_large_100", "mobilenetv4_conv_small")
TARGETS = {"run": ("<=", 1.05), "torch": (">=", 3.0), "prep": ("<=", 0.25)}


def paired(fa, fb, seconds: float, warmup: int = 5):
    """Median per-call seconds of ``fa`` and ``fb``, the median of their per-round ratio b/a, and the
    ratio of their fastest calls (least disturbed by other processes, as ``timeit`` advises).

    Calls alternate one by one (in a random order each round), so load changes on a shared
    machine hit both sides alike; the median of the paired ratios is robust to such drifts.
    """
    for _ in range(warmup):
        fa()
        fb()
    rng = random.Random(0)
    ta, tb = [], []
    clock = time.perf_counter
    end = clock() + seconds
    while clock() < end or len(ta) < 5:
        order = (0, 1) if rng.random() < 0.5 else (1, 0)
        for i in order:
            t = clock()
            (fa if i == 0 else fb)()
            (ta if i == 0 else tb).append(clock() - t)
    return median(ta), median(tb), median(b / a for a, b in zip(ta, tb)), min(tb) / min(ta)


class _InstantSession:
    """Stands in for an onnxruntime session and returns a stored result at once (overhead probe)."""

    def __init__(self, outputs):
        self.outputs = outputs

    def run(self, names, feed):
        return self.outputs


def ort_session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # what helpers.board.runtime.OrtBackend sets (threads: onnxruntime's default)
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def torch_model(key: str):
    import torch

    from helpers.pc.models import create_model, reparameterize

    torch.manual_seed(0)
    model = create_model(key, "random")
    if registry.get(key).reparameterizable:
        model = reparameterize(model)
    return model.eval()


def measure(key: str, photo: np.ndarray, seconds: float, weights: str):
    import torch

    board = nb.resolve_model(key, kind="board-onnx", weights=weights)
    flt = nb.resolve_model(key, kind="float-onnx", weights=weights)
    for m in board.made + flt.made:
        print(f"  made: {m}")
    clf = Classifier(board.path, key=key)
    sess = ort_session(board.path)
    prep = clf.prepare(photo)
    feed = prep.feed
    raw_feed = {sess.get_inputs()[0].name: feed.reshape(sess.get_inputs()[0].shape)}
    t_raw, t_run, r_run, m_run = paired(lambda: sess.run(None, raw_feed), lambda: clf.run(feed), seconds)
    _, t_pred, r_pred, _ = paired(lambda: sess.run(None, raw_feed), lambda: clf.predict(photo), seconds)
    t_run2, t_prep, r_prep, _ = paired(lambda: clf.run(feed), lambda: clf.prepare(photo), seconds)
    t_resize, t_nv12, _, _ = paired(lambda: board_resize(photo, clf.size),
                                 lambda: nv12.rgb_to_nv12(prep.rgb, clf.yuv_range), seconds / 3)
    # helpers' own cost per call: Classifier.run around a session that answers instantly
    probe = Classifier(board.path, key=key)
    instant = _InstantSession(sess.run(None, raw_feed))
    probe.runtime.session = instant
    t_instant, t_probe, _, _ = paired(lambda: instant.run(None, raw_feed), lambda: probe.run(feed), min(seconds, 1.0))
    overhead = max(0.0, t_probe - t_instant)
    from helpers.board.bench import gil_free_share

    gil_share = gil_free_share(clf.runtime, feed, seconds=min(seconds, 0.5))

    fclf = Classifier(flt.path, key=key)
    fsess = ort_session(flt.path)
    ffeed = fclf.prepare(photo).feed
    fin = {fsess.get_inputs()[0].name: ffeed}
    model = torch_model(key)
    x = torch.from_numpy(ffeed.copy())

    def eager():
        with torch.inference_mode():
            model(x)

    t_ort, t_torch, r_torch, _ = paired(lambda: fsess.run(None, fin), eager, seconds)
    return {
        "key": key, "raw_ms": t_raw * 1e3, "run_ms": t_run * 1e3, "predict_ms": t_pred * 1e3,
        "prep_ms": t_prep * 1e3, "resize_ms": t_resize * 1e3, "nv12_ms": t_nv12 * 1e3, "ort_float_ms": t_ort * 1e3, "torch_ms": t_torch * 1e3,
        "overhead_us": overhead * 1e6, "gil_share": gil_share, "run_from_overhead": (t_raw + overhead) / t_raw,
        "run": r_run, "run_min": m_run, "predict": r_pred, "prep": r_prep, "torch": r_torch,
    }


def verdict(name: str, value: float) -> str:
    op, target = TARGETS[name]
    ok = value <= target if op == "<=" else value >= target
    return "ok" if ok else "MISSED"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated keys, or 'all'")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds per measured pair (default 3)")
    p.add_argument("--image", default=None, help="photo to classify (default: the first in data/)")
    args = p.parse_args(argv)
    keys = list(registry.MODELS) if args.models == "all" else [k.strip() for k in args.models.split(",") if k.strip()]
    weights = os.environ.get("RDK_WEIGHTS", "random")
    try:
        for k in keys:
            registry.get(k)
        image = nb.resolve_image(args.image)
        photo = load_image(image)
    except HelpersError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    import onnxruntime
    import torch

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"onnxruntime {onnxruntime.__version__} (default threads), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    print(f"photo: {Path(str(image)).name} {photo.shape[1]}x{photo.shape[0]} (decoded once; prepare = resize + NV12)")
    print(f"models: {', '.join(keys)}; weights: {weights} (speed does not depend on them); "
          f"{args.seconds:g} s per measured pair, medians of per-call times")
    rows = []
    for k in keys:
        print(f"- {k} ...", flush=True)
        try:
            rows.append(measure(k, photo, args.seconds, weights))
        except HelpersError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    head = (f"{'model':24s} {'raw run':>9s} {'helpers':>9s} {'ratio':>6s}   {'predict':>9s} {'ratio':>6s}   "
            f"{'prepare':>8s} {'share':>6s}   {'ORT fp32':>9s} {'torch':>9s} {'ratio':>6s}")
    print()
    print(head)
    for r in rows:
        print(f"{r['key']:24s} {r['raw_ms']:7.2f}ms {r['run_ms']:7.2f}ms {r['run']:6.3f}   {r['predict_ms']:7.2f}ms "
              f"{r['predict']:6.3f}   {r['prep_ms']:6.2f}ms {r['prep']:6.1%}   {r['ort_float_ms']:7.2f}ms "
              f"{r['torch_ms']:7.2f}ms {r['torch']:6.2f}")
    print()
    worst = {"run": max(r["run_from_overhead"] for r in rows), "prep": max(r["prep"] for r in rows),
             "torch": min(r["torch"] for r in rows)}
    over = ", ".join("%.0f us" % r["overhead_us"] for r in rows)
    print(f"helpers Classifier.run / raw session.run : worst {worst['run']:.4f} (target <= 1.05): {verdict('run', worst['run'])}")
    print(f"  (from helpers' own cost per call, measured around an instant session: {over}. End to end, "
          f"where other processes add noise: paired-median ratios "
          f"{', '.join('%.3f' % r['run'] for r in rows)}; fastest-call ratios {', '.join('%.3f' % r['run_min'] for r in rows)})")
    predict = ", ".join("%.2f" % r["predict"] for r in rows)
    print(f"  (full predict incl. pre-processing / raw session.run: {predict}; no target)")
    print(f"PyTorch eager / onnxruntime (float)      : worst {worst['torch']:.2f}x (target >= 3): {verdict('torch', worst['torch'])}")
    print(f"pre-processing / inference               : worst {worst['prep']:.1%} (target <= 25 %): {verdict('prep', worst['prep'])}")
    parts = ", ".join("%s resize %.2f ms + NV12 %.2f ms" % (r["key"], r["resize_ms"], r["nv12_ms"]) for r in rows)
    print(f"  (where pre-processing goes: {parts})")
    shares = ", ".join("%s %.2f" % (r["key"], r["gil_share"]) for r in rows)
    print(f"share of onnxruntime runs with the GIL free: {shares} (1.0: threads overlap; a GIL-holding runtime: 0.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Pre-processing speed against OpenCV's native path, and what the anti-aliasing buys, in one run.

    python benchmarks/preprocess.py [--seconds 2] [--size 224] [--model BOARD.onnx --data DIGITS_DIR]

For a 451x300 photo (data/chelsea.jpg) and 640x480 / 1920x1080 camera frames, side by side on the same
frame (calls alternated, medians of per-round ratios; see ``benchmarks/inference.py`` ``paired``):

* **native**: ``cv2.resize(INTER_LINEAR)`` + ``cv2.cvtColor(COLOR_RGB2YUV_I420)``, the reference;
* **full** / **limited**: what the board pipeline does for an NV12 model, ``prepare_nv12(frame)`` in
  each range (helpers.board.nv12: the halvings, then NV12 at the last one, its planes bilinear);
* **no AA**: the same without the anti-aliasing halvings (``antialias=False``);
* **RGB route**: ``rgb_to_nv12(board_resize(frame))``, resize in RGB then convert (the path before);
* **old**: ``INTER_AREA`` resize + NV12 full, the previous path (for the record);
* **NV12 in**: a camera frame that is NV12 already, resized plane by plane (``resize_nv12``);
* **OpenCV threads**: native and the full-range path at 1080p with one thread and with all of them
  (the halvings are parallel work, native's small resize is not);
* **read once**: ``frame.copy()``, the floor of any anti-aliasing that looks at every pixel (native
  bilinear reads about 4 pixels per output pixel and skips the rest). Where it alone is near or over
  the target, the target cannot be met with anti-aliasing on this machine, only without it (no AA).

Anti-aliasing, measured rather than assumed: mean absolute error of the luma the model gets, in levels, against ``INTER_AREA``
(an exact box filter, the reference for shrinking) on a zone plate (every frequency up to Nyquist, the
worst case for aliasing) and on the photo. With ``--model`` (an NV12 board-model ONNX, e.g. the demo's)
and ``--data`` (an ImageFolder whose images are larger than the model input), also top-1 with each
resize. The last line is the figure we track: ``worst ratio to OpenCV native`` of the full and
limited paths over the frame sizes (target <= 1.5).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402

from helpers.board import nv12  # noqa: E402
from helpers.board.image import board_resize, load_image, sample_images  # noqa: E402
from inference import paired  # noqa: E402  (benchmarks/inference.py, next to this file)

FRAMES = (("451x300 photo", None), ("640x480 frame", (480, 640)), ("1920x1080 frame", (1080, 1920)))
TARGET = 1.5


def frames():
    photo = load_image(sample_images()[0])  # chelsea.jpg, 451x300
    big = load_image(sample_images()[4])    # hubble_deep_field.jpg: fine detail, stretched to camera sizes
    out = []
    for name, hw in FRAMES:
        out.append((name, photo if hw is None else cv2.resize(big, hw[::-1], interpolation=cv2.INTER_AREA)))
    return out


def zone_plate(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r2 = (xx - w / 2) ** 2 + (yy - h / 2) ** 2
    g = 127.5 + 127.5 * np.cos(np.pi * r2 / (2 * max(h, w)))
    return np.repeat(g.astype(np.uint8)[:, :, None], 3, axis=2)


def area_error(rgb: np.ndarray, size) -> tuple:
    """Mean |error| of the board path's luma (full range: Y = JFIF grey) against the grey of an exact box
    filter, with and without the halvings."""
    ref = cv2.cvtColor(cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    n = size[0] * size[1]
    err = [np.abs(nv12.prepare_nv12(rgb, size, "full", antialias=aa)[:n].reshape(size).astype(np.float64)
                  - ref).mean() for aa in (True, False)]
    return err[0], err[1]


def top1(model, data, how: str) -> float:
    """top-1 of the NV12 board model ``model`` on ``data`` with the given pre-processing in
    Classifier.prepare: board (prepare_nv12), rgb (the RGB route), plain (no halvings), area (INTER_AREA)."""
    from helpers.training.evaluate import evaluate

    board = nv12.prepare_nv12
    prep = {"board": board,
            "rgb": lambda rgb, size, r: nv12.rgb_to_nv12(board_resize(rgb, size), r),
            "plain": lambda rgb, size, r: board(rgb, size, r, antialias=False),
            "area": lambda rgb, size, r: nv12.rgb_to_nv12(
                cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_AREA), r)}[how]
    nv12.prepare_nv12 = prep
    try:
        return evaluate(model, data, progress=False, workers=1).top1
    finally:
        nv12.prepare_nv12 = board


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=2.0, help="seconds per measured pair (default 2)")
    p.add_argument("--size", type=int, default=224, help="model input side (default 224)")
    p.add_argument("--model", help="NV12 board-model ONNX for the top-1 comparison (needs --data)")
    p.add_argument("--data", help="ImageFolder (val/ split when present) for --model")
    args = p.parse_args(argv)
    size = (args.size, args.size)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads); output {args.size}x{args.size}; "
          f"{args.seconds:g} s per pair, ratio = median of per-round (ours / native) time")
    print(f"{'frame':16s} {'native':>8s} {'full':>8s} {'ratio':>6s} {'limited':>8s} {'ratio':>6s} "
          f"{'no AA':>6s} {'RGB route':>9s} {'old':>6s} {'NV12 in':>8s} {'ratio':>6s} {'read once':>9s}")
    worst = 0.0
    for name, rgb in frames():
        h, w = rgb.shape[:2]
        cam = nv12.rgb_to_nv12(rgb[: h // 2 * 2, : w // 2 * 2], "full")
        ch, cw = h // 2 * 2, w // 2 * 2

        def native():
            return cv2.cvtColor(cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_LINEAR), cv2.COLOR_RGB2YUV_I420)

        t_nat, t_full, r_full, _ = paired(native, lambda: nv12.prepare_nv12(rgb, size, "full"), args.seconds)
        _, t_lim, r_lim, _ = paired(native, lambda: nv12.prepare_nv12(rgb, size, "limited"), args.seconds)
        _, _, r_plain, _ = paired(native, lambda: nv12.prepare_nv12(rgb, size, "full", antialias=False),
                                  args.seconds / 2)
        _, _, r_rgb, _ = paired(native, lambda: nv12.rgb_to_nv12(board_resize(rgb, size), "full"), args.seconds / 2)
        _, _, r_old, _ = paired(native, lambda: nv12.rgb_to_nv12(
            cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_AREA), "full"), args.seconds / 2)
        _, t_cam, r_cam, _ = paired(native, lambda: nv12.resize_nv12(cam, ch, cw, size, "full"), args.seconds)
        _, _, r_copy, _ = paired(native, rgb.copy, args.seconds / 2)
        worst = max(worst, r_full, r_lim)
        print(f"{name:16s} {t_nat * 1e3:6.3f}ms {t_full * 1e3:6.3f}ms {r_full:6.2f} {t_lim * 1e3:6.3f}ms {r_lim:6.2f} "
              f"{r_plain:6.2f} {r_rgb:9.2f} {r_old:6.2f} {t_cam * 1e3:6.3f}ms {r_cam:6.2f} {r_copy:9.2f}", flush=True)
    threads = cv2.getNumThreads()
    if threads > 1:  # the halvings are parallel work; native's small resize barely is
        name, rgb = frames()[-1]
        print(f"\nOpenCV threads, {name} (median ms per call):")
        for n in (1, threads):
            cv2.setNumThreads(n)
            t_nat, t_full, r, _ = paired(
                lambda: cv2.cvtColor(cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_LINEAR), cv2.COLOR_RGB2YUV_I420),
                lambda: nv12.prepare_nv12(rgb, size, "full"), args.seconds / 2)
            print(f"  {n} thread{'s' if n > 1 else ' '}  native {t_nat * 1e3:6.3f}ms  full {t_full * 1e3:6.3f}ms  ratio {r:5.2f}")
        cv2.setNumThreads(threads)
    print()
    print("anti-aliasing: mean |error| of the board path's luma, in levels, against INTER_AREA (exact box filter); "
          "lower is better")
    print(f"{'frame':16s} {'zone plate AA':>14s} {'no AA':>7s}   {'photo AA':>9s} {'no AA':>7s}")
    for name, rgb in frames():
        zp_aa, zp_plain = area_error(zone_plate(*rgb.shape[:2]), size)
        ph_aa, ph_plain = area_error(rgb, size)
        print(f"{name:16s} {zp_aa:14.2f} {zp_plain:7.2f}   {ph_aa:9.2f} {ph_plain:7.2f}")
    if args.model:
        if not args.data:
            print("error: --model needs --data", file=sys.stderr)
            return 2
        print()
        print(f"top-1 of {Path(args.model).name} on {args.data}: " + ", ".join(
            f"{label} {top1(args.model, args.data, how):.2f} %" for how, label in
            (("board", "board path"), ("rgb", "RGB route"), ("plain", "bilinear only"),
             ("area", "INTER_AREA (old)"))))
    print()
    print(f"target: full and limited within {TARGET}x of OpenCV native: {'met' if worst <= TARGET else 'MISSED'}")
    print(f"worst ratio to OpenCV native: {worst:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

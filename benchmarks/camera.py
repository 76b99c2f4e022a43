"""CPU time per camera frame: NV12 from the camera's hardware scaler vs a CPU resize from 1080p, in one run.

    python benchmarks/camera.py [--seconds 2] [--size 224]

What the CPU does per frame before the model runs, for a ``--size`` NV12 model (full range), on the same
1080p scene (a photo with fine detail, stretched to 1920x1080):

* **scaler NV12**: an RDK MIPI camera asked for the model's size (``libsrcampy`` ``open_cam(..., [W], [H])``):
  ``get_img`` returns the NV12 bytes and ``helpers.board.camera.frame_feed`` hands them over as they are.
  Timed: the bytes -> array wrap and ``frame_feed`` (the copy out of the camera buffer that ``get_img``
  makes in C is not Python's work and is not counted here);
* **NV12 1080p, CPU resize**: the camera gives 1920x1080 NV12 and the CPU resizes its planes
  (``helpers.board.nv12.resize_nv12``, our anti-aliased path);
* **BGR 1080p, board path**: a USB camera's 1080p BGR frame through the board pre-processing
  (``prepare_nv12`` of the RGB view, what ``Classifier.prepare`` does);
* **BGR 1080p, OpenCV native**: ``cv2.resize(INTER_LINEAR)`` + ``cv2.cvtColor(COLOR_BGR2YUV_I420)``, the
  reference (no anti-aliasing, limited range).

Each path is timed against the scaler path with calls alternated (``benchmarks/inference.py`` ``paired``);
the ratios are medians of per-round ratios, so load from other processes hits both sides alike. The last
line is the figure we track: the board path's CPU time over the scaler path's.
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
from helpers.board.camera import Frame, frame_feed  # noqa: E402
from helpers.board.image import load_image, sample_images  # noqa: E402
from inference import paired  # noqa: E402  (benchmarks/inference.py, next to this file)


class _Nv12Model:
    """What frame_feed needs of a Classifier for an NV12 model (no runtime: only the CPU side is timed)."""

    kind = "nv12"
    yuv_range = "full"

    def __init__(self, size):
        self.size = size

    def nv12_feed(self, frame, height, width, frame_range=None):
        return nv12.resize_nv12(frame, height, width, self.size, frame_range or "full", "full")

    def prepare(self, rgb):
        class P:
            feed = nv12.prepare_nv12(rgb, self.size, "full")
        return P


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=2.0, help="seconds per measured pair (default 2)")
    p.add_argument("--size", type=int, default=224, help="model input side (default 224)")
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.size < 16 or args.size % 2:
        print("error: --seconds must be > 0 and --size an even number >= 16", file=sys.stderr)
        return 2
    size = (args.size, args.size)
    scene = load_image(sample_images()[4])                       # fine detail
    rgb1080 = cv2.resize(scene, (1920, 1080), interpolation=cv2.INTER_AREA)
    bgr1080 = np.ascontiguousarray(rgb1080[:, :, ::-1])
    nv1080 = nv12.rgb_to_nv12(rgb1080, "full")
    small = nv12.prepare_nv12(rgb1080, size, "full")           # what the scaler would deliver
    small_bytes = small.tobytes()
    model = _Nv12Model(size)

    def scaler():
        data = np.frombuffer(small_bytes, np.uint8)
        return frame_feed(model, Frame(data, "nv12", size[1], size[0]))

    def nv12_cpu():
        return frame_feed(model, Frame(nv1080, "nv12", 1920, 1080))

    def board_path():
        return frame_feed(model, Frame(bgr1080, "bgr", 1920, 1080))

    def native():
        return cv2.cvtColor(cv2.resize(bgr1080, size[::-1], interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2YUV_I420)

    assert scaler().size == nv12_cpu().size == board_path().size == native().size
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads); model input {size[1]}x{size[0]} NV12")
    print(f"{'path':28s} {'ms/frame':>10s} {'vs scaler':>10s}")
    rows = []
    for name, fn in (("NV12 1080p, CPU resize", nv12_cpu), ("BGR 1080p, board path", board_path),
                     ("BGR 1080p, OpenCV native", native)):
        t_scaler, t_cpu, ratio, _ = paired(scaler, fn, args.seconds)
        rows.append((name, t_cpu, ratio))
    print(f"{'scaler NV12 (no CPU resize)':28s} {t_scaler * 1e3:>10.4f} {1.0:>9.0f}x")
    for name, t, ratio in rows:
        print(f"{name:28s} {t * 1e3:>10.4f} {ratio:>9.0f}x")
    print(f"CPU time per frame, board path from 1080p / scaler NV12: {rows[1][2]:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
